"""The event-source-mapping stand-in's on-failure destination: the dead-letter queue (SQS
`settings.names.dead_letter_queue`), which on AWS the mapping itself writes to.

A batch that exhausted its retries is described in one message (the shard or partitions, the
first and last positions, the reason: see `event_source_mapping.failures`), like a Lambda event
source mapping's on-failure destination; the records stay on the stream.
"""

from __future__ import annotations

from typing import Any

import orjson
from botocore.exceptions import BotoCoreError, ClientError

from clickstream.adapters.aws_errors import error_code, translate
from clickstream.errors import RetryableError

SQS_MESSAGE_MAX_BYTES = 256 * 1024  # SQS: 256 KiB per message


class DeadLetterQueue:
    def __init__(self, name: str, *, client: Any) -> None:
        self.name = name
        self._client = client
        self._url: str | None = None

    @property
    def url(self) -> str:
        if self._url is None:
            try:
                self._url = str(self._client.get_queue_url(QueueName=self.name)["QueueUrl"])
            except ClientError as exc:
                what = f"dead-letter queue {self.name}"
                # A missing queue is a ConfigError; any other refusal, not only throttling, is retryable.
                raise translate(exc, what=what) or RetryableError(f"{what}: {error_code(exc)}") from exc
        return self._url

    def send(self, message: dict[str, Any]) -> str:
        """Send one JSON message; returns its MessageId. Raises RetryableError when SQS does not take it."""
        body = orjson.dumps(message).decode()
        if len(body.encode()) > SQS_MESSAGE_MAX_BYTES:
            raise ValueError(f"a dead-letter message of {len(body)} bytes exceeds the SQS limit")
        try:
            resp = self._client.send_message(QueueUrl=self.url, MessageBody=body)
        except ClientError as exc:  # any refusal, not only throttling (see the docstring)
            raise RetryableError(f"dead-letter queue {self.name}: {error_code(exc)}") from exc
        except BotoCoreError as exc:
            raise RetryableError(f"dead-letter queue {self.name}: {exc}") from exc
        return str(resp["MessageId"])
