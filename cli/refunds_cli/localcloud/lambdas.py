"""Run each Lambda function's handler in this process, as moto would run it in Docker.

moto keeps the functions (create, list, configuration); this module answers their
invocations: the handler named in the template, the environment the template gives it, a
Lambda context. A raised exception comes back as a function error with `errorType`, so
Step Functions' Retry and Catch see what they would see in AWS. Asynchronous invocations
(S3 notifications, InvocationType=Event) run on a worker thread, with Lambda's two retries.

Invocations run one at a time: a function's environment is set on the process while its
handler runs. That is Lambda with a concurrency of one, which is what a laptop needs.
"""

from __future__ import annotations

import importlib.util
import json
import os
import queue
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from refunds_cli.localcloud import calls

ASYNC_RETRIES = 2
# A function's environment is set on the process while its handler runs, so handlers run one at a
# time in the whole process, whichever local cloud they belong to (tests may run two).
_ONE_AT_A_TIME = threading.RLock()


@dataclass
class FunctionSpec:
    """What the template says about one function."""

    name: str
    arn: str
    code_dir: Path
    handler: str
    environment: dict[str, str]
    layer_dirs: list[Path] = field(default_factory=list)
    timeout: int = 3
    memory: int = 128


@dataclass
class LambdaContext:
    """The context object a handler receives in AWS."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_seconds: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    _started: float = field(default_factory=time.monotonic)

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"local/{self.aws_request_id}"

    def get_remaining_time_in_millis(self) -> int:
        elapsed = time.monotonic() - self._started
        return max(0, int((self.timeout_seconds - elapsed) * 1000))


@dataclass
class AsyncFailure:
    """An asynchronous invocation that failed after its retries (AWS would send it to a DLQ)."""

    function_name: str
    error_type: str
    error_message: str


class InProcessLambda:
    """The registry of functions and the runner of their handlers."""

    def __init__(self) -> None:
        self._functions: dict[str, FunctionSpec] = {}
        self._modules: dict[str, ModuleType] = {}
        self._async_queue: queue.Queue[tuple[str, Any] | None] = queue.Queue()
        self._async_worker: threading.Thread | None = None
        self.async_failures: list[AsyncFailure] = []
        self._retries: dict[str, int] = {}
        self._on_failure: dict[str, Callable[[Any, dict[str, Any]], None]] = {}

    def register(self, spec: FunctionSpec) -> None:
        self._functions[spec.name] = spec
        self._functions[spec.arn] = spec

    def configure_async(self, name_or_arn: str, retries: int,
                        on_failure: Callable[[Any, dict[str, Any]], None] | None) -> None:
        """A function's EventInvokeConfig: its retries, and where a failed event goes (its destination)."""
        spec = self._lookup(name_or_arn)
        if spec is None:
            raise KeyError(f"no local function {name_or_arn}")
        self._retries[spec.name] = retries
        if on_failure is not None:
            self._on_failure[spec.name] = on_failure

    def names(self) -> list[str]:
        """The functions' names."""
        return sorted(name for name in self._functions if not name.startswith("arn:"))

    def knows(self, name_or_arn: str) -> bool:
        return self._lookup(name_or_arn) is not None

    def _lookup(self, name_or_arn: str) -> FunctionSpec | None:
        spec = self._functions.get(name_or_arn)
        if spec is None and name_or_arn.startswith("arn:"):
            # A qualified ARN (…:function:name:$LATEST) names the same function here.
            parts = name_or_arn.split(":")
            spec = self._functions.get(":".join(parts[:7]))
        return spec

    # -- synchronous -------------------------------------------------------------------
    def invoke(self, name_or_arn: str, event: Any) -> tuple[bytes, str | None]:
        """Run the handler; return the JSON payload and, on error, the function error kind."""
        spec = self._lookup(name_or_arn)
        if spec is None:
            raise KeyError(f"no local function {name_or_arn}")
        with _ONE_AT_A_TIME, self._function_environment(spec):
            context = LambdaContext(spec.name, spec.arn, spec.memory, spec.timeout)
            try:
                handler = getattr(self._module(spec), spec.handler.rsplit(".", 1)[1])
                with calls.running(spec.name, event):
                    result = handler(event, context)
            except Exception as error:
                payload = {
                    "errorMessage": str(error),
                    "errorType": type(error).__name__,
                    "requestId": context.aws_request_id,
                    "stackTrace": traceback.format_tb(error.__traceback__),
                }
                return json.dumps(payload).encode(), "Unhandled"
        return json.dumps(result, default=str).encode(), None

    def _module(self, spec: FunctionSpec) -> ModuleType:
        module = self._modules.get(spec.name)
        if module is None:
            module_file = spec.code_dir / (spec.handler.rsplit(".", 1)[0].replace(".", "/") + ".py")
            unique = f"_local_lambda_{spec.name.replace('-', '_')}"
            loader_spec = importlib.util.spec_from_file_location(unique, module_file)
            if loader_spec is None or loader_spec.loader is None:
                raise ImportError(f"cannot load handler module {module_file}")
            module = importlib.util.module_from_spec(loader_spec)
            sys.modules[unique] = module  # as an import does: pydantic resolves the module's annotations there
            sys.path.insert(0, str(spec.code_dir))
            try:
                loader_spec.loader.exec_module(module)
            except BaseException:
                del sys.modules[unique]
                raise
            finally:
                sys.path.remove(str(spec.code_dir))
            self._modules[spec.name] = module
        return module

    class _function_environment:  # noqa: N801 - used as a context manager
        def __init__(self, spec: FunctionSpec) -> None:
            self._spec = spec
            self._saved: dict[str, str | None] = {}

        def __enter__(self) -> None:
            spec = self._spec
            for layer in spec.layer_dirs:
                if str(layer) not in sys.path:
                    sys.path.append(str(layer))
            values = {
                "AWS_LAMBDA_FUNCTION_NAME": spec.name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
                "AWS_LAMBDA_FUNCTION_TIMEOUT": str(spec.timeout),
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                **spec.environment,
            }
            for key, value in values.items():
                self._saved[key] = os.environ.get(key)
                os.environ[key] = value

        def __exit__(self, *exc: object) -> None:
            # A variable the process did not have stays with the function's value: removing it races with
            # any other thread copying the environment (moto's executor does), which then fails with
            # KeyError. Each invocation sets every variable its function reads, so a stale one is never read.
            for key, value in self._saved.items():
                if value is not None:
                    os.environ[key] = value

    # -- asynchronous ------------------------------------------------------------------
    def invoke_async(self, name_or_arn: str, event: Any) -> None:
        """Queue an event invocation, as S3 notifications and InvocationType=Event do."""
        if self._async_worker is None:
            self._async_worker = threading.Thread(target=self._drain, name="lambda-async", daemon=True)
            self._async_worker.start()
        self._async_queue.put((name_or_arn, event))

    def wait_idle(self, timeout: float = 60.0) -> None:
        """Block until every queued asynchronous invocation has run."""
        done = threading.Event()
        threading.Thread(target=lambda: (self._async_queue.join(), done.set()), daemon=True).start()
        if not done.wait(timeout):
            raise TimeoutError(f"asynchronous invocations still running after {timeout}s")

    def _drain(self) -> None:
        while True:
            item = self._async_queue.get()
            try:
                if item is None:
                    return
                name_or_arn, event = item
                spec = self._lookup(name_or_arn)
                retries = self._retries.get(spec.name, ASYNC_RETRIES) if spec else ASYNC_RETRIES
                for attempt in range(retries + 1):
                    payload, error = self.invoke(name_or_arn, event)
                    if error is None:
                        break
                    if attempt == retries:
                        self._failed(name_or_arn, event, json.loads(payload), retries + 1)
            finally:
                self._async_queue.task_done()

    def _failed(self, name_or_arn: str, event: Any, detail: dict[str, Any], attempts: int) -> None:
        """An event that failed every attempt: to the function's on-failure destination, as Lambda does."""
        failure = AsyncFailure(name_or_arn, detail["errorType"], detail["errorMessage"])
        self.async_failures.append(failure)
        print(f"local cloud: async invocation of {name_or_arn} failed {attempts} times: {failure.error_type}: "
              f"{failure.error_message}", file=sys.stderr)
        spec = self._lookup(name_or_arn)
        destination = self._on_failure.get(spec.name) if spec else None
        if destination is not None and spec is not None:
            destination(event, {"version": "1.0", "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                                "requestContext": {"requestId": str(uuid.uuid4()), "functionArn": f"{spec.arn}:$LATEST",
                                                   "condition": "RetriesExhausted", "approximateInvokeCount": attempts},
                                "requestPayload": event,
                                "responseContext": {"statusCode": 200, "executedVersion": "$LATEST",
                                                    "functionError": "Unhandled"},
                                "responsePayload": {k: detail[k] for k in ("errorMessage", "errorType")}})

    def stop(self) -> None:
        if self._async_worker is not None:
            self._async_queue.put(None)
            self._async_worker.join(timeout=5)
            self._async_worker = None
