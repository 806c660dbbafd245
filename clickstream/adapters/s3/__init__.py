"""S3: the lake bucket's objects. NDJSON.gz verbs (`LakeBucket`, the raw archive's and the stores'),
the per-request stores of bad rows and identities, and the compaction job's object operations
(`LakeObjects`). The Parquet partitions of the metric tables are `clickstream.adapters.glue`'s:
they need pyarrow, which the collector and stream-processor Lambdas that import this package
do not bundle.
"""

from clickstream.adapters.s3.bad_rows import BadRowsStore, RequestRowsStore
from clickstream.adapters.s3.identities import RAW_IDENTITIES_PREFIX, IdentitiesStore
from clickstream.adapters.s3.lake_bucket import LakeBucket, lake_bucket
from clickstream.adapters.s3.lake_objects import ArchivedObjectError, LakeObjects, lake_objects

__all__ = [
    "RAW_IDENTITIES_PREFIX",
    "ArchivedObjectError",
    "BadRowsStore",
    "IdentitiesStore",
    "LakeBucket",
    "LakeObjects",
    "RequestRowsStore",
    "lake_bucket",
    "lake_objects",
]
