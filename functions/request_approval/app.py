"""Request approval: keep the task token server-side and mail the tier's approver a single-use link."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger
from creditrefunds.approvals import approval_email, approver_for, mask_name
from creditrefunds.aws import Aws
from creditrefunds.history import Entry
from creditrefunds.stores import case_from_item

logger = Logger()


@logger.inject_lambda_context(log_event=False)  # the event carries the task token: never logged
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    aws, now = Aws(), datetime.now(UTC)
    item = aws.cases.require(event["case_id"])
    case = case_from_item(item)
    tier = int(event["tier"])
    approver = approver_for(tier, aws.env)
    approval = aws.approvals.create(case, tier, approver, event["task_token"], now,
                                    aws.int_env("APPROVAL_LINK_TTL_SECONDS", 7 * 86400))
    link = aws.env["APPROVAL_SITE_URL"].rstrip("/") + f"/approve/{approval.approval_id}"
    masked = mask_name(aws.transactions.patient_name(case.account_id))
    subject, text, html_body = approval_email(case, approval, link, masked)
    aws.mail([approver], subject, text, html_body, now)
    aws.cases.set_status(case.case_id, "AWAITING_APPROVAL", approval_id=approval.approval_id, tier=tier)
    aws.history.append(case, Entry("system:request-approval", "EMAILED", item["status"], "AWAITING_APPROVAL",
                                   f"approval asked of the tier {tier} approver {approver}", case.refund_total), now)
    logger.info("approval requested", extra={"case_id": case.case_id, "tier": tier})
    return {"case_id": case.case_id, "tier": tier}
