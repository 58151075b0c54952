"""What each function's code calls, as IAM would authorise it.

The local cloud records, per function, the IAM action of every AWS request its handler makes
(the thread that runs a handler is marked with its function while it runs). The tests hold each
role to exactly these actions: nothing granted that the code never calls, nothing called that the
role does not grant.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3

CALLS: dict[str, set[str]] = defaultdict(set)  # function name -> {"dynamodb:PutItem", ...}
_running = threading.local()
# Requests whose IAM action is not `<signing name>:<operation>`.
_ACTIONS = {
    "s3:HeadObject": ("s3:GetObject",),
    "s3:ListObjectsV2": ("s3:ListBucket",),
    "s3:CopyObject": ("s3:GetObject", "s3:PutObject"),  # read the source, write the copy
    "dynamodb:TransactWriteItems": ("dynamodb:PutItem",),  # each item is authorised as its own action: puts here
}


def actions_of(model: Any) -> tuple[str, ...]:
    action = f"{model.service_model.signing_name}:{model.name}"
    return _ACTIONS.get(action, (action,))


@contextmanager
def running(function: str, event: Any = None) -> Iterator[None]:
    """Requests made on this thread, until the end of the `with`, are `function`'s (handling `event`)."""
    before = getattr(_running, "function", None), getattr(_running, "event", None)
    _running.function, _running.event = function, event
    try:
        yield
    finally:
        _running.function, _running.event = before


def current_event() -> Any:
    """The event the handler running on this thread was given."""
    return getattr(_running, "event", None)


def current() -> str | None:
    """The function whose handler runs on this thread, if any."""
    return getattr(_running, "function", None)


def _record(model: Any, **_: Any) -> None:
    function = getattr(_running, "function", None)
    if function is not None:
        CALLS[function].update(actions_of(model))


def install() -> None:
    """Record the requests of every client made from boto3's default session (the functions' own)."""
    if boto3.DEFAULT_SESSION is None:
        boto3.setup_default_session()
    assert boto3.DEFAULT_SESSION is not None
    boto3.DEFAULT_SESSION.events.register("before-call", _record, unique_id="local-cloud-calls")
