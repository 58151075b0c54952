"""One warm execution environment of one function: a process of the function's Python talking to
bootstrap.py over two pipes.

The worker runs the runtime's Python in isolated mode, with only the function's built folder and its
layers' python/ on the path, the environment the template gives it, and the credentials of its own
role. Messages are JSON, one a line: the worker says `ready` once its handler imports; an invocation
is sent as its event, request id, deadline and armed faults; the worker answers with `result` or an
error (`errorType`, `errorMessage`, `stackTrace`), and may first ask whether an AWS `call` should fail
(an injected fault). No answer by the deadline, or a closed pipe, is `Sandbox.Timedout`.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localcloud import faults

BOOTSTRAP = Path(__file__).with_name("bootstrap.py")
INIT_SECONDS = 60.0  # an import that takes longer is a broken artifact, not a slow one


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
    python: str = sys.executable  # the function's runtime (python3.12)
    credentials: Callable[[], dict[str, str]] = dict  # its role's, fresh for each new worker


class FunctionError(RuntimeError):
    """The local cloud could not run a function at all (its artifact does not import, say)."""


class Worker:
    """One warm execution environment of one function."""

    def __init__(self, spec: FunctionSpec, pycache: Path | None) -> None:
        self.spec = spec
        self.started = self.idle_since = time.monotonic()
        credentials = spec.credentials()  # first: nothing to clean up if it fails
        environment = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "TZ": ":UTC",
                       "LAMBDA_TASK_ROOT": str(spec.code_dir), "LOCAL_FUNCTION_ARN": spec.arn,
                       "AWS_LAMBDA_FUNCTION_NAME": spec.name, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
                       "AWS_LAMBDA_FUNCTION_TIMEOUT": str(spec.timeout), "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                       **spec.environment, **credentials}
        options = ["-X", f"pycache_prefix={pycache}"] if pycache else []
        to_child, self._to_child = os.pipe()
        self._from_child, from_child = os.pipe()
        try:
            self._process = subprocess.Popen(
                [spec.python, "-I", "-S", *options, str(BOOTSTRAP), str(to_child), str(from_child), spec.handler,
                 str(spec.code_dir), *map(str, spec.layer_dirs)],
                env=environment, cwd=spec.code_dir, pass_fds=(to_child, from_child), stdin=subprocess.DEVNULL)
        except BaseException:
            os.close(self._to_child)
            os.close(self._from_child)
            raise
        finally:
            os.close(to_child)
            os.close(from_child)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._from_child, selectors.EVENT_READ)
        self._buffer = b""
        self._closed = False
        self._closing = threading.Lock()
        ready = self._receive(time.monotonic() + INIT_SECONDS)
        if ready is None or ready["kind"] != "ready":
            self.kill()
            detail = ready or {"errorType": "Runtime.ExitError", "errorMessage": "no answer from the runtime"}
            raise FunctionError(f"{spec.name} did not start from {spec.code_dir}: {detail['errorType']}: "
                                f"{detail['errorMessage']}\n{''.join(detail.get('stackTrace', []))}")

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def invoke(self, event: Any) -> tuple[bytes, str | None]:
        request_id = str(uuid.uuid4())
        deadline = time.monotonic() + self.spec.timeout
        self._send({"request_id": request_id, "deadline": time.time() + self.spec.timeout, "event": event,
                    "faults": faults.armed(self.spec.name, event)})
        while True:
            message = self._receive(deadline)
            if message is None:  # timed out or died: Lambda discards the environment
                self.kill()
                return error_payload("Sandbox.Timedout", f"Task timed out after {self.spec.timeout} seconds "
                                      "(or the runtime exited)", request_id), "Unhandled"
            if message["kind"] == "call":
                actions = faults.actions_for(message["service"], message["operation"])
                self._send({"fail": faults.decide(self.spec.name, actions, event)})
            elif message["kind"] == "result":
                return message["payload"].encode(), None
            else:
                return error_payload(message["errorType"], message["errorMessage"], request_id,
                                      message.get("stackTrace", [])), "Unhandled"

    def _send(self, message: dict[str, Any]) -> None:
        os.write(self._to_child, json.dumps(message, default=str).encode() + b"\n")

    def _receive(self, deadline: float) -> dict[str, Any] | None:
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._selector.select(remaining):
                return None
            chunk = os.read(self._from_child, 1 << 16)
            if not chunk:
                return None
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def kill(self) -> None:
        """End the worker and close its pipes, once (a file descriptor closed twice may be another's)."""
        with self._closing:
            if self._closed:
                return
            self._closed = True
        if self.alive:
            self._process.kill()
        self._process.wait()
        self._selector.close()
        os.close(self._to_child)
        os.close(self._from_child)


def error_payload(error_type: str, message: str, request_id: str, trace: list[str] | None = None) -> bytes:
    """A function error's payload, as Lambda answers it."""
    return json.dumps({"errorMessage": message, "errorType": error_type, "requestId": request_id,
                       "stackTrace": trace or []}).encode()
