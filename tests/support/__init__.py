"""What the test tiers share: the embedded servers' fixtures (`servers`, a pytest plugin loaded
by tests/conftest.py), free ports, and the helpers of the stream, stack, lake and CDK tests.

Importable as `support` from every tier (`pythonpath = ["tests"]` in pyproject.toml).
"""
