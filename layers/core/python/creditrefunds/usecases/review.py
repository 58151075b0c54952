"""Review and re-check: the case against the current stored ledger; the route the workflow takes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from creditrefunds.domain.history import Entry
from creditrefunds.domain.refunds import work_item
from creditrefunds.domain.review import WORK_ITEM_INSTRUCTION, Route, Timing, pause_clock, review_case
from creditrefunds.usecases.detection import debits_for
from creditrefunds.usecases.ports import Ports


def review(ports: Ports, case_id: str, recheck: bool, approved_credit: str | None, timing: Timing,
           now: datetime) -> dict[str, Any]:
    """Review a case (or re-check it just before money moves, `approved_credit` being what the
    approver saw); store what it found and say where the workflow goes and how long approval waits."""
    stored = ports.cases.require(case_id)
    summary, transactions = ports.transactions.summary(stored.case.account_id)
    found = review_case(stored.case, summary, transactions, ports.settings, debits_for(ports, summary),
                        approved_credit=approved_credit)
    today = now.date()
    result: dict[str, Any] = {"route": found.route, "tier": stored.case.tier, "wait_seconds": 1}
    fields: dict[str, Any] = {}
    if found.case is not None:
        pause_clock(found.case, stored.paused_days)
        ports.cases.update_figures(found.case)
        due = found.case.due_date
        if due is not None and due < today:
            fields["overdue"] = True  # stays set in every listing until the case closes
        result["tier"] = found.case.tier
        result["wait_seconds"] = timing.approval_wait(found.case, found.case.tier, today)
    ports.cases.set_status(case_id, found.status, **fields)
    if found.route is Route.WORK_ITEM and found.case is not None:
        key = ports.bucket.put_work_item(case_id, work_item(found.case, WORK_ITEM_INSTRUCTION, now))
        ports.events.publish("WorkItemCreated", {"case_id": case_id, "account_id": stored.case.account_id,
                                                 "key": key, "why": "no refund line"})
    ports.history.append(found.case or stored.case, Entry(
        "system:review", "RECHECKED" if recheck else "REVIEWED", stored.status, found.status,
        found.why(stored.case), found.case.credit if found.case else None), now)
    return result
