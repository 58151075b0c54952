"""Where moto would start a Docker container for a Lambda function, run it in-process instead.

Seams of moto replaced while the local cloud runs:
- `LambdaFunction.invoke`, which every synchronous path reaches (the Lambda API, Step
  Functions' lambda:invoke integrations, a Function URL request);
- the S3 notification's Lambda call, which in AWS is asynchronous and so is queued here.
Functions the local cloud does not know keep moto's own behaviour.
"""

from __future__ import annotations

import json
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto.awslambda.models import LambdaFunction
from moto.dynamodb.responses import DynamoHandler
from moto.s3 import notifications
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
