"""Where moto would start a Docker container for a Lambda function, run it in-process instead.

Seams of moto replaced while the local cloud runs:
- `LambdaFunction.invoke`, which every synchronous path reaches (the Lambda API, Step
  Functions' lambda:invoke integrations, a Function URL request);
- the S3 notification's Lambda call, which in AWS is asynchronous and so is queued here.
Functions the local cloud does not know keep moto's own behaviour.
"""

from __future__ import annotations

import base64
import contextvars
import copy
import json
import os
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import moto.backends
import moto.core.responses
import moto.dynamodb.models as dynamodb_models
from moto.awslambda.models import LambdaFunction
from moto.core.responses import ActionResult, get_service_model
from moto.dynamodb.exceptions import ItemSizeTooLarge
from moto.dynamodb.models import DynamoDBBackend, DynamoType, Table
from moto.dynamodb.models.dynamo_type import Item, LimitedSizeDict
from moto.dynamodb.models.utilities import bytesize
from moto.dynamodb.responses import DynamoHandler
from moto.s3 import notifications
from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
from moto.stepfunctions.parser.asl.component.program.program import Program
from moto.stepfunctions.parser.asl.component.state.exec import execute_state
from moto.stepfunctions.parser.asl.component.state.exec.execute_state import ExecutionState
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import ResourceCondition
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
    StateTaskServiceCallback,
)

from refunds_cli.localcloud.lambdas import LambdaRuntime


@contextmanager
def run_lambdas_in_process(runtime: LambdaRuntime) -> Iterator[None]:
    """Patch moto so that `runtime` answers invocations of the functions it knows."""
    original_invoke = LambdaFunction.invoke
    original_s3_invoke = notifications._invoke_awslambda

    def invoke(self: LambdaFunction, body: Any, request_headers: Any, response_headers: Any) -> Any:
        if not runtime.knows(self.function_arn):
            return original_invoke(self, body, request_headers, response_headers)
        event = json.loads(body) if body else {}
        if request_headers and request_headers.get("X-Amz-Invocation-Type") == "Event":
            runtime.invoke_async(self.function_arn, event)
            return b""
        try:
            payload, error = runtime.invoke(self.function_arn, event)
        except Exception:  # the local cloud's own failure, not the handler's: say where, loudly
            traceback.print_exc()
            raise
        if error:
            response_headers["x-amz-function-error"] = error
        return payload

    def s3_invoke(account_id: str, event_body: Any, fn_arn: str, region_name: str) -> None:
        if runtime.knows(fn_arn):
            runtime.invoke_async(fn_arn, event_body)
        else:
            original_s3_invoke(account_id, event_body, fn_arn, region_name)

    LambdaFunction.invoke = invoke  # type: ignore[method-assign]
    notifications._invoke_awslambda = s3_invoke
    try:
        yield
    finally:
        LambdaFunction.invoke = original_invoke  # type: ignore[method-assign]
        notifications._invoke_awslambda = original_s3_invoke


# The callback pools of executions waiting on a task token, with their state machine's ARN; and the
# state machine of every token that has been waited on (a late answer is still authorised against it).
_WAITING_POOLS: dict[int, tuple[dict[str, Any], str]] = {}
_TOKEN_OWNERS: dict[str, str] = {}


def state_machine_of_token(token: str) -> str | None:
    """The state machine whose execution waits, or waited, on `token` (what IAM authorises SendTask*
    against): a token that no longer waits is then refused by Step Functions, not by IAM, as in AWS."""
    for pool, state_machine in list(_WAITING_POOLS.values()):
        if token in pool:
            return state_machine
    return _TOKEN_OWNERS.get(token)


@contextmanager
def dynamodb_requests_atomic() -> Iterator[None]:
    """One DynamoDB request at a time in moto, as each is atomic in AWS. moto's backend is not safe
    beside a concurrent request: a conditional write can pass its check twice, and a transaction's
    copy of the table for its rollback fails ("dictionary changed size during iteration")."""
    original = DynamoHandler.call_action
    lock = threading.Lock()

    def call_action(self: Any) -> Any:
        with lock:
            return original(self)

    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
    try:
        yield
    finally:
        DynamoHandler.call_action = original  # type: ignore[method-assign]


@contextmanager
def tasks_time_out_as_in_aws() -> Iterator[None]:
    """A task token is good only while its task attempt waits: once the wait runs out, or the attempt
    fails and a retry starts with a new token, SendTaskSuccess/Failure with it is refused, as AWS does
    (AWS says `TaskTimedOut`, here `InvalidToken`: the caller treats both as "no longer waiting").
    moto 5.2.5 keeps accepting it, which would hide an approval page telling an approver "recorded" for
    a decision that decided nothing."""
    original = StateTaskServiceCallback._eval_body

    def eval_body(self: Any, env: Any) -> Any:
        pool = env.callback_pool_manager._pool
        _WAITING_POOLS[id(pool)] = (pool, env.states.context_object.context_object_data["StateMachine"]["Id"])
        before = set(pool)
        try:
            return original(self, env)
        finally:  # the attempt is over (answered, failed or timed out): its token answers nothing more
            for callback_id in set(pool) - before:
                pool.pop(callback_id, None)
                _TOKEN_OWNERS[callback_id] = _WAITING_POOLS[id(pool)][1]
            if not pool:
                _WAITING_POOLS.pop(id(pool), None)

    StateTaskServiceCallback._eval_body = eval_body  # type: ignore[method-assign]
    try:
        yield
    finally:
        StateTaskServiceCallback._eval_body = original  # type: ignore[method-assign]


@contextmanager
def transactions_undo_only_what_they_touched() -> Iterator[None]:
    """TransactWriteItems at a cost that does not grow with the table. moto 5.2.5 deep-copies every
    table a transaction names, once per item, before it writes (its rollback): a call of 100 puts
    copies the table 100 times, and storing a ledger 100 ids at a time costs the square of its size.
    Here a transaction copies only the items it names, before it writes, and a failed one puts
    exactly those back (and drops any stream records it added); moto's own copy of the table is
    skipped. Requests are one at a time (`dynamodb_requests_atomic`), so nothing else writes between
    the copy and the undo."""
    original = DynamoDBBackend.transact_write_items
    original_copy = dynamodb_models.copy

    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        undo = _touched_items(self, transact_items)
        try:
            original(self, transact_items)
        except BaseException:
            _put_back(undo)
            raise

    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    dynamodb_models.copy = _TablesNotCopied()  # type: ignore[assignment]
    try:
        yield
    finally:
        DynamoDBBackend.transact_write_items = original  # type: ignore[method-assign]
        dynamodb_models.copy = original_copy


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


_PARTITION: contextvars.ContextVar[tuple[Table, DynamoType] | None] = contextvars.ContextVar("partition", default=None)


@contextmanager
def queries_read_only_their_partition() -> Iterator[None]:
    """A Query of a table's key reads that partition, as in AWS. moto 5.2.5 lists and sorts every item
    of the table for each one, so reading the stored ledger account by account cost the square of
    the table. A Query of an index still reads the whole table (moto keeps no index): the local
    cloud's indexes are on its smaller tables (cases, refunds, approvals)."""
    original_query, original_all_items = Table.query, Table.all_items

    def query(self: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        token = _PARTITION.set((self, hash_key) if hash_key is not None and not index_name else None)
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            _PARTITION.reset(token)

    def all_items(self: Table) -> list[Any]:
        partition = _PARTITION.get()
        if partition is None or partition[0] is not self:
            return original_all_items(self)
        found = self.items.get(partition[1])
        if found is None:
            return []
        if self.range_key_attr is None:
            return [found]
        return sorted(found.values(), key=lambda item: item.range_key)

    Table.query, Table.all_items = query, all_items  # type: ignore[method-assign]
    try:
        yield
    finally:
        Table.query, Table.all_items = original_query, original_all_items  # type: ignore[method-assign]


@contextmanager
def routing_worked_out_once() -> Iterator[None]:
    """What moto's server works out again for every request, though it cannot change while it runs:
    the list of its services (a directory read and a stat per service, to route the request) and the
    method names of the service's response class (`inspect.getmembers`, to find the action)."""
    original_list, original_names = moto.backends.list_of_moto_modules, moto.core.responses.method_names_from_class
    listed = list(original_list())
    names: dict[type, list[str]] = {}

    def method_names_from_class(clazz: Any) -> list[str]:
        if clazz not in names:
            names[clazz] = original_names(clazz)
        return names[clazz]

    moto.backends.list_of_moto_modules = lambda: iter(listed)
    moto.core.responses.method_names_from_class = method_names_from_class
    try:
        yield
    finally:
        moto.backends.list_of_moto_modules = original_list
        moto.core.responses.method_names_from_class = original_names


# The DynamoDB operations on items: their answers hold strings, numbers, booleans, bytes, lists and
# maps only (no timestamps), so that plain JSON is exactly what moto's serializer writes for them.
_ITEM_OPERATIONS = frozenset({"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem",
                              "BatchWriteItem", "TransactGetItems", "TransactWriteItems"})


@contextmanager
def item_requests_read_and_answered_directly() -> Iterator[None]:
    """DynamoDB's item operations read and answered as JSON directly. moto 5.2.5 walks each request
    and each answer through the operation's shapes, value by value: half of the local cloud's CPU
    under a ledger's load. What the shapes do to these operations is done here: binary values
    decoded from base64 and encoded back, absent (null) members left out. Errors and every other
    operation still go through moto's parser and serializer; a test holds the two to the same result."""
    original_parse, original_serialized = DynamoHandler.parse_parameters, DynamoHandler.serialized

    def parse_parameters(self: DynamoHandler, request: Any) -> None:
        if self._get_action() not in _ITEM_OPERATIONS:
            return original_parse(self, request)
        try:
            body = json.loads(request.data)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return original_parse(self, request)
        self.params = _from_wire(body)
        return None

    def serialized(self: DynamoHandler, action_result: ActionResult) -> Any:
        action, result = self._get_action(), action_result.result
        if action not in _ITEM_OPERATIONS or not isinstance(result, dict):
            return original_serialized(self, action_result)
        members = get_service_model("dynamodb").operation_model(action).output_shape.members
        body = json.dumps({key: _plain(value) for key, value in result.items() if key in members and value is not None})
        return 200, {"Content-Type": "application/x-amz-json-1.0", **self.response_headers}, body

    DynamoHandler.parse_parameters = parse_parameters  # type: ignore[method-assign]
    DynamoHandler.serialized = serialized  # type: ignore[method-assign]
    try:
        yield
    finally:
        DynamoHandler.parse_parameters = original_parse  # type: ignore[method-assign]
        DynamoHandler.serialized = original_serialized  # type: ignore[method-assign]


def _from_wire(value: Any) -> Any:
    """A request's JSON as moto's parser gives it: an attribute value's B and BS decoded from base64 (an
    attribute value is the only object of one key B or BS holding a string or strings), nulls left out.
    Names are interned: a table of 100,000 items holds each attribute name once, not 100,000 times."""
    if isinstance(value, dict):
        if len(value) == 1:
            (kind, inner), = value.items()
            if kind == "B" and isinstance(inner, str):
                return {"B": base64.b64decode(inner)}
            if kind == "BS" and isinstance(inner, list) and all(isinstance(v, str) for v in inner):
                return {"BS": [base64.b64decode(v) for v in inner]}
        return {sys.intern(key): _from_wire(item) for key, item in value.items() if item is not None}
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
def step_functions_reuse_lambda_clients() -> Iterator[None]:
    """moto's Step Functions executor makes a new boto3 client for every Lambda task it runs (a few
    milliseconds of CPU each); the client it makes depends only on the region and moto's port, and
    boto3 clients may be shared between threads."""
    original = lambda_eval_utils.boto_client_for
    clients: dict[tuple[str, str, str | None], Any] = {}
    lock = threading.Lock()

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        key = (region, service, os.environ.get("MOTO_PORT"))
        with lock:
            if key not in clients:
                clients[key] = original(region=region, service=service, state_credentials=state_credentials)
            return clients[key]

    lambda_eval_utils.boto_client_for = boto_client_for
    try:
        yield
    finally:
        lambda_eval_utils.boto_client_for = original


@contextmanager
def state_machines_parsed_once() -> Iterator[None]:
    """moto's Step Functions executor parses the state machine's definition for every execution it
    starts (tens of milliseconds of ANTLR each). The parse tree of a definition is kept; each
    execution still gets its own program built from it, as moto does, so no execution shares
    evaluation state with another."""
    original = AmazonStateLanguageParser.parse
    trees: dict[str, Any] = {}
    lock = threading.Lock()

    def parse(definition: str) -> tuple[Any, Any]:
        with lock:
            tree = trees.get(definition)
        if tree is None:
            program, tree = original(definition)  # refuses a definition with syntax errors, as before
            with lock:
                trees[definition] = tree
            return program, tree
        return Preprocessor().visit(tree), tree

    AmazonStateLanguageParser.parse = staticmethod(parse)  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        AmazonStateLanguageParser.parse = staticmethod(original)  # type: ignore[method-assign,assignment]


@contextmanager
def item_sizes_counted_once() -> Iterator[None]:
    """An item's size checked once when moto builds it, not again at each of its attributes (moto
    5.2.5 sums every attribute so far at each one: the square of the attribute count, a tenth of the
    local cloud's CPU while a ledger is stored). The same limit, on the same total."""
    original = Item.__init__

    def init(self: Item, hash_key: DynamoType, range_key: DynamoType | None, attrs: dict[str, Any]) -> None:
        self.hash_key, self.range_key = hash_key, range_key
        values = {key: DynamoType(value) for key, value in attrs.items()}
        if sum(bytesize(key) + value.size() for key, value in values.items()) > 405000:  # moto's limit
            raise ItemSizeTooLarge
        self.attrs = LimitedSizeDict()  # later attributes (updates) are still checked one by one
        dict.update(self.attrs, values)

    Item.__init__ = init  # type: ignore[method-assign]
    try:
        yield
    finally:
        Item.__init__ = original  # type: ignore[method-assign]


@contextmanager
def waiting_executions_hold_one_thread() -> Iterator[None]:
    """An execution waiting for its approval holds one thread here, not three. moto 5.2.5 runs each
    execution in a thread that starts a thread for the program (to time out the whole execution)
    that starts one for each task (to time out the task). A program with no TimeoutSeconds (no
    timeout to enforce) runs in its execution's thread; a waitForTaskToken task runs in its program's,
    its wait for the token timing out by itself after the same TimeoutSeconds (States.Timeout as
    before). Other tasks, Lambda invocations among them, keep their timer thread."""
    original_program, original_task = Program.eval, ExecutionState._evaluate_with_timeout
    original_thread = execute_state.Thread
    inline = threading.local()

    def program_eval(self: Program, env: Any) -> None:
        if self.timeout_seconds is not None:
            return original_program(self, env)
        env.next_state_name = self.start_at.start_at_name
        return EvalComponent.eval(self, env)

    def evaluate_with_timeout(self: ExecutionState, env: Any) -> None:
        inline.next = isinstance(self, StateTaskServiceCallback) and not self.heartbeat and \
            self.resource.condition == ResourceCondition.WaitForTaskToken
        try:
            return original_task(self, env)
        finally:
            inline.next = False

    def thread(*args: Any, **kwargs: Any) -> Any:
        if getattr(inline, "next", False):  # the task's own evaluation, run where it is started
            inline.next = False
            return _RunsWhereStarted(kwargs["target"])
        return original_thread(*args, **kwargs)

    Program.eval = program_eval  # type: ignore[method-assign]
    ExecutionState._evaluate_with_timeout = evaluate_with_timeout  # type: ignore[method-assign]
    execute_state.Thread = thread  # type: ignore[assignment,misc]
    try:
        yield
    finally:
        Program.eval = original_program  # type: ignore[method-assign]
        ExecutionState._evaluate_with_timeout = original_task  # type: ignore[method-assign]
        execute_state.Thread = original_thread  # type: ignore[misc]


class _RunsWhereStarted:
    """A thread that is not one: `start()` runs its target at once, in the caller's thread."""

    def __init__(self, target: Callable[[], None]) -> None:
        self._target = target

    def start(self) -> None:
        self._target()

    def join(self, timeout: float | None = None) -> None:
        return None

    def is_alive(self) -> bool:
        return False
