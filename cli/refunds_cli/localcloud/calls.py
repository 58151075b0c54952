"""What each function's code calls, as IAM would authorise it.

Every AWS request a function's code makes is told to the local cloud before it leaves (see
bootstrap.py); the local cloud records its IAM action here, per function. The tests hold each role to
exactly these actions: nothing granted that the code never calls, nothing called that the role does
not grant.
"""

from __future__ import annotations

import threading
from collections import defaultdict

CALLS: dict[str, set[str]] = defaultdict(set)  # function name -> {"dynamodb:PutItem", ...}
_LOCK = threading.Lock()
# Requests whose IAM action is not `<signing name>:<operation>`.
_ACTIONS = {
    "s3:HeadObject": ("s3:GetObject",),
    "s3:ListObjectsV2": ("s3:ListBucket",),
    "s3:CopyObject": ("s3:GetObject", "s3:PutObject"),  # read the source, write the copy
    "dynamodb:TransactWriteItems": ("dynamodb:PutItem",),  # each item is authorised as its own action: puts here
}


def actions_for(service: str, operation: str) -> tuple[str, ...]:
    """The IAM actions of one API operation (`service` is the signing name: "s3", "states", ...)."""
    action = f"{service}:{operation}"
    return _ACTIONS.get(action, (action,))


def record(function: str, actions: tuple[str, ...]) -> None:
    with _LOCK:
        CALLS[function].update(actions)
