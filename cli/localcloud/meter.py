"""What the local cloud served the product, counted the way AWS bills it.

Every request a function's session signs is counted by service and operation (the IAM action it needed:
`s3:PutObject`, `kms:Decrypt`, `ses:SendRawEmail`, ...), under the function that made it. DynamoDB's are
also counted in request units, from the items' sizes as DynamoDB sizes them: a write unit per KB written
(two in a transaction), a read unit per 4 KB read (half eventually consistent, two in a transaction), a
Query's or Scan's items summed before rounding up. Lambda is counted in invocations and GB-seconds (the
handler's time, to the millisecond, times its memory), Step Functions in state transitions (each state
entered, and each retry), by state machine.

What is not counted: the product's people and scripts (the CLI, the console's browser), which sign with
their own credentials; KMS calls AWS services make for the functions (S3 and SQS data keys), which
bucket keys and SQS's key reuse keep to a few; CloudWatch Logs and metrics (priced per GB and per metric,
not per request). Local time is the local cloud's: Lambda's GB-seconds here are an upper bound (moto is
slower than DynamoDB).
"""

from __future__ import annotations

import base64
import json
import math
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from moto.dynamodb.responses import DynamoHandler
from moto.stepfunctions.parser.asl.component.state.exec.execute_state import ExecutionState
from moto.stepfunctions.parser.asl.component.state.state import CommonStateField

from localcloud.iam import Enforcer
from localcloud.patches.patching import replaced

OUTSIDE = "(outside)"  # a request no function's session signed: a person, a script, the local cloud itself


@dataclass
class Reading:
    """Counters at one moment; `later - earlier` is what was served between."""

    requests: Counter[tuple[str, str]] = field(default_factory=Counter)  # (who, "service:Operation")
    read_units: Counter[str] = field(default_factory=Counter)  # who -> DynamoDB read request units
    write_units: Counter[str] = field(default_factory=Counter)
    invocations: Counter[str] = field(default_factory=Counter)  # function -> count
    gb_seconds: Counter[str] = field(default_factory=Counter)
    transitions: Counter[str] = field(default_factory=Counter)  # state machine -> count

    def __sub__(self, earlier: Reading) -> Reading:
        return Reading(*(getattr(self, name) - getattr(earlier, name) for name in self._fields()))

    def __add__(self, other: Reading) -> Reading:
        return Reading(*(getattr(self, name) + getattr(other, name) for name in self._fields()))

    @staticmethod
    def _fields() -> tuple[str, ...]:
        return ("requests", "read_units", "write_units", "invocations", "gb_seconds", "transitions")

    def only(self, wanted: Any) -> Reading:
        """The part made by the functions and state machines whose names `wanted(name)` accepts."""
        return Reading(Counter({k: v for k, v in self.requests.items() if wanted(k[0])}),
                       *(Counter({k: v for k, v in getattr(self, name).items() if wanted(k)})
                         for name in self._fields()[1:]))

    def by_service(self) -> Counter[str]:
        """Requests per service:Operation, whoever made them."""
        total: Counter[str] = Counter()
        for (_, operation), count in self.requests.items():
            total[operation] += count
        return total

    def scaled(self, factor: float) -> Reading:
        return Reading(*(Counter({k: v * factor for k, v in getattr(self, name).items()}) for name in self._fields()))


class Meter:
    """The counters, added to by the local cloud's threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._now = Reading()

    def reading(self) -> Reading:
        with self._lock:
            return Reading(*(Counter(getattr(self._now, name)) for name in Reading._fields()))

    def request(self, who: str, operation: str) -> None:
        with self._lock:
            self._now.requests[(who, operation)] += 1

    def units(self, who: str, read: float, write: float) -> None:
        with self._lock:
            self._now.read_units[who] += read  # type: ignore[assignment] # (a Counter adds floats too)
            self._now.write_units[who] += write  # type: ignore[assignment]

    def ran(self, function: str, seconds: float, memory_mb: int) -> None:
        billed = math.ceil(seconds * 1000) / 1000  # Lambda bills each invocation to the millisecond
        with self._lock:
            self._now.invocations[function] += 1
            self._now.gb_seconds[function] += billed * memory_mb / 1024  # type: ignore[assignment]

    def transition(self, state_machine: str) -> None:
        with self._lock:
            self._now.transitions[state_machine] += 1


# -- DynamoDB request units, from the items as DynamoDB sizes them ----------------------------------------

def value_size(value: dict[str, Any]) -> int:
    """Bytes of one attribute value in DynamoDB's JSON (its documented item-size rules)."""
    kind, inner = next(iter(value.items()))
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        digits = inner.lstrip("-").replace(".", "").strip("0") or "0"
        return math.ceil(len(digits) / 2) + 1
    if kind == "B":
        return len(base64.b64decode(inner)) if isinstance(inner, str) else len(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in inner)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + value_size(v) for k, v in inner.items())
    if kind in ("SS", "NS", "BS"):
        return sum(value_size({kind[0]: v}) for v in inner)
    return 1


def item_size(item: dict[str, Any] | None) -> int:
    return sum(len(name.encode()) + value_size(value) for name, value in (item or {}).items())


def write_units(size: int) -> int:
    return max(1, math.ceil(size / 1024))


def read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / 4096))
    return float(units) if consistent else units / 2


def _stored_size(handler: Any, table: str, key: dict[str, Any]) -> int:
    """The size of the item now stored under `key` (an update's: DynamoDB bills the larger of before and after)."""
    try:
        item = handler.dynamodb_backend.get_item(table, key)
    except Exception:  # the table or item is gone (a delete in the same request)
        return 0
    return int(item.size()) if item is not None else 0


def dynamodb_units(handler: Any, action: str, request: dict[str, Any], answer: dict[str, Any],
                   before: int) -> tuple[float, float]:
    """(read units, write units) of one DynamoDB request. `before`: an UpdateItem's item size before it."""
    consistent = bool(request.get("ConsistentRead"))
    if action == "GetItem":
        return read_units(item_size(answer.get("Item")), consistent), 0
    if action in ("Query", "Scan"):
        if "IndexName" in request:
            consistent = False  # a global secondary index is read eventually consistent
        return read_units(sum(item_size(i) for i in answer.get("Items", [])), consistent), 0
    if action == "BatchGetItem":
        return sum(read_units(item_size(i), bool(request["RequestItems"][t].get("ConsistentRead")))
                   for t, items in answer.get("Responses", {}).items() for i in items), 0
    if action == "PutItem":
        return 0, write_units(item_size(request.get("Item")))
    if action == "DeleteItem":
        return 0, write_units(item_size(answer.get("Attributes")) or before)
    if action == "UpdateItem":
        return 0, write_units(max(before, _stored_size(handler, request["TableName"], request["Key"])))
    if action == "BatchWriteItem":
        unprocessed = sum(len(v) for v in answer.get("UnprocessedItems", {}).values())
        written = [write_units(item_size(r["PutRequest"]["Item"])) if "PutRequest" in r else 1
                   for requests in request.get("RequestItems", {}).values() for r in requests]
        return 0, sum(written) - unprocessed
    if action == "TransactWriteItems":
        return 0, sum(2 * write_units(item_size(next(iter(t.values())).get("Item"))) for t in request["TransactItems"])
    if action == "TransactGetItems":
        return sum(2 * read_units(item_size(r.get("Item")), True) for r in answer.get("Responses", [])), 0
    return 0, 0


@contextmanager
def metered(meter: Meter, enforcer: Enforcer) -> Iterator[None]:
    """Count DynamoDB's units and Step Functions' transitions while the `with` lasts (requests are counted
    where IAM decides them, in patches/iam.py; Lambda's time where the local runtime runs a handler)."""
    call_action, enter_state, retry = DynamoHandler.call_action, CommonStateField._eval_body, \
        ExecutionState._handle_retry

    def counted_call(handler: DynamoHandler) -> Any:
        session = enforcer.session_of(handler.headers.get("Authorization", ""))
        action = handler.headers.get("X-Amz-Target", ".").rsplit(".", 1)[-1]
        request = _json(handler.raw_body)
        before = (_stored_size(handler, request["TableName"], request["Key"])
                  if action == "UpdateItem" and "Key" in request else 0)
        status, headers, body = call_action(handler)
        if session is not None and int(status) < 400:
            read, write = dynamodb_units(handler, action, request, _json(body), before)
            meter.units(session.function, read, write)
        elif session is not None and action in ("PutItem", "UpdateItem", "DeleteItem"):
            meter.units(session.function, 0, 1)  # a failed condition still consumes a write unit
        return status, headers, body

    def entered(state: Any, env: Any) -> None:
        meter.transition(_state_machine(env))
        enter_state(state, env)

    def retried(state: Any, env: Any, failure_event: Any) -> Any:
        outcome = retry(state, env, failure_event)
        meter.transition(_state_machine(env))
        return outcome

    with replaced((DynamoHandler, "call_action", counted_call), (CommonStateField, "_eval_body", entered),
                  (ExecutionState, "_handle_retry", retried)):
        yield


def _state_machine(env: Any) -> str:
    try:
        return str(env.states.context_object.context_object_data["StateMachine"]["Name"])
    except (AttributeError, KeyError, TypeError):
        return "(state machine)"


def _json(body: Any) -> dict[str, Any]:
    try:
        parsed = json.loads(body or b"{}")
    except (TypeError, ValueError):
        return {}
    return parsed if isinstance(parsed, dict) else {}
