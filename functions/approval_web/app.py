"""Approval web: the pages behind mailed approval links. GET only shows; only a POST decides."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext
from creditrefunds.adapters.config import FunctionConfig
from creditrefunds.adapters.runtime import answers_doctor, lambda_runtime
from creditrefunds.domain.approvals import LinkRefused, UnknownLink
from creditrefunds.domain.pages import CONTENT_TYPE, HEADERS, Page, answer, form_fields
from creditrefunds.usecases.approval import decide, show

logger, tracer, services = lambda_runtime(FunctionConfig)
app = LambdaFunctionUrlResolver()
LINK = "/approve/<approval_id>"


def served(page: Page) -> Response:
    return Response(page.status, CONTENT_TYPE, page.html, dict(HEADERS))


@app.route(LINK, method=["GET", "HEAD"])
def open_link(approval_id: str) -> Response:
    return served(show(services(), approval_id, datetime.now(UTC)))


@app.post(LINK)
def press_button(approval_id: str) -> Response:
    ports, event = services(), app.current_event
    form = form_fields(event.body, event.is_base64_encoded)
    return served(decide(ports, approval_id, form, event.request_context.http.source_ip,
                         ports.config.investigation_pause_seconds, ports.config.seconds_per_day, datetime.now(UTC)))


@app.route(LINK, method=["PUT", "PATCH", "DELETE"])
def other_method(approval_id: str) -> Response:
    return served(answer(405, "Not allowed", "Use the buttons on the approval page."))


@app.exception_handler(LinkRefused)
def refused(error: LinkRefused) -> Response:
    return served(answer(error.status, error.title, error.message))


app.not_found(lambda _: refused(UnknownLink()))


@answers_doctor
@logger.inject_lambda_context(log_event=False)  # the path holds the approval id: never logged
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
