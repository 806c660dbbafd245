"""The lake's tables: their Glue Data Catalog entries (`GlueCatalog`) and the Parquet files behind
the metric tables' day partitions (`MetricPartitions`, `glue_type` for their columns).
"""

from clickstream.adapters.glue.catalog import GlueCatalog, glue_catalog
from clickstream.adapters.glue.metric_partitions import MetricPartitions, glue_type

__all__ = ["GlueCatalog", "MetricPartitions", "glue_catalog", "glue_type"]
