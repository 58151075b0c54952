"""What the local cloud served the product, counted the way AWS bills it.

Every request a function's session signs is counted by service and operation (the IAM action it needed:
`s3:PutObject`, `kms:Decrypt`, `ses:SendRawEmail`, ...), under the function that made it. DynamoDB's are
also counted in request units, from the items' sizes as DynamoDB sizes them: a write unit per KB written
(two in a transaction; the larger of the item before and after), and each index's write of the item
besides (its projection's size; two writes when its index key changed); a read unit per 4 KB read (half
eventually consistent, two in a transaction), a Query's or Scan's items summed before rounding up and
scaled up to what a filter left out. Lambda is counted in invocations and GB-seconds (the handler's time,
to the millisecond, times its memory), Step Functions in state transitions (each state entered, and each
retry), by state machine.

What is not counted: the product's people and scripts (the CLI, the console's browser), which sign with
their own credentials; KMS calls AWS services make for the functions (S3 and SQS data keys), which
bucket keys and SQS's key reuse keep to a few; CloudWatch Logs and metrics (priced per GB and per metric,
not per request); Lambda's INIT time (billed since August 2025) and the SQS pollers' empty receives. A
Query with a ProjectionExpression is sized by what it returned, so it counts low. Local time is the local
cloud's: Lambda's GB-seconds here are an upper bound (moto is slower than DynamoDB).
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


def dynamodb_units(handler: Any, action: str, request: dict[str, Any], answer: dict[str, Any],
                   before: dict[tuple[str, str], Snapshot] | None = None) -> tuple[float, float]:
    """(read units, write units) of one DynamoDB request that succeeded. `before`: the written items as they
    were (`snapshots`), to size each write as DynamoDB bills it, its indexes' writes included."""
    consistent = bool(request.get("ConsistentRead"))
    if action == "GetItem":
        return read_units(item_size(answer.get("Item")), consistent), 0
    if action in ("Query", "Scan"):
        if "IndexName" in request:
            consistent = False  # a global secondary index is read eventually consistent
        returned = sum(item_size(i) for i in answer.get("Items", []))
        count, scanned = int(answer.get("Count", 0)), int(answer.get("ScannedCount", 0))
        read = returned * scanned / count if count else 0  # billed on what was read, before the filter
        return read_units(int(read), consistent), 0
    if action == "BatchGetItem":
        return sum(read_units(item_size(i), bool(request["RequestItems"][t].get("ConsistentRead")))
                   for t, items in answer.get("Responses", {}).items() for i in items), 0
    if action == "TransactGetItems":
        return sum(2 * read_units(item_size(r.get("Item")), True) for r in answer.get("Responses", [])), 0
    written = _written(request, action)
    if not written:
        return 0, 0
    after = snapshots(handler, written)
    unprocessed = {(t, json.dumps(r.get("PutRequest", {}).get("Item") or r.get("DeleteRequest", {}).get("Key"),
                                  sort_keys=True)) for t, rs in answer.get("UnprocessedItems", {}).items() for r in rs}
    factor = 2 if action == "TransactWriteItems" else 1
    units = 0
    for where in written:
        if where in unprocessed:
            continue
        was, now = (before or {}).get(where), after.get(where)
        units += factor * write_units(max(was.size if was else 0, now.size if now else 0))
        units += sum(_index_units((was.indexes if was else {}).get(name), (now.indexes if now else {}).get(name))
                     for name in {*(was.indexes if was else {}), *(now.indexes if now else {})})
    return 0, units


@dataclass(frozen=True)
class Snapshot:
    """An item as stored: its size, and per index that holds it, (its index key, the projected size)."""

    size: int
    indexes: dict[str, tuple[str, int]]


def projected_size(index: Any, item: Any) -> int:
    """The size of `item` (moto's) as `index` keeps it: all of it, or its keys (and the included attributes)."""
    projection = (index.projection or {}).get("ProjectionType", "ALL")
    if projection == "ALL":
        return int(item.size())
    kept = {*index.table_key_attrs, *index.schema_key_attrs,
            *((index.projection or {}).get("NonKeyAttributes", []) if projection == "INCLUDE" else [])}
    return sum(len(name.encode()) + value.size() for name, value in item.attrs.items() if name in kept)


def _index_units(was: tuple[str, int] | None, now: tuple[str, int] | None) -> int:
    """An index's write units for one item: a put, an update in place, a delete, or (its key changed) both."""
    if was and now and was[0] != now[0]:
        return write_units(was[1]) + write_units(now[1])
    return write_units(max(was[1] if was else 0, now[1] if now else 0)) if (was or now) else 0


def _written(request: dict[str, Any], action: str) -> list[tuple[str, str]]:
    """(table, item or key as JSON) of each item a write request names."""
    if action == "PutItem":
        return [(request["TableName"], json.dumps(request["Item"], sort_keys=True))]
    if action in ("UpdateItem", "DeleteItem"):
        return [(request["TableName"], json.dumps(request["Key"], sort_keys=True))]
    if action == "BatchWriteItem":
        return [(table, json.dumps(r.get("PutRequest", {}).get("Item") or r["DeleteRequest"]["Key"], sort_keys=True))
                for table, rs in request.get("RequestItems", {}).items() for r in rs]
    if action == "TransactWriteItems":
        return [(body["TableName"], json.dumps(body.get("Item") or body["Key"], sort_keys=True))
                for t in request.get("TransactItems", []) for op, body in t.items() if op != "ConditionCheck"]
    return []


def snapshots(handler: Any, written: list[tuple[str, str]]) -> dict[tuple[str, str], Snapshot]:
    """The named items as stored now (absent ones left out)."""
    found: dict[tuple[str, str], Snapshot] = {}
    for where in written:
        table_name, named = where
        try:
            table = handler.dynamodb_backend.get_table(table_name)
            key = {k: v for k, v in json.loads(named).items() if k in (table.hash_key_attr, table.range_key_attr)}
            item = handler.dynamodb_backend.get_item(table_name, key)
        except Exception:  # no such table, a key that does not fit it: DynamoDB refuses the request
            item = None
        if item is None:
            continue
        indexes = {}
        for index in table.all_indexes():
            if all(k in item.attrs for k in index.schema_key_attrs):
                indexes[index.name] = (repr([item.attrs[k].value for k in index.schema_key_attrs]),
                                       projected_size(index, item))
        found[where] = Snapshot(int(item.size()), indexes)
    return found


@contextmanager
def metered(meter: Meter, enforcer: Enforcer) -> Iterator[None]:
    """Count DynamoDB's units and Step Functions' transitions while the `with` lasts (requests are counted
    where IAM decides them, in patches/iam.py; Lambda's time where the local runtime runs a handler)."""
    call_action, enter_state, retry = DynamoHandler.call_action, CommonStateField._eval_body, \
        ExecutionState._handle_retry

    def counted_call(handler: DynamoHandler) -> Any:
        session = enforcer.session_of(handler.headers.get("Authorization", ""))
        if session is None:
            return call_action(handler)
        action = handler.headers.get("X-Amz-Target", ".").rsplit(".", 1)[-1]
        request = _json(handler.raw_body)
        written = _written(request, action)
        before = snapshots(handler, written) if written else None
        status, headers, body = call_action(handler)
        if int(status) < 400:
            read, write = dynamodb_units(handler, action, request, _json(body), before)
            meter.units(session.function, read, write)
        elif written and b"ConditionalCheckFailed" in (body if isinstance(body, bytes) else str(body).encode()):
            meter.units(session.function, 0, len(written))  # a failed condition still consumes a write unit
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
