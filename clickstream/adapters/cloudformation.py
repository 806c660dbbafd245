"""Deploy a CloudFormation template idempotently (the embedded stack's provisioning route)."""

from __future__ import annotations

import json
import time
from typing import Any

from botocore.exceptions import ClientError

from clickstream.adapters.aws_errors import error_code
from clickstream.errors import ClickstreamError

_DONE = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"}
_FAILED = {"CREATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "UPDATE_ROLLBACK_FAILED", "DELETE_FAILED"}


class StackDeployer:
    def __init__(self, client: Any) -> None:
        self._client = client

    def deploy(self, stack_name: str, template: dict[str, Any], *, timeout: float = 120.0) -> str:
        """Create or update `stack_name`; returns "created", "updated" or "unchanged"."""
        body = json.dumps(template, sort_keys=True)
        current = self._status(stack_name)
        if current is None:
            self._client.create_stack(StackName=stack_name, TemplateBody=body)
            action = "created"
        elif current in _FAILED:
            raise ClickstreamError(
                f"stack {stack_name} is in state {current}; delete it (`clickstream local down --purge`) and retry"
            )
        elif self._template(stack_name) == template:
            return "unchanged"
        else:
            try:
                self._client.update_stack(StackName=stack_name, TemplateBody=body)
            except ClientError as exc:
                if "No updates are to be performed" in str(exc):
                    return "unchanged"
                raise
            action = "updated"
        self._wait(stack_name, timeout)
        return action

    def _status(self, stack_name: str) -> str | None:
        try:
            stacks = self._client.describe_stacks(StackName=stack_name)["Stacks"]
        except ClientError as exc:
            if error_code(exc) == "ValidationError":  # "Stack ... does not exist"
                return None
            raise
        status = stacks[0]["StackStatus"] if stacks else None
        return None if status == "DELETE_COMPLETE" else status

    def _template(self, stack_name: str) -> dict[str, Any]:
        body = self._client.get_template(StackName=stack_name)["TemplateBody"]
        return body if isinstance(body, dict) else json.loads(body)

    def _wait(self, stack_name: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self._status(stack_name)
            if status in _DONE:
                return
            if status in _FAILED:
                raise ClickstreamError(f"stack {stack_name} failed: {status}")
            time.sleep(0.2)
        raise ClickstreamError(f"stack {stack_name} not ready after {timeout:.0f}s")
