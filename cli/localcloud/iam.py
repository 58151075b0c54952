"""Each function calls AWS as its own role, and IAM says no where AWS would.

Every function's workers hold credentials of a session of the role the template gives it (moto's
STS). Each request signed with such a session is evaluated here, in the moto server, before moto
answers it: the IAM action and the resource ARN(s) it touches are worked out from the request
(iam_requests.py), then the role's policies decide, with a KMS key's own policy for key use. A
request nothing allows is refused with AccessDenied, as AWS would. Requests signed otherwise (the
operator's CLI, the tests, moto's own) are not evaluated.

moto checks IAM itself only when told to for every caller, and then for most services against the
resource "*", with conditions read as a deny; hence an evaluation here, with moto's error types.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import re
import threading
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from moto.core.exceptions import AccessDeniedError, JsonRESTError
from moto.iam.models import iam_backends
from moto.kms.models import kms_backends
from moto.s3.exceptions import S3AccessDeniedError

from localcloud.iam_requests import Request
from localcloud.names import ACCOUNT_ID


@dataclass(frozen=True)
class Session:
    function: str
    role_name: str
    role_arn: str

    @property
    def arn(self) -> str:
        return f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{self.role_name}/{self.function}"


class Enforcer:
    """The sessions of the functions' roles, and what each was allowed and refused."""

    def __init__(self, region: str) -> None:
        self.region = region
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self._decisions: dict[tuple[str, tuple[str, ...], Request], bool] = {}
        self.used: dict[str, set[tuple[str, str]]] = defaultdict(set)  # role -> {(action, resource)}
        self.refused: list[tuple[str, Request]] = []

    def credentials(self, sts: Any, function: str, role_arn: str) -> dict[str, str]:
        """Credentials of a fresh session of `role_arn` for `function`'s workers."""
        found = sts.assume_role(RoleArn=role_arn, RoleSessionName=function[:64])["Credentials"]
        with self._lock:
            self._sessions[found["AccessKeyId"]] = Session(function, role_arn.rsplit("/", 1)[1], role_arn)
        return {"AWS_ACCESS_KEY_ID": found["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": found["SecretAccessKey"],
                "AWS_SESSION_TOKEN": found["SessionToken"]}

    def session_of(self, authorization: str) -> Session | None:
        """The function session that signed a request: in its Authorization header, or a presigned URL's
        X-Amz-Credential (pass "Credential=" + that)."""
        match = re.search(r"Credential=([^/]+)/", authorization or "")
        return self._sessions.get(match.group(1)) if match else None

    # -- evaluation -----------------------------------------------------------------------------
    def allowed(self, session: Session, request: Request, identity: list[dict[str, Any]]) -> bool:
        """Whether `request` is allowed to the session, given its role's policy statements (`identity`)."""
        if request.action.startswith("kms:") and request.resource.startswith("arn:aws:kms:"):
            key = _key_statements(request.resource, self.region)
            direct = _decide(key, request, principal=session.role_arn)
            delegated = _decide(key, request, principal=f"arn:aws:iam::{ACCOUNT_ID}:root")
            own = _decide(identity, request)
            if "Deny" in (direct, own):
                return False
            return direct == "Allow" or (delegated == "Allow" and own == "Allow")
        return _decide(identity, request) == "Allow"

    def check(self, session: Session, requests: list[Request], protocol: str) -> None:
        """Refuse the first request nothing allows, in the error format of the service's `protocol`."""
        documents = _role_documents(session.role_name)  # read once for all the request's authorisations
        for request in requests:
            if self._allowed_before(session, documents, request):
                with self._lock:
                    self.used[session.role_name].add((request.action, request.resource))
                continue
            with self._lock:
                self.refused.append((session.function, request))
            if protocol == "s3":
                raise S3AccessDeniedError()
            if protocol == "query":
                raise AccessDeniedError(user_arn=session.arn, action=f"{request.action} on resource: "
                                                                     f"{request.resource}")
            raise JsonRESTError("AccessDeniedException", f"User: {session.arn} is not authorized to perform: "
                                f"{request.action} on resource: {request.resource} because no identity-based "
                                "policy allows the action")

    def _allowed_before(self, session: Session, documents: tuple[str, ...], request: Request) -> bool:
        """`allowed`, decided once for the same role policies (their texts: a changed policy is decided
        anew) and the same request; KMS requests each time (a key's policy may change too)."""
        identity = [statement for document in documents for statement in _parsed(document)]
        if request.action.startswith("kms:"):
            return self.allowed(session, request, identity)
        key = (session.role_arn, documents, request)
        with self._lock:
            known = self._decisions.get(key)
        if known is None:
            known = self.allowed(session, request, identity)
            with self._lock:
                self._decisions[key] = known
        return known

    def unused(self, role_name: str) -> list[str]:
        """What the role's policies allow that no request of its functions used: "Sid: action on resource"."""
        with self._lock:
            used = set(self.used[role_name])
        found = []
        for statement in _role_statements(role_name):
            if statement["Effect"] != "Allow":
                continue
            if "NotAction" in statement or "NotResource" in statement:
                found.append(f"{statement.get('Sid', '')}: NotAction/NotResource grants more than anyone can use")
                continue
            actions, resources = _listed(statement.get("Action", [])), _listed(statement.get("Resource", []))
            hits = [(a, r) for a in actions for r in resources
                    if any(fnmatch.fnmatchcase(x.lower(), a.lower()) and _arn_like(y, r) for x, y in used)]
            # A statement grants each of its actions on each of its resources: an action used on none of
            # them, or a resource no action used, is more than the code needs.
            found += [f"{statement.get('Sid', '')}: {a} on {resources}" for a in actions
                      if not any(h[0] == a for h in hits)]
            found += [f"{statement.get('Sid', '')}: {actions} on {r}" for r in resources
                      if not any(h[1] == r for h in hits)]
        return found + self._unused_by_key_policies(role_name, used)

    def _unused_by_key_policies(self, role_name: str, used: set[tuple[str, str]]) -> list[str]:
        """What KMS key policies grant the role by name that it never used on that key (a key policy grant
        is as much a grant as an IAM statement)."""
        role_arn = f"arn:aws:iam::{ACCOUNT_ID}:role/{role_name}"
        found = []
        for key in list(kms_backends[ACCOUNT_ID][self.region].keys.values()):
            for statement in _statements(key.policy):
                if statement.get("Effect") != "Allow" or role_arn not in _principals(statement):
                    continue
                found += [f"{statement.get('Sid', '')} (the key policy of {key.arn}): {a}"
                          for a in _listed(statement.get("Action", []))
                          if not any(fnmatch.fnmatchcase(x.lower(), a.lower()) and y == key.arn for x, y in used)]
        return found


def _role_statements(role_name: str) -> list[dict[str, Any]]:
    return [statement for document in _role_documents(role_name) for statement in _parsed(document)]


def _role_documents(role_name: str) -> tuple[str, ...]:
    return tuple(iam_backends[ACCOUNT_ID]["aws"].get_role(role_name).policies.values())


@functools.lru_cache(maxsize=1024)
def _parsed(document: str) -> tuple[dict[str, Any], ...]:
    """A policy document's statements, parsed once per text."""
    return tuple(_statements(document))


def _key_statements(key_arn: str, region: str) -> list[dict[str, Any]]:
    key = kms_backends[ACCOUNT_ID][region].describe_key(key_arn)
    return _statements(key.policy)


def _statements(document: str | dict[str, Any]) -> list[dict[str, Any]]:
    found = (json.loads(document) if isinstance(document, str) else document).get("Statement", [])
    return found if isinstance(found, list) else [found]


def _listed(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _decide(statements: list[dict[str, Any]], request: Request, principal: str | None = None) -> str | None:
    """"Deny" if a statement denies, else "Allow" if one allows, else None (implicitly denied)."""
    outcome = None
    for statement in statements:
        if principal is not None and not _names(_principals(statement), principal):
            continue
        if not _applies(statement, request):
            continue
        if statement["Effect"] == "Deny":
            return "Deny"
        outcome = "Allow"
    return outcome


def _principals(statement: dict[str, Any]) -> list[str]:
    found = statement.get("Principal", {})
    return _listed(found.get("AWS", [])) if isinstance(found, dict) else _listed(found)


def _names(principals: list[str], principal: str) -> bool:
    return "*" in principals or principal in principals


def _applies(statement: dict[str, Any], request: Request) -> bool:
    if "Action" in statement:
        action_ok = any(fnmatch.fnmatchcase(request.action.lower(), a.lower()) for a in _listed(statement["Action"]))
    else:
        action_ok = not any(fnmatch.fnmatchcase(request.action.lower(), a.lower())
                            for a in _listed(statement.get("NotAction", [])))
    if not action_ok:
        return False
    if "Resource" in statement:
        resource_ok = any(_arn_like(request.resource, r) for r in _listed(statement["Resource"]))
    else:
        resource_ok = not any(_arn_like(request.resource, r) for r in _listed(statement.get("NotResource", [])))
    return resource_ok and _conditions_hold(statement.get("Condition", {}), request.context)


def _arn_like(value: str, pattern: str) -> bool:
    return pattern == "*" or fnmatch.fnmatchcase(value, pattern)


def _conditions_hold(conditions: dict[str, Any], context: tuple[tuple[str, str], ...]) -> bool:
    """Every condition block holds (missing keys fail, but for ...IfExists). A key the request gives several
    values (ses:Recipients) is tested value by value under ForAllValues: (every one, and a missing key holds)
    or ForAnyValue: (at least one)."""
    values: dict[str, list[str]] = {}
    for key, value in context:  # condition keys ignore case
        values.setdefault(key.lower(), []).append(value)
    for operator, tests in conditions.items():
        qualifier, _, plain = operator.rpartition(":")
        if_exists = plain.endswith("IfExists")
        base = plain.removesuffix("IfExists")
        for key, expected in tests.items():
            found = values.get(key.lower())
            if qualifier == "ForAllValues":
                if found and not all(_compare(base, value, _listed(expected)) for value in found):
                    return False
                continue
            if qualifier == "ForAnyValue":
                if not found or not any(_compare(base, value, _listed(expected)) for value in found):
                    return False
                continue
            if qualifier:
                raise NotImplementedError(f"the local cloud's IAM does not evaluate the {qualifier} qualifier")
            if found is None:
                if if_exists or base.startswith(("StringNot", "ArnNot")):  # a negation holds on a missing key
                    continue
                return False
            if not _compare(base, found[0], _listed(expected)):
                return False
    return True


def _compare(operator: str, actual: str, expected: list[str]) -> bool:
    if operator in ("StringEquals", "ArnEquals"):
        return actual in expected
    if operator == "StringEqualsIgnoreCase":
        return actual.lower() in [e.lower() for e in expected]
    if operator in ("StringLike", "ArnLike"):
        return any(fnmatch.fnmatchcase(actual, e) for e in expected)
    if operator in ("StringNotEquals", "ArnNotEquals"):
        return actual not in expected
    if operator in ("StringNotLike", "ArnNotLike"):
        return not any(fnmatch.fnmatchcase(actual, e) for e in expected)
    if operator == "Bool":
        return actual.lower() in [e.lower() for e in expected]
    raise NotImplementedError(f"the local cloud's IAM does not evaluate the {operator} condition operator")
