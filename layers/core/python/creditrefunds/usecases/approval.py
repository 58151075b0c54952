"""Approval by email: ask an approver with a single-use link to a snapshot of the case; decide once,
by POST only, and only while the case still waits for that very link.

The task token is written to the approvals table when the approval is asked and read back only
to answer the task. The case's status and history record the decision before the task is
answered, so a later step can never be overwritten by it. What the task's output says is not
trusted by anyone: the next step reads the decision from the approvals table.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from creditrefunds.domain.approval_policy import pick_approver, read_decision, refusal
from creditrefunds.domain.approvals import (
    Approval,
    CaseGone,
    NotThisApprover,
    Outcome,
    Snapshot,
    TaskGone,
    UnknownLink,
    mask_name,
    paused_days,
    usable,
)
from creditrefunds.domain.history import Entry
from creditrefunds.domain.mail import approval_request
from creditrefunds.domain.pages import Page, answer, case_page
from creditrefunds.domain.status import Status
from creditrefunds.usecases.ports import Ports

logger = logging.getLogger(__name__)


def request_approval(ports: Ports, case_id: str, tier: int, task_token: str, directory: dict[int, list[str]],
                     site_url: str, link_ttl: int, now: datetime) -> dict[str, Any]:
    """Keep the task token server-side and mail an approver of `tier` a link to the case as it is now."""
    stored = ports.cases.require(case_id)
    case = stored.case
    snapshot = Snapshot.of(case, ports.settings.tier_for(case.refund_total),
                           mask_name(ports.transactions.patient_name(case.account_id)))
    approver = pick_approver(tier, snapshot.tier, directory, snapshot.digest, ports.approvals.of_case(case_id),
                             ports.settings.dual_control_tier)
    link_id, approval = ports.approvals.create(snapshot, tier, approver, task_token, now, link_ttl)
    ports.mailer.send(approval_request(snapshot, approval, site_url.rstrip("/") + f"/approve/{link_id}"), now)
    ports.cases.set_status(case_id, Status.AWAITING_APPROVAL, approval_key=approval.approval_key, tier=tier)
    ports.history.append(case, Entry("system:request-approval", "EMAILED", stored.status, Status.AWAITING_APPROVAL,
                                     f"approval asked of the tier {tier} approver {approver}", case.refund_total), now)
    logger.info("approval requested", extra={"case_id": case_id, "tier": tier})
    return {"case_id": case_id, "tier": tier}


def _link(ports: Ports, link_id: str, now: datetime) -> tuple[Approval, Snapshot]:
    """The approval behind a link that may still decide, and the snapshot it shows; else LinkRefused."""
    approval = usable(ports.approvals.get(link_id), now)
    if approval.snapshot is None:
        raise UnknownLink()
    return approval, approval.snapshot


def show(ports: Ports, link_id: str, now: datetime) -> Page:
    """GET: the snapshot behind the link, with its buttons. Opening it decides nothing."""
    approval, snapshot = _link(ports, link_id, now)
    return case_page(snapshot, approval.tier)


def decide(ports: Ports, link_id: str, form: dict[str, str], source: str, pause_seconds: int,
           seconds_per_day: int, now: datetime) -> Page:
    """POST: the approver's decision on the snapshot, once; refused when policy says this approver may not."""
    approval, snapshot = _link(ports, link_id, now)
    try:
        decision = read_decision(form, snapshot)
    except ValueError as error:
        return case_page(snapshot, approval.tier, str(error), 400)
    stored = ports.cases.get(approval.case_id)
    if stored is None:
        raise CaseGone()
    why_not = refusal(approval, ports.approvals.of_case(approval.case_id),
                      ports.history.records(approval.case_id), ports.settings.dual_control_tier)
    if why_not is not None:
        ports.history.append(stored.case, Entry(approval.approver, "REFUSED", stored.status, stored.status,
                                                f"{approval.approver} may not decide: {why_not}"), now)
        raise NotThisApprover(why_not)
    token = ports.approvals.take(approval, decision.outcome, decision.reason, now)
    fields: dict[str, Any] = {}
    if decision.outcome is Outcome.INVESTIGATE:
        fields["paused_days"] = paused_days(pause_seconds, seconds_per_day, stored.paused_days,
                                            ports.settings.investigation_max_days)
    after = decision.outcome.status_after
    if not ports.cases.decide(approval.case_id, approval.approval_key, after, **fields):
        ports.approvals.mark_late(approval)
        raise TaskGone()
    reason = (f"{decision.outcome.lower()} by {approval.approver} (tier {approval.tier} link, from {source}) for "
              f"the lines of digest {approval.digest[:16]}" + (f": {decision.reason}" if decision.reason else ""))
    ports.history.append(stored.case, Entry(approval.approver, "DECIDED", stored.status, after, reason,
                                            snapshot.refund_total), now)
    if not ports.workflows.answer(token, {"approval_key": approval.approval_key}):
        ports.approvals.mark_late(approval)  # the wait ran out a moment before: escalation asks again
        ports.history.append(stored.case, Entry("system:approval", "DECISION_LATE", after, after,
                                                "the approval's wait ran out before the decision reached the "
                                                "workflow: it decides nothing"), now)
        raise TaskGone()
    logger.info("approval decided", extra={"case_id": approval.case_id, "outcome": decision.outcome})
    return answer(200, "Decision recorded", decision.outcome.done)
