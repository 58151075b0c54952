"""moto's Step Functions as the local cloud runs it: task tokens as strict as AWS's, executions that cost
one thread while they wait, definitions parsed once."""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from moto.stepfunctions.parser.asl.component.common.path import result_path
from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
from moto.stepfunctions.parser.asl.component.program.program import Program
from moto.stepfunctions.parser.asl.component.state.exec import execute_state
from moto.stepfunctions.parser.asl.component.state.exec.execute_state import ExecutionState
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import ResourceCondition
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
    StateTaskServiceCallback,
)
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor
from moto.stepfunctions.parser.asl.utils import json_path

from localcloud.patches.patching import replaced

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
def tasks_time_out_as_in_aws() -> Iterator[None]:
    """Fidelity: a task token is good only while its task attempt waits: once the wait runs out, or the attempt
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

    with replaced((StateTaskServiceCallback, "_eval_body", eval_body)):
        yield


@contextmanager
def waiting_executions_hold_one_thread() -> Iterator[None]:
    """Speed: an execution waiting for its approval holds one thread here, not three. moto 5.2.5 runs each
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

    with replaced((Program, "eval", program_eval), (ExecutionState, "_evaluate_with_timeout", evaluate_with_timeout),
                  (execute_state, "Thread", thread)):
        yield


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


@contextmanager
def step_functions_reuse_lambda_clients() -> Iterator[None]:
    """Speed: moto's Step Functions executor makes a new boto3 client for every Lambda task it runs (a few
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

    with replaced((lambda_eval_utils, "boto_client_for", boto_client_for)):
        yield


@contextmanager
def state_machines_parsed_once() -> Iterator[None]:
    """Speed: moto's Step Functions executor parses the state machine's definition for every execution it
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

    with replaced((AmazonStateLanguageParser, "parse", staticmethod(parse))):
        yield


@contextmanager
def paths_parsed_once() -> Iterator[None]:
    """Speed: moto's Step Functions executor parses a JSONPath (`$.case_id`, a ResultPath) each time it
    evaluates one: a new jsonpath-ng parser each time, the largest part of running a state. A path's
    parse is kept; evaluating it does not change it."""
    with replaced((json_path, "parse", functools.lru_cache(maxsize=4096)(json_path.parse)),
                  (result_path, "parse", functools.lru_cache(maxsize=4096)(result_path.parse))):
        yield


@contextmanager
def as_the_local_cloud_runs_it() -> Iterator[None]:
    """Every patch of this module, for as long as the local cloud runs."""
    with ExitStack() as patches:
        for patch in (tasks_time_out_as_in_aws, waiting_executions_hold_one_thread,
                      step_functions_reuse_lambda_clients, state_machines_parsed_once, paths_parsed_once):
            patches.enter_context(patch())
        yield
