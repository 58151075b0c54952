"""Escalate: a waiting approval moves up a tier; a failed step lands the case in FAILED."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger
from creditrefunds.aws import Aws
from creditrefunds.history import Entry
from creditrefunds.stores import case_from_item
from creditrefunds.workflow import StepNotBuilt

logger = Logger()


@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if event.get("action") == "fail":
        return record_failure(Aws(), event)
    raise StepNotBuilt("escalation of a waiting approval is not built yet")


def record_failure(aws: Aws, event: dict[str, Any]) -> dict[str, Any]:
    """The step's error is made visible: the case is FAILED and the error logged for operators."""
    error = event.get("error") or {}
    case_id = event["case_id"]
    item = aws.cases.get(case_id)
    if item is not None:
        aws.cases.set_status(case_id, "FAILED")
        cause = str(error.get("Cause") or "")[:1000]
        aws.history.append(case_from_item(item), Entry(
            "system:workflow", "FAILED", item["status"], "FAILED", f"{error.get('Error')}: {cause}", None,
        ), datetime.now(UTC))
    logger.error(
        "case failed", extra={"case_id": case_id, "error": error.get("Error"), "cause": str(error.get("Cause"))[:500]}
    )
    return {"case_id": case_id, "status": "FAILED", "error": error.get("Error")}
