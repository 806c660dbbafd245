"""Metric definitions, event-time windows, aggregation and sketches. Pure: no I/O, no env, no clock.

The speed layer (`clickstream.speed`) and the batch layer use these same definitions.
"""
