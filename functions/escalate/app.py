"""Escalate: a waiting approval moves up a tier; a failed step lands the case in FAILED.

On an approval's timeout the next tier's approver is asked (the waiting one is told, and
their link stops working); when the due date is within the escalation lead the compliance
officer is told; past it the case is flagged overdue, and stays so in every listing.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from aws_lambda_powertools import Logger
from creditrefunds.aws import Aws
from creditrefunds.cases import Case
from creditrefunds.history import Entry
from creditrefunds.money import ZERO
from creditrefunds.review import approval_wait_seconds
from creditrefunds.stores import case_from_item

logger = Logger()
TOP_TIER = 3


@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if event.get("action") == "fail":
        return record_failure(Aws(), event)
    return escalate(Aws(), event, datetime.now(UTC))


def escalate(aws: Aws, event: dict[str, Any], now: datetime) -> dict[str, Any]:
    item = aws.cases.require(event["case_id"])
    case = case_from_item(item)
    today = now.date()
    old_tier = int(event["tier"])
    new_tier = min(TOP_TIER, old_tier + 1)
    seconds_per_day, lead = int(event["seconds_per_day"]), int(event["escalation_lead_seconds"])
    waiting = aws.approvals.supersede_pending(case.case_id, [item["approval_id"]] if "approval_id" in item else [])
    for approval in waiting:
        aws.mail([approval.approver], f"Approval moved on: account {case.account_id}",
                 f"The refund approval for account {case.account_id} waited past its time and was passed to the "
                 f"tier {new_tier} approver. Your link no longer decides anything.",
                 f"<p>The refund approval for account {case.account_id} waited past its time and was passed to the "
                 f"tier {new_tier} approver. Your link no longer decides anything.</p>", now)
    due = case.due_date
    overdue = bool(item.get("overdue")) or (due is not None and due < today)
    near = due is not None and (due - today).days * seconds_per_day <= lead
    # The compliance officer is told once per news, not at every repeat of a tier-3 wait.
    news = {"told_overdue": due is not None and due < today, "told_near": near, "told_top": old_tier == TOP_TIER}
    fresh = {flag for flag, happened in news.items() if happened and not item.get(flag)}
    if "told_overdue" in fresh:
        fresh.add("told_near")  # past due says more than near
    told = []
    if fresh:
        why = ("past its due date" if "told_overdue" in fresh else
               f"due {due.isoformat()}" if "told_near" in fresh and due is not None else "still waiting")
        if "told_top" in fresh:
            why += ", and no approver tier is left above tier 3"
        subject = f"Credit balance refund not yet approved, {why.split(',')[0]}: account {case.account_id}"
        body = (f"The refund of {case.refund_total:f} on account {case.account_id} (case {case.case_id}) is "
                f"{why}. It now waits for the tier {new_tier} approver.")
        aws.mail([aws.env["COMPLIANCE_OFFICER_EMAIL"]], subject, body, f"<p>{body}</p>", now)
        told.append("compliance officer told")
    level = int(item.get("escalation_level", 0)) + 1
    aws.cases.set_status(case.case_id, "AWAITING_APPROVAL", tier=new_tier, escalation_level=level, overdue=overdue,
                         **{flag: True for flag in fresh})
    reason = f"approval waited past its time at tier {old_tier}; asked tier {new_tier}"
    if overdue:
        reason += "; past the due date: flagged overdue"
    if told:
        reason += "; " + ", ".join(told)
    aws.history.append(case, Entry("system:escalate", "ESCALATED", item["status"], "AWAITING_APPROVAL", reason,
                                   case.refund_total), now)
    wait = int(event["approval_wait_seconds"].get(str(new_tier), 1))
    logger.info("approval escalated", extra={"case_id": case.case_id, "tier": new_tier, "level": level})
    return {"route": "APPROVAL", "tier": new_tier,
            "wait_seconds": approval_wait_seconds(case, today, wait, seconds_per_day, lead)}


def record_failure(aws: Aws, event: dict[str, Any]) -> dict[str, Any]:
    """The step's error is made visible: FAILED, a history record with the error, operators told."""
    error = event.get("error") or {}
    case_id = event["case_id"]
    now = datetime.now(UTC)
    item = aws.cases.get(case_id)
    cause = str(error.get("Cause") or "")[:1000]
    if item is not None:
        aws.cases.set_status(case_id, "FAILED")
        aws.history.append(_case_for_history(item), Entry(
            "system:workflow", "FAILED", item["status"], "FAILED", f"{error.get('Error')}: {cause}", None,
        ), now)
    text = (f"Case {case_id} failed at a workflow step and needs a person.\n\nError: {error.get('Error')}\n"
            f"Cause: {cause}\n\nThe case's history holds the record (refunds audit case {case_id}).")
    aws.mail([aws.env["OPERATORS_EMAIL"]], f"Refund workflow failure: case {case_id}", text,
             "<pre>" + text.replace("<", "&lt;") + "</pre>", now)
    logger.error("case failed", extra={"case_id": case_id, "error": error.get("Error"), "cause": cause[:500]})
    return {"case_id": case_id, "status": "FAILED", "error": error.get("Error")}


def _case_for_history(item: dict[str, Any]) -> Case:
    """The case as far as it can be read: a failure must reach the history even when the
    stored case itself is what is broken."""
    try:
        return case_from_item(item)
    except (KeyError, ValueError, TypeError, ArithmeticError):
        return Case(item["case_id"], str(item.get("account_id", "")), str(item.get("patient_id", "")),
                    str(item.get("guarantor_id", "")), ZERO, date.min)
