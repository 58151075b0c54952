"""Lambda's runtime loop for one function, run by the local cloud in a clean interpreter.

Started as `python3.12 -I -S bootstrap.py IN OUT HANDLER CODE_DIR LAYER_DIR...`: no site-packages,
no PYTHON* variables, no current folder; the path is the function's own folder and its layers'
python/ folders (then the standard library), as Lambda mounts them at /var/task and /opt/python.
Nothing of the local cloud or of the source tree is importable: this file uses the standard library
until the function's code runs.

One request at a time on IN, one JSON line each; answers on OUT. Each AWS call the function makes is
told to the local cloud first (`call`), which answers whether to let it through (its chaos switch).
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import threading
import time
import traceback
from typing import Any


class Context:
    """The context object a handler receives in AWS."""

    def __init__(self, spec: dict[str, Any], request_id: str, deadline: float) -> None:
        self.function_name = spec["name"]
        self.invoked_function_arn = spec["arn"]
        self.memory_limit_in_mb = spec["memory"]
        self.function_version = "$LATEST"
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{spec['name']}"
        self.log_stream_name = f"local/{request_id}"
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


def main() -> None:
    inbox = os.fdopen(int(sys.argv[1]), "rb")
    outbox = os.fdopen(int(sys.argv[2]), "wb")
    handler_name, code_dir, layer_dirs = sys.argv[3], sys.argv[4], sys.argv[5:]
    sys.path[:0] = [code_dir, *layer_dirs]

    def send(message: dict[str, Any]) -> None:
        outbox.write(json.dumps(message, default=str).encode() + b"\n")
        outbox.flush()

    def receive() -> dict[str, Any]:
        line = inbox.readline()
        if not line:  # the local cloud stopped
            sys.exit(0)
        return json.loads(line)

    faults = {"armed": False}  # whether the running invocation's calls ask the local cloud
    try:
        _watch_aws_calls(send, receive, faults)
        module_name, function_name = handler_name.rsplit(".", 1)
        handler = getattr(importlib.import_module(module_name), function_name)
    except BaseException as error:
        send({"kind": "init_error", **_error(error, "Runtime.ImportModuleError")})
        return
    spec = {"name": os.environ["AWS_LAMBDA_FUNCTION_NAME"], "arn": os.environ["LOCAL_FUNCTION_ARN"],
            "memory": int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])}
    send({"kind": "ready"})
    while True:
        request = receive()
        context = Context(spec, request["request_id"], request["deadline"])
        faults["armed"] = request.get("faults", False)
        try:
            result = handler(request["event"], context)
        except Exception as error:  # a handler's error is the invocation's answer
            send({"kind": "error", **_error(error)})
            continue
        try:  # as Lambda's runtime: plain JSON, or the invocation fails
            send({"kind": "result", "payload": json.dumps(result)})
        except (TypeError, ValueError) as error:
            send({"kind": "error", **_error(error, "Runtime.MarshalError")})


def _error(error: BaseException, error_type: str | None = None) -> dict[str, Any]:
    return {"errorType": error_type or type(error).__name__, "errorMessage": str(error),
            "stackTrace": traceback.format_tb(error.__traceback__)}


def _watch_aws_calls(send: Any, receive: Any, faults: dict[str, bool]) -> None:
    """While a fault is armed for the invocation, tell the local cloud of every AWS call before it
    leaves (from the function's own boto3), and fail it if the local cloud says so."""
    import boto3  # the function's: from its folder or its layer
    from botocore.exceptions import ClientError, ConnectionClosedError
    from botocore.httpsession import URLLib3Session

    crash = type("Sandbox.Timedout", (Exception,), {"__doc__": "An injected crash of the running function."})

    asking = threading.Lock()  # one question and its answer at a time: the function may call AWS from threads
    losing = threading.local()  # this thread's next request lands, and its answer is lost

    def before_call(model: Any, **_: Any) -> None:
        if not faults["armed"]:
            return
        with asking:
            send({"kind": "call", "service": model.service_model.signing_name, "operation": model.name})
            fail = receive().get("fail")
        if fail == "lost":
            losing.next = True
            return
        if fail == "throttle":
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded (injected)"},
                               "ResponseMetadata": {"HTTPStatusCode": 400}}, model.name)
        if fail:
            raise crash(fail)

    def before_send(request: Any, **_: Any) -> None:
        """A lost reply: the request is sent and lands, its answer never arrives (the connection closed), and
        botocore sends it again, as its retry does on AWS after a network blip."""
        if getattr(losing, "next", False):
            losing.next = False
            URLLib3Session().send(request)
            raise ConnectionClosedError(endpoint_url=request.url)

    boto3.setup_default_session()
    boto3.DEFAULT_SESSION.events.register("before-call", before_call, unique_id="local-cloud")
    boto3.DEFAULT_SESSION.events.register("before-send", before_send, unique_id="local-cloud-lost")


if __name__ == "__main__":
    main()
