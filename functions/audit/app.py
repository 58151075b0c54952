"""Audit API (Function URL, AWS_IAM): the same history queries as `refunds audit`, over HTTP.

    GET /cases/{case_id}/history          the case's records in order
    GET /verify?case=CASE_ID              the breaks in the case's chain (empty when whole)
    GET /search?account=&patient=&guarantor=&payer=&status=&from=&to=
"""

from __future__ import annotations

from datetime import date
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver, Response
from aws_lambda_powertools.event_handler.exceptions import BadRequestError, NotFoundError
from aws_lambda_powertools.utilities.typing import LambdaContext
from creditrefunds.adapters.config import FunctionConfig
from creditrefunds.adapters.services import lazy_services
from creditrefunds.usecases import audit

logger, tracer = Logger(), Tracer()
app = LambdaFunctionUrlResolver()
services = lazy_services(FunctionConfig)


@app.get("/cases/<case_id>/history")
def case_history(case_id: str) -> dict[str, Any]:
    records = audit.case_history(services().history, case_id)
    if not records:
        raise NotFoundError(f"no history for case {case_id}")
    return {"case_id": case_id, "records": records}


@app.get("/verify")
def verify() -> dict[str, Any]:
    case_id = app.current_event.get_query_string_value("case")
    if not case_id:
        raise BadRequestError("give the case to verify: /verify?case=CASE_ID")
    found = audit.verify(services().cases, services().history, case_id)
    return {"case_id": case_id, "whole": not found.breaks, "breaks": [str(b) for b in found.breaks]}


@app.get("/search")
def search() -> dict[str, Any]:
    query = app.current_event.get_query_string_value
    filters = {name: query(name) or "" for name in ("account", "patient", "guarantor", "payer", "status")}
    try:
        start, end = (date.fromisoformat(query(d)) if query(d) else None for d in ("from", "to"))
        return {"records": audit.search(services().history, filters, start, end)}
    except ValueError as error:
        raise BadRequestError(str(error)) from None


@app.not_found
def unknown(_: Exception) -> Response:
    return Response(404, "application/json", '{"message": "no such audit query: see the module docstring"}')


@logger.inject_lambda_context(log_event=False)  # query strings may name patients
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
