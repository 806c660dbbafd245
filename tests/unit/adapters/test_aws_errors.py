"""AWS error codes read in one place, and turned into RetryableError, ConfigError or the ClientError itself."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from clickstream.adapters.aws_errors import RETRYABLE_CODES, error_code, is_transient, raise_clean, translate
from clickstream.adapters.dynamodb import call
from clickstream.emulated.event_source_mapping.kinesis_shards import KinesisShards
from clickstream.errors import ConfigError, RetryableError, StreamUnavailableError


def client_error(code: str | None, status: int = 400, operation: str = "PutItem") -> ClientError:
    error = {} if code is None else {"Code": code, "Message": "..."}
    return ClientError({"Error": error, "ResponseMetadata": {"HTTPStatusCode": status}}, operation)


class FailingClient:
    """A boto3 client whose every operation raises `exc`."""

    def __init__(self, exc: Exception) -> None:
        self._exc = exc

    def __getattr__(self, operation: str) -> Callable[..., Any]:
        def fail(**kwargs: Any) -> Any:
            raise self._exc

        return fail


def test_the_code_is_read_from_the_response() -> None:
    assert error_code(client_error("ThrottlingException")) == "ThrottlingException"


@pytest.mark.parametrize("response", [{}, {"Error": {}}, {"Error": {"Message": "no code"}}])
def test_a_response_without_a_code_reads_as_empty(response: dict[str, Any]) -> None:
    assert error_code(ClientError(response, "GetItem")) == ""  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "code",
    [
        "ProvisionedThroughputExceededException",  # DynamoDB, Kinesis
        "ThrottlingException",
        "LimitExceededException",  # Kinesis
        "KMSThrottlingException",  # Kinesis
        "SlowDown",  # S3
        "TransactionConflictException",  # DynamoDB
        "InternalFailure",
        "InternalServerError",
        "ServiceUnavailable",
        "RequestTimeoutException",
    ],
)
def test_throttling_and_service_failures_are_retryable(code: str) -> None:
    # GIVEN a code some adapter used to retry on its own list
    exc = client_error(code)
    # THEN the one set, is_transient and translate all agree it is worth another attempt
    assert code in RETRYABLE_CODES
    assert is_transient(exc)
    assert isinstance(translate(exc, what="table t"), RetryableError)


@pytest.mark.parametrize(
    "code",
    ["ConditionalCheckFailedException", "ValidationException", "AccessDeniedException", "ResourceNotFoundException"],
)
def test_refusals_that_a_retry_will_not_fix_are_not_retryable(code: str) -> None:
    assert code not in RETRYABLE_CODES
    assert not is_transient(client_error(code))


def test_an_unknown_5xx_is_transient_for_the_services_but_not_translated() -> None:
    exc = client_error("SomethingNew", status=503)
    assert is_transient(exc)
    assert translate(exc, what="table t") is None


def test_a_retryable_code_becomes_retryable_error_naming_what_and_the_code() -> None:
    clean = translate(client_error("ProvisionedThroughputExceededException"), what="table checkpoints")
    assert type(clean) is RetryableError
    assert str(clean) == "table checkpoints: ProvisionedThroughputExceededException"


@pytest.mark.parametrize("code", ["ResourceNotFoundException", "AWS.SimpleQueueService.NonExistentQueue"])
def test_a_missing_resource_becomes_a_config_error_that_says_what_to_do(code: str) -> None:
    clean = translate(client_error(code), what="table checkpoints")
    assert isinstance(clean, ConfigError)
    assert str(clean) == "table checkpoints does not exist: provision the stack (`clickstream local up`)"


@pytest.mark.parametrize("code", ["ConditionalCheckFailedException", "ValidationException", None])
def test_any_other_code_passes_through(code: str | None) -> None:
    exc = client_error(code)
    assert translate(exc, what="table t") is None
    with pytest.raises(ClientError) as raised:
        raise_clean(exc, what="table t")
    assert raised.value is exc


def test_raise_clean_chains_the_client_error() -> None:
    exc = client_error("ThrottlingException")
    with pytest.raises(RetryableError, match=r"^table t: ThrottlingException$") as raised:
        raise_clean(exc, what="table t")
    assert raised.value.__cause__ is exc


# --- call sites that keep their own rule -----------------------------------------------------


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("TransactionConflictException", RetryableError),
        ("ResourceNotFoundException", ConfigError),
        ("ConditionalCheckFailedException", ClientError),
    ],
)
def test_dynamodb_call_translates(code: str, expected: type[Exception]) -> None:
    with pytest.raises(expected) as raised:
        call(FailingClient(client_error(code)), "update_item", what="lease table t", TableName="t")
    assert type(raised.value) is expected


def test_kinesis_shards_say_a_missing_stream_is_unavailable_not_misconfigured() -> None:
    shards = KinesisShards("clicks", client=FailingClient(client_error("ResourceNotFoundException")))
    with pytest.raises(StreamUnavailableError, match="stream clicks: list_shards: ResourceNotFoundException"):
        shards.list_shards()


@pytest.mark.parametrize(
    ("code", "throttled"), [("ProvisionedThroughputExceededException", True), ("InternalFailure", False)]
)
def test_kinesis_shards_report_a_read_throttle_and_raise_a_service_failure(code: str, throttled: bool) -> None:
    shards = KinesisShards("clicks", client=FailingClient(client_error(code, operation="GetRecords")))
    if throttled:
        assert shards.read("it-1").throttled
    else:
        with pytest.raises(RetryableError, match=f"stream clicks: GetRecords: {code}"):
            shards.read("it-1")
