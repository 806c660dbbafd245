"""clickstream: an open-source clickstream analytics platform (Lambda architecture on AWS-compatible services)."""

__version__ = "0.1.0"
