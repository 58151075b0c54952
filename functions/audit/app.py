"""Audit API (Function URL, AWS_IAM): the same history queries as `refunds audit`, over HTTP.
GET /cases/{case_id}/history, /verify?case=CASE_ID, /search?account=&patient=&guarantor=&payer=&status=&from=&to=
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver, Response
from aws_lambda_powertools.event_handler.exceptions import BadRequestError
from aws_lambda_powertools.utilities.typing import LambdaContext
from creditrefunds.adapters.config import FunctionConfig
from creditrefunds.adapters.runtime import answers_doctor, lambda_runtime
from creditrefunds.usecases import audit

logger, tracer, services = lambda_runtime(FunctionConfig)
app = LambdaFunctionUrlResolver()


def not_found(message: str) -> Response:
    return Response(404, "application/json", json.dumps({"message": message}))


@app.get("/cases/<case_id>/history")
def case_history(case_id: str) -> dict[str, Any] | Response:
    records = audit.case_history(services().history, case_id)
    return {"case_id": case_id, "records": records} if records else not_found(f"no history for case {case_id}")


@app.get("/verify")
def verify() -> dict[str, Any]:
    case_id = app.current_event.get_query_string_value("case")
    if not case_id:
        raise BadRequestError("give the case to verify: /verify?case=CASE_ID")
    found = audit.verify(services().cases, services().history, case_id)
    return {"case_id": case_id, "whole": not found.breaks, "breaks": [str(b) for b in found.breaks]}


@app.get("/search")
def search() -> dict[str, Any]:
    try:
        return {"records": audit.search(services().history, app.current_event.query_string_parameters or {})}
    except ValueError as error:
        raise BadRequestError(str(error)) from None


app.not_found(lambda _: not_found("no such audit query: see the module docstring"))


@answers_doctor
@logger.inject_lambda_context(log_event=False)  # query strings may name patients
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
