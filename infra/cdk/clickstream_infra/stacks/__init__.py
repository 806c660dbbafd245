"""One stack per layer. Stacks refer to each other's resources by name (see `arns.py`) and declare
the deploy order with `add_dependency`; no CloudFormation exports, except the API id that the
observability stack's alarms need."""
