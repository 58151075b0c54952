"""Audit API (Function URL, AWS_IAM): the same history queries as `refunds audit`, over HTTP.

    GET /cases/{case_id}/history          the case's records in order
    GET /verify?case=CASE_ID              the breaks in the case's chain (empty when whole)
    GET /search?account=&patient=&guarantor=&payer=&status=&from=&to=
"""

from __future__ import annotations

from datetime import date
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver, Response
from aws_lambda_powertools.event_handler.exceptions import BadRequestError, NotFoundError
from creditrefunds.aws import Aws
from creditrefunds.history import public, verify_chain

logger = Logger()
app = LambdaFunctionUrlResolver()


@app.get("/cases/<case_id>/history")
def case_history(case_id: str) -> dict[str, Any]:
    records = Aws().history.records(case_id)
    if not records:
        raise NotFoundError(f"no history for case {case_id}")
    return {"case_id": case_id, "records": [public(r) for r in records]}


@app.get("/verify")
def verify() -> dict[str, Any]:
    case_id = app.current_event.get_query_string_value("case")
    if not case_id:
        raise BadRequestError("give the case to verify: /verify?case=CASE_ID")
    aws = Aws()
    item = aws.cases.get(case_id)
    head = (int(item["history_seq"]), item["history_hash"]) if item and "history_seq" in item else None
    breaks = verify_chain(case_id, aws.history.records(case_id), head)
    return {"case_id": case_id, "whole": not breaks, "breaks": [str(b) for b in breaks]}


@app.get("/search")
def search() -> dict[str, Any]:
    query = app.current_event.get_query_string_value
    filters = {name: query(name) or "" for name in ("account", "patient", "guarantor", "payer", "status")}
    try:
        start = date.fromisoformat(query("from")) if query("from") else None
        end = date.fromisoformat(query("to")) if query("to") else None
        records = Aws().history.search(filters, start, end)
    except ValueError as error:
        raise BadRequestError(str(error)) from None
    return {"records": [{"case_id": r["case_id"], **public(r)} for r in records]}


@app.not_found
def unknown(_: Exception) -> Response:
    return Response(404, "application/json", '{"message": "no such audit query: see the module docstring"}')


@logger.inject_lambda_context(log_event=False)  # query strings may name patients
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
