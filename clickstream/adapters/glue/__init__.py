"""The lake's tables: their Glue Data Catalog entries (`GlueCatalog`), the day partitions written
in place (`MetricPartitions`, the reconciliation table's) and `glue_type` for metric columns.
"""

from clickstream.adapters.glue.catalog import GlueCatalog, glue_catalog
from clickstream.adapters.glue.metric_partitions import MetricPartitions, glue_type

__all__ = ["GlueCatalog", "MetricPartitions", "glue_catalog", "glue_type"]
