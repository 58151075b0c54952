"""Where moto would start a Docker container for a Lambda function, run it in-process instead.

Seams of moto replaced while the local cloud runs:
- `LambdaFunction.invoke`, which every synchronous path reaches (the Lambda API, Step
  Functions' lambda:invoke integrations, a Function URL request);
- the S3 notification's Lambda call, which in AWS is asynchronous and so is queued here.
Functions the local cloud does not know keep moto's own behaviour.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto.awslambda.models import LambdaFunction
from moto.s3 import notifications

from localcloud.lambdas import LambdaRuntime
from localcloud.patches.patching import replaced


@contextmanager
def run_lambdas_in_process(runtime: LambdaRuntime) -> Iterator[None]:
    """Fidelity: `runtime` answers invocations of the functions it knows, as Lambda runs them (moto would
    start Docker, which is not here), and an S3 notification invokes asynchronously, as in AWS (moto
    invokes it while the upload waits)."""
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
