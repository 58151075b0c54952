"""moto's DynamoDB as the local cloud runs it: atomic as AWS's, at a cost that does not grow with the table.

moto 5.2.5 is correct but slow at a ledger's volume, and unsafe beside a concurrent request. Each
patch keeps moto's behaviour and changes its cost; tests/unit/test_local_dynamodb.py holds each to
what moto itself answers (the patches are written to be offered upstream).
"""

from __future__ import annotations

import base64
import contextvars
import copy
import json
import sys
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import moto.dynamodb.models as dynamodb_models
from moto.core.responses import ActionResult, get_service_model
from moto.dynamodb.exceptions import ItemSizeTooLarge
from moto.dynamodb.models import DynamoDBBackend, DynamoType, Table
from moto.dynamodb.models.dynamo_type import Item, LimitedSizeDict
from moto.dynamodb.models.utilities import bytesize
from moto.dynamodb.responses import DynamoHandler

from localcloud.patches.dynamodb_parsing import answers_made_plain_by_type, expressions_parsed_once
from localcloud.patches.dynamodb_sorting import scalar_keys_compared_directly
from localcloud.patches.patching import replaced


@contextmanager
def dynamodb_requests_atomic() -> Iterator[None]:
    """Fidelity: one DynamoDB request at a time in moto, as each is atomic in AWS. moto's backend is not safe
    beside a concurrent request: a conditional write can pass its check twice, and a transaction's
    copy of the table for its rollback fails ("dictionary changed size during iteration")."""
    original = DynamoHandler.call_action
    lock = threading.Lock()

    def call_action(self: Any) -> Any:
        with lock:
            return original(self)

    with replaced((DynamoHandler, "call_action", call_action)):
        yield


@contextmanager
def transactions_undo_only_what_they_touched() -> Iterator[None]:
    """Speed: TransactWriteItems at a cost that does not grow with the table. moto 5.2.5 deep-copies every
    table a transaction names, once per item, before it writes (its rollback): a call of 100 puts
    copies the table 100 times, and storing a ledger 100 ids at a time costs the square of its size.
    Here a transaction copies only the items it names, before it writes, and a failed one puts
    exactly those back (and drops any stream records it added); moto's own copy of the table is
    skipped. Requests are one at a time (`dynamodb_requests_atomic`), so nothing else writes between
    the copy and the undo."""
    original = DynamoDBBackend.transact_write_items

    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        undo = _touched_items(self, transact_items)
        try:
            original(self, transact_items)
        except BaseException:
            _put_back(undo)
            raise

    with replaced((DynamoDBBackend, "transact_write_items", transact_write_items),
                  (dynamodb_models, "copy", _TablesNotCopied())):
        yield


class _TablesNotCopied:
    """`copy` as moto's DynamoDB backend sees it: a table is not copied (its rollback copy), any
    other value is (an item before an update)."""

    @staticmethod
    def deepcopy(value: Any) -> Any:
        return value if isinstance(value, Table) else copy.deepcopy(value)


_Undo = list[tuple[Table, DynamoType, DynamoType | None, Any, int]]


def _touched_items(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> _Undo:
    """Each item a transaction names, as it is before the transaction: (table, hash, range, a copy of
    the item or None, the table's stream length). A malformed entry is skipped: moto refuses it."""
    undo: _Undo = []
    for entry in transact_items:
        for op_type, op in entry.items():
            table = backend.tables.get(op.get("TableName"))
            key = op.get("Item") if op_type == "Put" else op.get("Key")
            if table is None or not isinstance(key, dict) or table.hash_key_attr not in key:
                continue
            hash_key = DynamoType(key[table.hash_key_attr])
            if table.range_key_attr is None:
                range_key, item = None, table.items.get(hash_key)
            elif table.range_key_attr in key:
                range_key = DynamoType(key[table.range_key_attr])
                item = table.items.get(hash_key, {}).get(range_key)
            else:
                continue
            stream = len(table.stream_shard.items) if table.stream_shard is not None else 0
            undo.append((table, hash_key, range_key, copy.deepcopy(item), stream))
    return undo


def _put_back(undo: _Undo) -> None:
    for table, hash_key, range_key, item, stream in reversed(undo):
        partition = table.items[hash_key] if range_key is not None else table.items
        slot = range_key if range_key is not None else hash_key
        if item is None:
            partition.pop(slot, None)
        else:
            partition[slot] = item
        if range_key is not None and not partition:
            table.items.pop(hash_key, None)
        if table.stream_shard is not None:
            del table.stream_shard.items[stream:]


# What the running Query reads: (its table, the partition key) for a Query of the table's key, or
# (its table, None, the index key's conditions) for a Query of an index.
_QUERIED: contextvars.ContextVar[tuple[Table, DynamoType | None, tuple[Any, ...]] | None] = \
    contextvars.ContextVar("queried", default=None)


@contextmanager
def queries_read_only_their_partition() -> Iterator[None]:
    """Speed: a Query of a table's key reads that partition, as in AWS; a Query of an index reads the items
    that have its key, unsorted. moto 5.2.5 lists and sorts every item of the table for each Query,
    then keeps those with the key (and sorts them again): reading the stored ledger account by
    account cost the square of the table, and every case's index lookups the square of the cases.
    The items moto then filters and sorts are the same."""
    original_query, original_all_items = Table.query, Table.all_items

    def query(self: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        conditions = tuple(kwargs.get("hash_key_conditions") or ())
        queried = ((self, None, conditions) if index_name and conditions else
                   (self, hash_key, ()) if hash_key is not None and not index_name else None)
        token = _QUERIED.set(queried)
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            _QUERIED.reset(token)

    def all_items(self: Table) -> list[Any]:
        queried = _QUERIED.get()
        if queried is None or queried[0] is not self:
            return original_all_items(self)
        _, hash_key, conditions = queried
        if hash_key is None:  # an index: the items with its key's values, as moto's filter keeps them
            return [item for item in _every_item(self)
                    if all((value := item.attrs.get(name)) is not None and value == expected
                           for name, expected in conditions)]
        found = self.items.get(hash_key)
        if found is None:
            return []
        if self.range_key_attr is None:
            return [found]
        return sorted(found.values(), key=lambda item: item.range_key)

    with replaced((Table, "query", query), (Table, "all_items", all_items)):
        yield


def _every_item(table: Table) -> Iterator[Any]:
    if table.range_key_attr is None:
        yield from table.items.values()
    else:
        for partition in table.items.values():
            yield from partition.values()


# The DynamoDB operations on items: their answers hold strings, numbers, booleans, bytes, lists and
# maps only (no timestamps), so that plain JSON is exactly what moto's serializer writes for them.
_ITEM_OPERATIONS = frozenset({"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem",
                              "BatchWriteItem", "TransactGetItems", "TransactWriteItems"})


@contextmanager
def item_requests_read_and_answered_directly() -> Iterator[None]:
    """Speed: DynamoDB's item operations read and answered as JSON directly. moto 5.2.5 walks each request
    and each answer through the operation's shapes, value by value: half of the local cloud's CPU
    under a ledger's load. What the shapes do to these operations is done here: binary values
    decoded from base64 and encoded back, absent (null) members left out. Errors and every other
    operation still go through moto's parser and serializer; a test holds the two to the same result."""
    original_parse, original_serialized = DynamoHandler.parse_parameters, DynamoHandler.serialized

    def parse_parameters(self: DynamoHandler, request: Any) -> None:
        if self._get_action() not in _ITEM_OPERATIONS:
            return original_parse(self, request)
        data = request.data
        try:
            body = json.loads(data)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return original_parse(self, request)
        # Most requests hold no binary value and no null: then the JSON is already what moto's parser
        # gives (a "B" or a null anywhere, even inside a string, takes the walk).
        plain = b'"B' not in data and b"null" not in data
        self.params = body if plain else _from_wire(body)
        return None

    def serialized(self: DynamoHandler, action_result: ActionResult) -> Any:
        action, result = self._get_action(), action_result.result
        if action not in _ITEM_OPERATIONS or not isinstance(result, dict):
            return original_serialized(self, action_result)
        members = get_service_model("dynamodb").operation_model(action).output_shape.members
        body = json.dumps({key: _plain(value) for key, value in result.items() if key in members and value is not None})
        return 200, {"Content-Type": "application/x-amz-json-1.0", **self.response_headers}, body

    with replaced((DynamoHandler, "parse_parameters", parse_parameters), (DynamoHandler, "serialized", serialized)):
        yield


def _from_wire(value: Any) -> Any:
    """A request's JSON as moto's parser gives it: an attribute value's B and BS decoded from base64 (an
    attribute value is the only object of one key B or BS holding a string or strings), nulls left out."""
    if isinstance(value, dict):
        if len(value) == 1:
            (kind, inner), = value.items()
            if kind == "B" and isinstance(inner, str):
                return {"B": base64.b64decode(inner)}
            if kind == "BS" and isinstance(inner, list) and all(isinstance(v, str) for v in inner):
                return {"BS": [base64.b64decode(v) for v in inner]}
        return {key: _from_wire(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_from_wire(item) for item in value]
    return value


def _plain(value: Any) -> Any:
    """A DynamoDB answer's value as JSON: bytes in base64, absent (None) members left out."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


@contextmanager
def item_sizes_counted_once() -> Iterator[None]:
    """Speed: an item's size checked once when moto builds it, not again at each of its attributes (moto
    5.2.5 sums every attribute so far at each one: the square of the attribute count, a tenth of the
    local cloud's CPU while a ledger is stored). The same limit, on the same total."""
    def init(self: Item, hash_key: DynamoType, range_key: DynamoType | None, attrs: dict[str, Any]) -> None:
        self.hash_key, self.range_key = hash_key, range_key
        # Names interned: a table of 100,000 items holds each attribute name once, not 100,000 times.
        values = {sys.intern(key): DynamoType(value) for key, value in attrs.items()}
        if sum(bytesize(key) + value.size() for key, value in values.items()) > 405000:  # moto's limit
            raise ItemSizeTooLarge
        self.attrs = LimitedSizeDict()  # later attributes (updates) are still checked one by one
        dict.update(self.attrs, values)

    with replaced((Item, "__init__", init)):
        yield


@contextmanager
def items_not_tracked() -> Iterator[None]:
    """Speed (of memory): moto keeps every model object it ever makes in a list (for its reset and its data page): every
    item ever stored, replaced or copied stays in memory while the server runs. Items are the tables'
    to keep, not the list's."""
    with replaced((Item, "__new__", _untracked)):  # inherited from moto's base: given back by deleting it
        yield


def _untracked(cls: type, *args: Any, **kwargs: Any) -> Any:
    return object.__new__(cls)


@contextmanager
def as_the_local_cloud_runs_it() -> Iterator[None]:
    """Every patch of this module, for as long as the local cloud runs."""
    with ExitStack() as patches:
        for patch in (dynamodb_requests_atomic, transactions_undo_only_what_they_touched,
                      queries_read_only_their_partition, scalar_keys_compared_directly,
                      item_requests_read_and_answered_directly,
                      item_sizes_counted_once, items_not_tracked, expressions_parsed_once,
                      answers_made_plain_by_type):
            patches.enter_context(patch())
        yield
