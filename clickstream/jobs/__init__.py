"""Batch entry points the Airflow DAGs call: adapters at the edges, pure steps in between.

Import the job modules directly (`from clickstream.jobs.compact import compact_interval`);
this package imports nothing, so a DAG file that imports it stays cheap to parse.
"""
