"""One Lambda execution environment in a clean interpreter, for the rehearsal.

    python -I -S runtime.py <task root> <runtime dir> <module.function> <timeout seconds>

`-I -S`: no site-packages, no user site, no PYTHON* variables, not even this file's folder on the
path. The path is what Lambda's is: the function's code first (`/var/task`, here the bundle),
then the runtime's own packages (`/var/runtime`: boto3 and botocore, which no bundle carries).
So an import the bundle lacks fails here as it would in AWS.

The environment variables are the caller's: the template's, plus those Lambda itself sets. The
handler is imported once and called once per request, so module state lives across
invocations as in a warm execution environment. Requests are JSON lines on stdin
(`{"event": ...}`); each answer is one JSON line on the original stdout: `{"result": ...}` or
`{"error": {...}}` (what Lambda reports as an unhandled function error), with the duration and
whether it ran past the function's timeout. The function's own output (its logs) goes to
stderr, where the caller collects it as CloudWatch Logs would.

This file imports nothing from the repository: it must run on the bundle alone.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
import uuid


class Context:
    """The context object Lambda passes: the attributes handlers and Powertools read."""

    def __init__(self, timeout_s: float) -> None:
        name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        region = os.environ["AWS_REGION"]
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:123456789012:function:{name}"
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", f"/aws/lambda/{name}")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "rehearsal")
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def main(argv: list[str]) -> int:
    task_root, runtime_dir, handler_name, timeout = argv[1], argv[2], argv[3], float(argv[4])
    sys.path[:0] = [task_root, runtime_dir]
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # the function's prints and logs: stderr, never the answer channel
    sys.stdout = sys.stderr
    module_name, _, function_name = handler_name.rpartition(".")
    try:
        handler = getattr(importlib.import_module(module_name), function_name)
    except Exception as exc:
        failure = {"type": "Runtime.ImportModuleError", "message": f"{type(exc).__name__}: {exc}"}
        for _ in sys.stdin:
            answers.write(json.dumps({"error": failure, "duration_ms": 0, "timed_out": False}) + "\n")
        return 0
    for line in sys.stdin:
        event = json.loads(line)["event"]
        os.environ["_X_AMZN_TRACE_ID"] = f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Sampled=0"
        context = Context(timeout)
        started = time.monotonic()
        answer: dict[str, object]
        try:
            answer = {"result": handler(event, context)}
        except Exception as exc:
            answer = {"error": {"type": type(exc).__name__, "message": str(exc), "trace": traceback.format_exc()}}
        elapsed = time.monotonic() - started
        answer |= {"duration_ms": round(elapsed * 1000, 1), "timed_out": elapsed > timeout}
        answers.write(json.dumps(answer, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
