"""Where moto would start a Docker container for a Lambda function, run it in-process instead; and what
moto's server works out again for every request.

Seams of moto replaced while the local cloud runs:
- `LambdaFunction.invoke`, which every synchronous path reaches (the Lambda API, Step
  Functions' lambda:invoke integrations, a Function URL request);
- the S3 notification's Lambda call, which in AWS is asynchronous and so is queued here.
Functions the local cloud does not know keep moto's own behaviour.
"""

from __future__ import annotations

import contextvars
import json
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import moto.backends
import moto.core.responses
from moto.awslambda.models import LambdaFunction
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.s3 import notifications
from moto.s3.models import S3Backend

from localcloud.lambdas import LambdaRuntime
from localcloud.patching import replaced


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

    with replaced((LambdaFunction, "invoke", invoke), (notifications, "_invoke_awslambda", s3_invoke)):
        yield


@contextmanager
def routing_worked_out_once() -> Iterator[None]:
    """What moto's server works out again for every request, though it cannot change while it runs:
    the list of its services (a directory read and a stat per service), the service a host name is
    (a few hundred URL patterns tried in turn: the local cloud's host matches none, its signing
    service's host is then tried), and the method names of the service's response class
    (`inspect.getmembers`, to find the action)."""
    original_list, original_names = moto.backends.list_of_moto_modules, moto.core.responses.method_names_from_class
    original_backend = DomainDispatcherApplication.get_backend_for_host
    listed = list(original_list())
    names: dict[type, list[str]] = {}
    backends: dict[str | None, Any] = {}

    def get_backend_for_host(self: DomainDispatcherApplication, host: str | None) -> Any:
        if host not in backends:
            backends[host] = original_backend(self, host)
        return backends[host]

    def method_names_from_class(clazz: Any) -> list[str]:
        if clazz not in names:
            names[clazz] = original_names(clazz)
        return names[clazz]

    with replaced((moto.backends, "list_of_moto_modules", lambda: iter(listed)),
                  (moto.core.responses, "method_names_from_class", method_names_from_class),
                  (DomainDispatcherApplication, "get_backend_for_host", get_backend_for_host)):
        yield



_COMPLETING: contextvars.ContextVar[bool] = contextvars.ContextVar("completing", default=False)


@contextmanager
def uploads_notify_once() -> Iterator[None]:
    """A multipart upload notifies once, as in S3 (`s3:ObjectCreated:CompleteMultipartUpload`). moto
    5.2.5 also sends `ObjectCreated:Put` for the object its completion writes: every ledger uploaded
    in parts (boto3's `upload_file` above 8 MB) was ingested twice, at once."""
    original_complete, original_put = S3Backend.complete_multipart_upload, S3Backend.put_object

    def complete_multipart_upload(self: S3Backend, *args: Any, **kwargs: Any) -> Any:
        token = _COMPLETING.set(True)
        try:
            return original_complete(self, *args, **kwargs)
        finally:
            _COMPLETING.reset(token)

    def put_object(self: S3Backend, *args: Any, **kwargs: Any) -> Any:
        if _COMPLETING.get():
            kwargs["disable_notification"] = True
        return original_put(self, *args, **kwargs)

    with replaced((S3Backend, "complete_multipart_upload", complete_multipart_upload),
                  (S3Backend, "put_object", put_object)):
        yield
