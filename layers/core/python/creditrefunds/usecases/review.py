"""Review, and the step after a decision: the case against the current stored ledger, the route
the workflow takes, and (after an approval) whether approvals cover the lines as they are now.

The decision is read from the approvals table, never from the task's output: a task answered
without a decision any link records is refused, written to the history, and told to operators.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from creditrefunds.domain.approvals import Approval, LinkState, Outcome
from creditrefunds.domain.authentic import Tampered
from creditrefunds.domain.cases import StoredCase
from creditrefunds.domain.evidence import paid_claims
from creditrefunds.domain.history import Entry
from creditrefunds.domain.instructions import Instruction
from creditrefunds.domain.mail import decision_refused
from creditrefunds.domain.returns import match_returns, net_of
from creditrefunds.domain.review import (
    WORK_ITEM_INSTRUCTION,
    Review,
    Route,
    Timing,
    after_approval,
    review_case,
)
from creditrefunds.domain.status import Status
from creditrefunds.usecases.approval import accept_decision
from creditrefunds.usecases.offsets import debits_for
from creditrefunds.usecases.ports import Ports
from creditrefunds.usecases.reconcile import instructions_of
from creditrefunds.usecases.worklist import open_work


def review(ports: Ports, case_id: str, timing: Timing, now: datetime) -> dict[str, Any]:
    """Review a case: store what the ledger says of it now, and say where the workflow goes."""
    stored = ports.cases.require(case_id)
    return _route(ports, stored, recheck(ports, stored), "REVIEWED", timing, now)


def after_decision(ports: Ports, case_id: str, timing: Timing, pause_seconds: int, operators: str,
                   now: datetime) -> dict[str, Any]:
    """The approval task was answered: act on the decision its link records, if one does."""
    stored = ports.cases.require(case_id)
    approval = ports.approvals.by_key(stored.approval_key) if stored.approval_key else None
    if approval is not None and approval.case_id == case_id and approval.state is LinkState.DECIDING:
        accept_decision(ports, approval, pause_seconds, timing.seconds_per_day, now)
        stored, approval = ports.cases.require(case_id), ports.approvals.by_key(approval.approval_key)
    why = _not_decided(approval, case_id)
    if why is not None and approval is not None and approval.state is not LinkState.PENDING:
        # A link is answered only once taken (DECIDING): one the case names that is now neither taken nor
        # used, or another case's, was changed past the page. A PENDING one is a forged answer: refused below.
        raise Tampered(f"case {case_id}: the decision on approval link {approval.approval_key[:12]} is gone "
                       f"({why}): a person must look")
    if why is not None or approval is None:
        return _refuse(ports, stored, why or "no link", timing, operators, now)
    if approval.decision is Outcome.REJECTED:
        found = Review(Route.WORK_ITEM, stored.case)
        key = open_work(ports, stored.case, "rejected", f"refund rejected by the approver: {approval.reason}", now)
        ports.events.publish("WorkItemCreated", {"case_id": case_id, "account_id": stored.case.account_id,
                                                 "key": key, "why": "refund rejected"})
        return {"route": found.route, "tier": stored.case.tier, "wait_seconds": 1}
    if approval.decision is Outcome.INVESTIGATE:
        return {"route": Route.INVESTIGATE, "tier": stored.case.tier, "wait_seconds": max(1, pause_seconds)}
    found = after_approval(recheck(ports, stored), approval, links_of(ports, case_id, approval), ports.settings)
    return _route(ports, stored, found, "RECHECKED", timing, now)


def links_of(ports: Ports, case_id: str, current: Approval) -> list[Approval]:
    """The case's links, the one just decided as the table has it (the index may lag its last write)."""
    return [a for a in ports.approvals.of_case(case_id) if a.approval_key != current.approval_key] + [current]


def _not_decided(approval: Approval | None, case_id: str) -> str | None:
    """Why no decision stands behind the answered task, or None when its link records one."""
    if approval is None:
        return "the case names no approval link"
    if approval.case_id != case_id:
        return "the link the case names belongs to another case"
    if approval.state is not LinkState.USED or approval.decision is None:
        return f"the link the case waits for was not used to decide (it is {approval.state})"
    return None


def _refuse(ports: Ports, stored: StoredCase, why: str, timing: Timing, operators: str,
            now: datetime) -> dict[str, Any]:
    """Nothing is issued: the waiting links are withdrawn, the history and operators told, approval asked anew."""
    case = stored.case
    ports.approvals.supersede(case.case_id, ports.approvals.pending(case.case_id))
    ports.history.append(case, Entry("system:workflow", "REFUSED", stored.status, Status.AWAITING_APPROVAL,
                                     f"the workflow was told of a decision no approval link records ({why}): "
                                     "nothing is issued, approval is asked again", case.refund_total), now)
    ports.mailer.send(decision_refused(operators, case.case_id, why), now)
    ports.cases.set_status(case.case_id, Status.AWAITING_APPROVAL)
    wait = timing.approval_wait(case, case.tier, now.date())
    return {"route": Route.APPROVAL, "tier": case.tier, "wait_seconds": wait}


def recheck(ports: Ports, stored: StoredCase, own_too: bool = False,
            instructions: list[Instruction] | None = None) -> Review:
    """The case against the ledger as it is now, net of what other cases of the account have in flight
    (their refunds as if posted back, their offsets as if paid into the accounts they go to) and of what
    the guarantor's other cases promised of its debits (a debit is offset once); `own_too`:
    net of what this case sent too (what is left for its lines not yet issued). `instructions`: the
    account's, when the caller has read them already."""
    account_id = stored.case.account_id
    summary, transactions = ports.transactions.summary(account_id)
    if instructions is None:
        instructions = instructions_of(ports, account_id, stored if own_too else None)
    in_flight = [i for i in match_returns(instructions, transactions).pending
                 if own_too or i.case_id != stored.case.case_id]
    summary, transactions = net_of(summary, transactions, in_flight)
    return review_case(stored.case, summary, transactions, ports.settings,
                       debits_for(ports, summary, but=None if own_too else stored.case.case_id), stored.paused_days,
                       ports.remittances.of_account(account_id, paid_claims(transactions)))


def _route(ports: Ports, stored: StoredCase, found: Review, action: str, timing: Timing,
           now: datetime) -> dict[str, Any]:
    """Store what the review found and where the case goes; the history says why."""
    case_id, today = stored.case.case_id, now.date()
    result: dict[str, Any] = {"route": found.route, "tier": stored.case.tier, "wait_seconds": 1}
    fields: dict[str, Any] = {}
    if found.case is not None:
        ports.cases.update_figures(found.case)
        due = found.case.due_date
        if due is not None and due < today:
            fields["overdue"] = True  # stays set in every listing until the case closes
        result["tier"] = found.case.tier
        result["wait_seconds"] = timing.approval_wait(found.case, found.case.tier, today)
    ports.cases.set_status(case_id, found.status, **fields)
    if stored.status is Status.WORK_ITEM and found.route is not Route.WORK_ITEM:
        ports.worklist.close_case(case_id)  # it has refunds to make now, or none at all
    if found.route is Route.WORK_ITEM and found.case is not None:
        key = open_work(ports, found.case, "lines", WORK_ITEM_INSTRUCTION, now)
        ports.events.publish("WorkItemCreated", {"case_id": case_id, "account_id": stored.case.account_id,
                                                 "key": key, "why": "no refund line"})
    ports.history.append(found.case or stored.case, Entry(
        "system:review", action, stored.status, found.status, found.why(stored.case),
        found.case.credit if found.case else None), now)
    return result
