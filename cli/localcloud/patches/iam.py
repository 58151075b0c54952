"""Where moto would answer a request signed by a function's session, IAM decides first (iam.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto.core.authorization import ActionAuthenticatorMixin

from localcloud.iam import Enforcer
from localcloud.iam_requests import requests_of
from localcloud.meter import Meter

_QUERY_PROTOCOL = {"ses", "sts", "iam", "sns", "cloudwatch"}  # XML errors; the others answer in JSON


@contextmanager
def enforced(enforcer: Enforcer, meter: Meter | None = None) -> Iterator[None]:
    """Fidelity: evaluate every request signed by a function's session while the `with` lasts, as IAM
    would (moto checks only when told to for every caller, mostly against the resource "*"); and count
    it on `meter` under the function, as the operation IAM authorised (what AWS bills)."""
    original = ActionAuthenticatorMixin._authenticate_and_authorize_action

    def authorize(self: Any, iam_request_cls: type, resource: str = "*") -> None:
        presigned = self.querystring.get("X-Amz-Credential", [""])[0] if isinstance(self.querystring, dict) else ""
        signature = self.headers.get("Authorization") or (f"Credential={presigned}," if presigned else "")
        session = enforcer.session_of(signature)
        if session is None:
            return original(self, iam_request_cls, resource)
        scope = re.search(r"Credential=[^/]+/[^/]+/([^/]+)/([^/]+)/", signature)
        region, service = (scope.group(1), scope.group(2)) if scope else (enforcer.region, "*")
        requests = requests_of(self, service, self._get_action(), resource, region)
        protocol = "s3" if service == "s3" else "query" if service in _QUERY_PROTOCOL else "json"
        enforcer.check(session, requests, protocol)
        if meter is not None:
            meter.request(session.function, requests[0].action if requests else f"{service}:{self._get_action()}")
        return None

    ActionAuthenticatorMixin._authenticate_and_authorize_action = authorize  # type: ignore[method-assign]
    try:
        yield
    finally:
        ActionAuthenticatorMixin._authenticate_and_authorize_action = original  # type: ignore[method-assign]
