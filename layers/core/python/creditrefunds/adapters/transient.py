"""Errors a retry cures, told apart from errors a person must see.

Each client retries throttling and transient service errors itself (botocore's standard mode:
exponential backoff with jitter, `CLIENT_RETRIES` attempts). What still fails after that leaves
the handler as `TransientError`, which the state machines retry with their own backoff before
anything is recorded FAILED; every other error goes to the history and to operators at once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

CLIENT_RETRIES = 5
# Threads sharing one client (the transaction store's writers) each keep a connection: beyond the
# pool's size urllib3 drops a connection after its request, and the next one opens (TLS on AWS) anew.
CLIENT_CONNECTIONS = 16
CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": CLIENT_RETRIES}, connect_timeout=5,
                       read_timeout=30, max_pool_connections=CLIENT_CONNECTIONS)
# Throttling and service-side errors of DynamoDB, S3, SES, EventBridge, Step Functions, KMS.
TRANSIENT_CODES = frozenset({
    "ProvisionedThroughputExceededException", "ThrottlingException", "Throttling", "ThrottledException",
    "RequestLimitExceeded", "RequestThrottled", "RequestThrottledException", "TooManyRequestsException",
    "SlowDown", "ConditionalRequestConflict", "TransactionConflictException", "LimitExceededException",
    "InternalServerError",
    "InternalFailure", "InternalError", "ServiceUnavailable", "ServiceUnavailableException",
    "InternalServerException", "KMSInternalException", "RequestTimeout", "RequestTimeoutException",
})
Handler = TypeVar("Handler", bound=Callable[..., Any])


class TransientError(Exception):
    """A step failed for a reason a retry cures (the state machines retry this error by name)."""


class Throttled(Exception):
    """A store kept refusing part of a request (throttled, or others writing the same keys) past this call's
    own retries: a later attempt of the step cures it, and the state machines give it minutes, with jitter
    (a new on-demand table takes a large file's first burst at a few thousand writes a second)."""


def is_transient(error: BaseException) -> bool:
    """Throttling, a service's own failure (5xx), or a network error on the way to it."""
    if isinstance(error, Throttled):
        return True
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        return code in TRANSIENT_CODES or status >= 500
    return isinstance(error, ConnectionError | HTTPClientError)


def retryable(handler: Handler) -> Handler:
    """A handler whose transient failures leave it as `TransientError` (the cause chained)."""

    @functools.wraps(handler)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return handler(*args, **kwargs)
        except Exception as error:
            if is_transient(error):
                raise TransientError(f"{type(error).__name__}: {error}") from error
            raise

    return wrapped  # type: ignore[return-value]
