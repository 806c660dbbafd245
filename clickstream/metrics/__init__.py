"""Metric definitions, event-time windows, aggregation, sketches and the live feed's lists. Pure: no I/O,
no env, no clock.

The speed layer (`clickstream.speed`) and the batch layer use these same definitions.
"""
