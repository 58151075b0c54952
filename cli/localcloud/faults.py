"""Faults injected into the functions' own AWS calls: the local cloud's chaos switch.

A fault is armed for one function (and one IAM action, or any call): its `at`-th matching call
and the `times - 1` after it fail before they leave the process. A `crash` fails as Lambda reports
a function that died half-way (`Sandbox.Timedout`: everything before that call was written, nothing
after); a `throttle` fails as a throttled service does (a `ThrottlingException` the client has
given up retrying); a `lost` reply lets the request land, drops its answer as a network blip would,
and lets botocore send it again (its retry, as on AWS). The tests use it to hold every step to
finishing what a failed attempt left, and to telling its own landed write from another's.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass


@dataclass
class Fault:
    function: str  # the function's name (its physical name in the local stack)
    at: int  # the first matching call that fails (1 = the first)
    action: str | None = None  # an IAM action ("dynamodb:PutItem"); None: any call
    times: int = 1
    kind: str = "crash"  # or "throttle", or "lost"
    about: str | None = None  # only invocations whose event mentions this (a case id, a file name)
    seen: int = 0  # matching calls so far

    def concerns(self, function: str, about: str) -> bool:
        """Whether this fault is armed for `function` handling an event whose JSON is `about`."""
        return self.function == function and (self.about is None or self.about in about)

    @property
    def fired(self) -> int:
        """How many calls this fault failed."""
        return max(0, min(self.seen - self.at + 1, self.times))


_FAULTS: list[Fault] = []
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


def inject(function: str, at: int, action: str | None = None, times: int = 1, kind: str = "crash",
           about: str | None = None) -> Fault:
    """Arm a fault; it stays armed until `clear()`."""
    fault = Fault(function, at, action, times, kind, about)
    with _LOCK:
        _FAULTS.append(fault)
    return fault


def clear() -> None:
    with _LOCK:
        _FAULTS.clear()


def armed(function: str, event: object) -> bool:
    """Whether a fault may fail a call of `function` handling `event`: when none is, its calls do not
    ask (`decide`), which spares every AWS call a round trip to the local cloud. A fault armed while an
    invocation runs applies from the next one."""
    if not _FAULTS:
        return False
    about = json.dumps(event, default=str)
    with _LOCK:
        return any(fault.concerns(function, about) for fault in _FAULTS)


def decide(function: str, actions: tuple[str, ...], event: object) -> str | None:
    """Whether `function`'s call (its IAM `actions`, while handling `event`) fails: None, "throttle", "lost",
    or the message of a crash."""
    if not _FAULTS:
        return None
    about = json.dumps(event, default=str)
    with _LOCK:
        firing = None
        for fault in _FAULTS:
            if fault.concerns(function, about) and (fault.action is None or fault.action in actions):
                fault.seen += 1
                if fault.at <= fault.seen < fault.at + fault.times:
                    firing = firing or fault
    if firing is None:
        return None
    if firing.kind in ("throttle", "lost"):
        return firing.kind
    return f"injected crash before {actions[0]} (call {firing.seen} of {function})"
