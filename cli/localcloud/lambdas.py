"""Run each Lambda function as Lambda would: its built artifact, in its own interpreter.

moto keeps the functions (create, list, configuration); this module answers their invocations.
Each function runs in worker processes of its own (workers.py, talking to bootstrap.py): the
runtime's Python with only the function's folder and layers on the path. A worker stays warm between
invocations, as a Lambda execution environment does; a function runs several at once, up to
`WORKERS_PER_FUNCTION`, and all functions together up to `WORKERS` (each is a Python process of
~75 MB: an idle worker of another function ends to make room, the oldest idle first). A raised
exception comes back as a function error with `errorType`, so Step Functions' Retry and Catch see
what they would see in AWS; a handler that overruns its timeout is killed and reported as
`Sandbox.Timedout`. Asynchronous invocations (S3 notifications,
InvocationType=Event) are queued, with Lambda's two retries.
"""

from __future__ import annotations

import collections
import json
import queue
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from localcloud.workers import FunctionError, FunctionSpec, Worker, error_payload

if TYPE_CHECKING:
    from localcloud.meter import Meter

WORKERS_PER_FUNCTION = 4
WORKERS = 6  # worker processes of all functions at once (memory, and this machine's cores)
# A function that has a worker waits for it rather than end another function's worker idle for less
# than this: a worker costs about a second of CPU to start, and workflows call their steps in bursts.
SPARE_SECONDS = 2.0
ASYNC_RETRIES = 2
ASYNC_CONCURRENCY = 2  # event invocations (S3 notifications, schedules) run two at a time


@dataclass
class AsyncFailure:
    """An asynchronous invocation that failed after its retries (AWS would send it to a DLQ)."""

    function_name: str
    error_type: str
    error_message: str


class LambdaRuntime:
    """The registry of functions and the pool of their warm workers."""

    # A worker lives at most this long (its role's session credentials last an hour).
    RECYCLE_SECONDS = 45 * 60

    def __init__(self, pycache: Path | None = None) -> None:
        self._functions: dict[str, FunctionSpec] = {}
        self._pycache = pycache
        self._idle: dict[str, list[Worker]] = {}
        self._started: list[Worker] = []  # every worker, busy or idle: all end with the local cloud
        self._running: dict[str, int] = {}
        self._pool = threading.Condition()
        self._stopped = False
        self._async_queue: queue.Queue[tuple[str, Any] | None] = queue.Queue()
        self._async_workers: list[threading.Thread] = []
        self.async_failures: list[AsyncFailure] = []
        # (function, seconds) of the latest invocations: a handler's time as Lambda's REPORT line gives it
        self.durations: collections.deque[tuple[str, float]] = collections.deque(maxlen=1000)
        self._retries: dict[str, int] = {}
        self._on_failure: dict[str, Callable[[Any, dict[str, Any]], None]] = {}
        self.meter: Meter | None = None  # where each invocation's time is counted, as Lambda bills it

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

    def spec_of(self, name_or_arn: str) -> FunctionSpec:
        spec = self._lookup(name_or_arn)
        if spec is None:
            raise KeyError(f"no local function {name_or_arn}")
        return spec

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
        worker = self._acquire(spec)
        started = time.perf_counter()
        try:
            return worker.invoke(event)
        except BaseException:
            worker.kill()  # its pipes may hold half an answer: it never serves again
            raise
        finally:
            seconds = time.perf_counter() - started
            self.durations.append((spec.name, seconds))
            if self.meter is not None:
                self.meter.ran(spec.name, seconds, spec.memory)
            self._release(worker)

    def warm(self, name_or_arn: str) -> None:
        """Start one worker of the function now (its artifact imports, or this raises FunctionError)."""
        spec = self._lookup(name_or_arn)
        assert spec is not None
        self._release(self._acquire(spec))

    def recycle(self, name_or_arn: str) -> None:
        """End the function's warm workers (a busy one as its invocation returns): its next invocation starts
        a fresh one, as Lambda does after the function is updated. What a worker kept for its life (the mail
        sender's sending rate, read each minute) is read again at once."""
        spec = self.spec_of(name_or_arn)
        with self._pool:
            for worker in self._idle.pop(spec.name, []):
                worker.kill()
                self._running[spec.name] -= 1
            for worker in self._started:
                if worker.spec.name == spec.name:
                    worker.started = float("-inf")  # no longer fresh: ended at its release
            self._pool.notify_all()

    def _acquire(self, spec: FunctionSpec) -> Worker:
        with self._pool:
            while True:
                if self._stopped:
                    raise FunctionError("the local cloud is stopping")
                idle = self._idle.setdefault(spec.name, [])
                while idle:
                    worker = idle.pop()
                    if worker.alive:
                        return worker
                    worker.kill()  # it died while idle: a fresh one starts instead
                    self._running[spec.name] -= 1
                if self._running.get(spec.name, 0) < WORKERS_PER_FUNCTION and self._room_for_one(spec):
                    self._running[spec.name] = self._running.get(spec.name, 0) + 1
                    break
                self._pool.wait(SPARE_SECONDS)
        try:
            worker = Worker(spec, self._pycache)
            with self._pool:
                self._started = [w for w in self._started if w.alive]
                self._started.append(worker)
            return worker
        except BaseException:
            with self._pool:
                self._running[spec.name] -= 1
                self._pool.notify_all()
            raise

    def _room_for_one(self, spec: FunctionSpec) -> bool:
        """Whether one more worker of `spec` may start (under the pool's lock): below `WORKERS`, or once
        the longest idle worker of another function has ended to make room. A function that has
        workers takes one only from a function with at least two more, or idle for `SPARE_SECONDS`:
        otherwise it waits for its own, and the functions of a busy workflow share the pool evenly."""
        if sum(self._running.values()) < WORKERS:
            return True
        mine, spare = self._running.get(spec.name, 0), time.monotonic() - SPARE_SECONDS
        idle = [worker for workers in self._idle.values() for worker in workers
                if not mine or self._running[worker.spec.name] > mine + 1 or worker.idle_since <= spare]
        if not idle:
            return False
        oldest = min(idle, key=lambda worker: worker.idle_since)
        self._idle[oldest.spec.name].remove(oldest)
        self._running[oldest.spec.name] -= 1
        oldest.kill()
        return True

    def _release(self, worker: Worker) -> None:
        with self._pool:
            fresh = time.monotonic() - worker.started < self.RECYCLE_SECONDS
            if worker.alive and fresh and not self._stopped:
                worker.idle_since = time.monotonic()
                self._idle[worker.spec.name].append(worker)
            else:
                worker.kill()
                self._running[worker.spec.name] -= 1
            self._pool.notify_all()

    # -- asynchronous ------------------------------------------------------------------
    def invoke_async(self, name_or_arn: str, event: Any) -> None:
        """Queue an event invocation, as S3 notifications and InvocationType=Event do."""
        with self._pool:
            if not self._async_workers:
                self._async_workers = [threading.Thread(target=self._drain, name=f"lambda-async-{n}", daemon=True)
                                       for n in range(ASYNC_CONCURRENCY)]
                for thread in self._async_workers:
                    thread.start()
        self._async_queue.put((name_or_arn, event))

    def wait_idle(self, timeout: float = 60.0) -> None:
        """Block until every queued asynchronous invocation has run."""
        done = threading.Event()

        def wait() -> None:
            self._async_queue.join()
            done.set()

        threading.Thread(target=wait, daemon=True).start()
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
                    try:
                        payload, error = self.invoke(name_or_arn, event)
                    except Exception as failure:  # the runtime could not run it: a failed attempt
                        payload, error = error_payload("Runtime.Unknown", str(failure), "local"), "Unhandled"
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
        for _ in self._async_workers:
            self._async_queue.put(None)
        for thread in self._async_workers:
            thread.join(timeout=5)
        self._async_workers = []
        with self._pool:
            self._stopped = True
            workers = list(self._started)  # a busy one too: its invocation ends as a timed-out one
            self._idle.clear()
            self._pool.notify_all()
        for worker in workers:
            worker.kill()
