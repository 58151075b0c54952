"""Escalate: an approval that waited past its time moves up a tier (rules in domain.escalation)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from creditrefunds.domain.escalation import escalate
from creditrefunds.domain.history import Entry
from creditrefunds.domain.mail import approval_moved_on, compliance_notice
from creditrefunds.domain.review import Route, Timing
from creditrefunds.domain.status import Status
from creditrefunds.usecases.ports import Ports

logger = logging.getLogger(__name__)


def escalate_case(ports: Ports, case_id: str, tier: int, timing: Timing, compliance: str,
                  now: datetime) -> dict[str, Any]:
    """The waiting link is superseded and its approver told, the compliance officer told of news,
    the case moved to the next tier; the workflow asks that tier's approver next."""
    stored = ports.cases.require(case_id)
    case, today = stored.case, now.date()
    waited = stored.approval_key
    recorded = {(r["action"], r.get("link")) for r in ports.history.records(case_id)} if waited else set()
    if ("ESCALATED", waited) in recorded:
        # A retry after this very escalation was recorded (its reply lost, or the function stopped after it): the
        # case is at its new tier already, nothing is done twice.
        return {"route": Route.APPROVAL, "tier": case.tier,
                "wait_seconds": timing.approval_wait(case, case.tier, today)}
    step = escalate(case, tier, stored.escalation_level, stored.overdue, set(stored.told), today, timing)
    waiting = [stored.approval_key] if stored.approval_key else []
    # The move is named after this escalation (a retry gets back the link it moved); the approver is told once,
    # unless the function dies between the mail and its mark on the link.
    for approval in ports.approvals.supersede(case_id, waiting, by=f"escalated:{waited}"):
        if not approval.moved_on_told:
            ports.mailer.send(approval_moved_on(approval, case, step.tier), now)
            ports.approvals.mark_moved_on(approval, now)
    late = ports.approvals.mark_late(stored.approval_key, case_id) if stored.approval_key else None
    if late is not None and ("DECISION_LATE", late.approval_key) not in recorded:
        # Decided on the page, but the answer never reached the wait: it decides nothing. (A retry after this
        # record gets the late link back and finds the record.)
        ports.history.append(case, Entry("system:escalate", "DECISION_LATE", stored.status, stored.status,
                                         f"{late.approver}'s decision ({late.decision}) did not reach the workflow "
                                         "before the approval's wait ran out: it decides nothing", None,
                                         link=late.approval_key, decision=late.decision, tier=late.tier), now)
    if step.why is not None:
        ports.mailer.send(compliance_notice(compliance, case, step.why, step.tier), now)
    ports.cases.set_status(case_id, Status.AWAITING_APPROVAL, tier=step.tier, escalation_level=step.level,
                           overdue=step.overdue, **{flag: True for flag in step.fresh})
    ports.history.append(case, Entry("system:escalate", "ESCALATED", stored.status, Status.AWAITING_APPROVAL,
                                     step.reason, case.refund_total, link=waited), now)
    logger.info("approval escalated", extra={"case_id": case_id, "tier": step.tier, "level": step.level})
    return {"route": Route.APPROVAL, "tier": step.tier, "wait_seconds": timing.approval_wait(case, step.tier, today)}
