"""Approval web: the pages behind mailed approval links. GET only shows; only a POST decides."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from aws_lambda_powertools import Logger
from creditrefunds.approvals import DECISIONS, Approval, LinkRefused, can_investigate, mask_name
from creditrefunds.aws import Aws
from creditrefunds.cases import Case
from creditrefunds.history import Entry
from creditrefunds.outbound import write_work_item
from creditrefunds.pages import answer, case_page
from creditrefunds.stores import case_from_item

logger = Logger()
PREPARER_ACTIONS = ("PREPARED", "REVIEWED", "RECHECKED", "NOTED")
STATUS_AFTER = {"APPROVED": "APPROVED", "REJECTED": "WORK_ITEM", "INVESTIGATE": "INVESTIGATING"}


@logger.inject_lambda_context(log_event=False)  # the path holds the approval id: never logged
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    method = event.get("requestContext", {}).get("http", {}).get("method", "GET")
    parts = [p for p in event.get("rawPath", "/").split("/") if p]
    if len(parts) != 2 or parts[0] != "approve":
        return answer(404, "Approval link not found", "This approval link is unknown. Nothing was decided.")
    aws, now = Aws(), datetime.now(UTC)
    try:
        approval = aws.approvals.usable(parts[1], now)
        item = aws.cases.get(approval.case_id)
        if item is None:
            raise LinkRefused(404, "Case not found", "The case of this link is no longer stored.")
        case = case_from_item(item)
        if method == "GET" or method == "HEAD":
            return _page(aws, case, approval)
        if method != "POST":
            return answer(405, "Not allowed", "Use the buttons on the approval page.")
        return _decide(aws, event, case, item, approval, now)
    except LinkRefused as refused:
        return answer(refused.status, refused.title, refused.message)


def _page(aws: Aws, case: Case, approval: Approval, error: str = "", status: int = 200) -> dict[str, Any]:
    masked = mask_name(aws.transactions.patient_name(case.account_id))
    return case_page(case, masked, approval.tier, can_investigate(case), error, status)


def _form(event: dict[str, Any]) -> dict[str, str]:
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        body = base64.b64decode(body).decode("utf-8", "replace")
    return {k: v[0].strip() for k, v in parse_qs(body).items()}


def _decide(aws: Aws, event: dict[str, Any], case: Case, item: dict[str, Any], approval: Approval,
            now: datetime) -> dict[str, Any]:
    form = _form(event)
    outcome = DECISIONS.get(form.get("decision", ""))
    reason = form.get("reason", "")[:1000]
    if outcome is None:
        return _page(aws, case, approval, "Choose Approve, Reject or Investigate.", 400)
    if outcome == "REJECTED" and not reason:
        return _page(aws, case, approval, "A rejection needs a reason: say why, then press Reject again.", 400)
    if outcome == "INVESTIGATE" and not can_investigate(case):
        return _page(aws, case, approval, "Only Medicare and Medicaid refunds can be investigated.", 400)
    preparers = {r["actor"] for r in aws.history.records(case.case_id) if r["action"] in PREPARER_ACTIONS}
    if approval.approver in preparers:
        return answer(403, "Another approver must decide",
                      "You prepared or reviewed this case, so you cannot approve it (segregation of duties). "
                      "Nothing was decided; the case escalates to the next approver when its wait runs out.")
    token = aws.approvals.take(approval, approval.approver, outcome, now)
    pause = aws.int_env("INVESTIGATION_PAUSE_SECONDS", 180 * 86400)
    output = {"outcome": outcome, "credit": approval.credit, "decided_by": approval.approver, "reason": reason,
              "pause_seconds": pause, "tier": approval.tier}
    sfn = aws.client("stepfunctions")
    try:
        sfn.send_task_success(taskToken=token, output=json.dumps(output))
    except (sfn.exceptions.TaskTimedOut, sfn.exceptions.TaskDoesNotExist, sfn.exceptions.InvalidToken):
        return answer(410, "Approval no longer waiting", "This approval waited too long and moved on to another "
                      "approver before your decision arrived. Nothing was decided by this link.")
    after = STATUS_AFTER[outcome]
    fields: dict[str, Any] = {}
    if outcome == "INVESTIGATE":
        days_per_pause = pause // aws.int_env("SECONDS_PER_DAY", 86400)
        fields["paused_days"] = min(int(days_per_pause) + int(item.get("paused_days", 0)),
                                    aws.settings.investigation_max_days)
    aws.cases.set_status(case.case_id, after, **fields)
    who = f"{approval.approver} (tier {approval.tier} link, from {_source(event)})"
    aws.history.append(case, Entry(approval.approver, "DECIDED", item["status"], after,
                                   f"{outcome.lower()} by {who}" + (f": {reason}" if reason else ""),
                                   case.refund_total), now)
    if outcome == "REJECTED":
        bucket = aws.env["LEDGER_BUCKET"]
        key = write_work_item(aws.client("s3"), bucket, case, f"refund rejected by the approver: {reason}", now)
        aws.publish("WorkItemCreated", {"case_id": case.case_id, "account_id": case.account_id, "key": key,
                                        "why": "refund rejected"})
    logger.info("approval decided", extra={"case_id": case.case_id, "outcome": outcome})
    done = {"APPROVED": "Approved: the refund is re-checked against the ledger and then issued.",
            "REJECTED": "Rejected: the case goes to billing staff as a work item with your reason.",
            "INVESTIGATE": "Investigation opened: the approval pauses, then resumes."}[outcome]
    return answer(200, "Decision recorded", done)


def _source(event: dict[str, Any]) -> str:
    return str(event.get("requestContext", {}).get("http", {}).get("sourceIp", "unknown address"))
