"""Approval by email: ask the tier's approver with a single-use link; decide once, by POST only.

The task token is written to the approvals table when the approval is asked and read back only
to answer the task; the mail and the page carry a random approval id.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from creditrefunds.domain.approvals import (
    Approval,
    CaseGone,
    NotThisApprover,
    Outcome,
    TaskGone,
    approver_for,
    can_investigate,
    mask_name,
    may_decide,
    paused_days,
    read_decision,
    usable,
)
from creditrefunds.domain.cases import StoredCase
from creditrefunds.domain.history import Entry
from creditrefunds.domain.mail import approval_request
from creditrefunds.domain.pages import Page, answer, case_page
from creditrefunds.domain.refunds import work_item
from creditrefunds.domain.status import Status
from creditrefunds.usecases.ports import Ports

logger = logging.getLogger(__name__)


def request_approval(ports: Ports, case_id: str, tier: int, task_token: str, approvers: dict[int, str],
                     site_url: str, link_ttl: int, now: datetime) -> dict[str, Any]:
    """Keep the task token server-side and mail the tier's approver a link to the case."""
    stored = ports.cases.require(case_id)
    case = stored.case
    approver = approver_for(tier, approvers)
    approval = ports.approvals.create(case, tier, approver, task_token, now, link_ttl)
    link = site_url.rstrip("/") + f"/approve/{approval.approval_id}"
    masked = mask_name(ports.transactions.patient_name(case.account_id))
    ports.mailer.send(approval_request(case, approval, link, masked), now)
    ports.cases.set_status(case_id, Status.AWAITING_APPROVAL, approval_id=approval.approval_id, tier=tier)
    ports.history.append(case, Entry("system:request-approval", "EMAILED", stored.status, Status.AWAITING_APPROVAL,
                                     f"approval asked of the tier {tier} approver {approver}", case.refund_total), now)
    logger.info("approval requested", extra={"case_id": case_id, "tier": tier})
    return {"case_id": case_id, "tier": tier}


def _link(ports: Ports, approval_id: str, now: datetime) -> tuple[Approval, StoredCase]:
    """The approval behind a link and its case; LinkRefused when the link cannot decide."""
    approval = usable(ports.approvals.get(approval_id), now)
    stored = ports.cases.get(approval.case_id)
    if stored is None:
        raise CaseGone()
    return approval, stored


def _page(ports: Ports, approval: Approval, stored: StoredCase, error: str = "", status: int = 200) -> Page:
    case = stored.case
    masked = mask_name(ports.transactions.patient_name(case.account_id))
    return case_page(case, masked, approval.tier, can_investigate(case), error, status)


def show(ports: Ports, approval_id: str, now: datetime) -> Page:
    """GET: the case behind the link, with its buttons. Opening it decides nothing."""
    return _page(ports, *_link(ports, approval_id, now))


def decide(ports: Ports, approval_id: str, form: dict[str, str], source: str, pause_seconds: int,
           seconds_per_day: int, now: datetime) -> Page:
    """POST: the approver's decision, once. The task is answered, the case and its history follow."""
    approval, stored = _link(ports, approval_id, now)
    case = stored.case
    try:
        decision = read_decision(form, case)
    except ValueError as error:
        return _page(ports, approval, stored, str(error), 400)
    if not may_decide(approval.approver, ports.history.records(case.case_id)):
        raise NotThisApprover()
    token = ports.approvals.take(approval, decision.outcome, now)
    output = {"outcome": decision.outcome, "credit": approval.credit, "decided_by": approval.approver,
              "reason": decision.reason, "pause_seconds": pause_seconds, "tier": approval.tier}
    if not ports.workflows.answer(token, output):
        raise TaskGone()
    fields: dict[str, Any] = {}
    if decision.outcome is Outcome.INVESTIGATE:
        fields["paused_days"] = paused_days(pause_seconds, seconds_per_day, stored.paused_days,
                                            ports.settings.investigation_max_days)
    after = decision.outcome.status_after
    ports.cases.set_status(case.case_id, after, **fields)
    who = f"{approval.approver} (tier {approval.tier} link, from {source})"
    reason = f"{decision.outcome.lower()} by {who}" + (f": {decision.reason}" if decision.reason else "")
    ports.history.append(case, Entry(approval.approver, "DECIDED", stored.status, after, reason, case.refund_total),
                         now)
    if decision.outcome is Outcome.REJECTED:
        key = ports.bucket.put_work_item(case.case_id, work_item(
            case, f"refund rejected by the approver: {decision.reason}", now))
        ports.events.publish("WorkItemCreated", {"case_id": case.case_id, "account_id": case.account_id, "key": key,
                                                 "why": "refund rejected"})
    logger.info("approval decided", extra={"case_id": case.case_id, "outcome": decision.outcome})
    return answer(200, "Decision recorded", decision.outcome.done)
