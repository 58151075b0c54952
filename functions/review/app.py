"""Review / re-check: the case against the current stored ledger; the route the workflow takes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger
from creditrefunds.aws import Aws
from creditrefunds.cases import Case
from creditrefunds.history import Entry
from creditrefunds.ledger_store import guarantor_debits
from creditrefunds.outbound import write_work_item
from creditrefunds.review import STATUS_FOR_ROUTE, approval_wait_seconds, pause_clock, review_case
from creditrefunds.stores import case_from_item

logger = Logger()


@logger.inject_lambda_context(log_event=True)  # the event holds a case id and settings only
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    aws = Aws()
    item = aws.cases.require(event["case_id"])
    stored = case_from_item(item)
    summary, transactions = aws.transactions.summary(stored.account_id)
    pool = guarantor_debits(summary, aws.transactions)
    review = review_case(stored, summary, transactions, aws.settings, pool,
                         approved_credit=event.get("approved_credit"))
    now = datetime.now(UTC)
    today = now.date()
    result: dict[str, Any] = {"route": review.route, "tier": stored.tier, "wait_seconds": 1}
    fields: dict[str, Any] = {}
    if review.case is not None:
        pause_clock(review.case, int(item.get("paused_days", 0)))
        aws.cases.update_figures(review.case)
        due = review.case.due_date
        if due is not None and due < today:
            fields["overdue"] = True  # stays set in every listing until the case closes
        tier = review.case.tier
        wait = int(event["approval_wait_seconds"].get(str(tier), 1)) if tier else 1
        result["tier"] = tier
        result["wait_seconds"] = approval_wait_seconds(
            review.case, today, wait, int(event["seconds_per_day"]), int(event["escalation_lead_seconds"])
        )
    status = STATUS_FOR_ROUTE[review.route]
    aws.cases.set_status(stored.case_id, status, **fields)
    recheck = event.get("step") == "recheck"
    if review.route == "WORK_ITEM" and review.case is not None:
        key = write_work_item(aws.client("s3"), aws.env["LEDGER_BUCKET"], review.case,
                              "no refund to make: post the CORRECT lines, review the REVIEW lines, keep HOLD lines "
                              "on the books until they can be refunded", now)
        aws.publish("WorkItemCreated", {"case_id": stored.case_id, "account_id": stored.account_id, "key": key,
                                        "why": "no refund line"})
    aws.history.append(review.case or stored, Entry(
        "system:review", "RECHECKED" if recheck else "REVIEWED", item["status"], status,
        _why(review.route, stored, review.case), review.case.credit if review.case else None,
    ), now)
    logger.info("case reviewed", extra={"case_id": stored.case_id, "route": review.route})
    return result


def _why(route: str, stored: Case, now: Case | None) -> str:
    if now is None:
        return f"the credit of {stored.credit:f} is gone from the ledger"
    changed = f"; the credit changed from {stored.credit:f} to {now.credit:f}" if now.credit != stored.credit else ""
    return {
        "APPROVAL": f"refund lines of {now.refund_total:f} need tier {now.tier} approval",
        "WORK_ITEM": "no refund to make: the lines are for billing staff (correct, review or hold)",
        "ISSUE": "approved amount still matches the ledger: refund may be issued",
    }.get(route, route) + changed
