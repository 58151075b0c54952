"""moto in this process, in an account of its own.

moto's backends are process globals, and a local cloud started by the integration tests in the same
process keeps its stack in them: these tests neither reset moto nor touch that account."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from moto import mock_aws


@contextmanager
def moto_apart() -> Iterator[Callable[[str], Any]]:
    """Yields a maker of boto3 clients whose requests land in a fresh account of the in-process moto."""
    account = f"{secrets.randbelow(10**11) + 10**11:012d}"

    def in_account(request: Any, **_: Any) -> None:
        request.headers["x-moto-account-id"] = account

    def client(service: str) -> Any:
        made = boto3.client(service, region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")
        made.meta.events.register("before-sign", in_account)
        return made

    mock = mock_aws()
    mock.start(reset=False)
    try:
        yield client
    finally:
        mock.stop(remove_data=False)
