"""The clickstream AWS CDK app: `stacks/` compose `components/` (not named `constructs/`, which
would shadow the `constructs` library when app.py runs from this directory)."""
