"""What the console shows: the worklist, a case with everything behind it, compliance's deadlines and
investigations, the trends, unclaimed property, the auditors' search. Reading only; each view is open to the
roles that need it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from creditrefunds.domain.authentic import Tampered
from creditrefunds.domain.escheat import NO_ANSWER, NO_REISSUE
from creditrefunds.domain.identity import AUDITOR, BILLING, COMPLIANCE, OPERATOR, Person, approver_group, require
from creditrefunds.domain.money import money_text
from creditrefunds.domain.pages import line_rows
from creditrefunds.domain.reports import ReportedCase, cms838_rows
from creditrefunds.domain.status import Status
from creditrefunds.domain.trends import month_of, shifted
from creditrefunds.domain.worklist import EVERYTHING, VIEWS, Narrowed, WorkItem
from creditrefunds.usecases.audit import search, verify
from creditrefunds.usecases.checks import address_seen
from creditrefunds.usecases.escheat import tracked
from creditrefunds.usecases.ports import Ports
from creditrefunds.usecases.trends import report as trends_report

READERS = (BILLING, COMPLIANCE, AUDITOR, OPERATOR)
APPROVERS = tuple(approver_group(tier) for tier in (1, 2, 3))
OPEN_STATUSES = (Status.OPEN, Status.AWAITING_APPROVAL, Status.INVESTIGATING, Status.APPROVED, Status.WORK_ITEM)
NEAR_DAYS = 10


@dataclass(frozen=True)
class WorklistView:
    items: list[dict[str, Any]]
    view: str
    mine: bool
    next_cursor: str


def worklist(ports: Ports, person: Person, view: str, cursor: str, mine: bool, today: date,
             narrowed: Narrowed = EVERYTHING) -> WorklistView:
    """One page of open work items in a view's order (due date, amount or age), or the person's own; narrowed
    (overdue ones, from an amount, older than some days; one kind)."""
    require(person, *READERS)
    view = view if view in VIEWS else "due"
    items, following = ports.worklist.page(view, cursor, person.user_id if mine else "", narrowed=narrowed)
    return WorklistView([_item_row(i, today) for i in items], view, mine, following)


def _item_row(item: WorkItem, today: date) -> dict[str, Any]:
    return {"item_id": item.item_id, "case_id": item.case_id, "account": item.account_id,
            "amount": money_text(item.amount), "reason": item.reason, "todo": item.todo,
            "due": item.due_date.isoformat() if item.due_date else "", "overdue": item.overdue(today),
            "age": item.age_days(today), "assignee": item.assignee_email or ("taken" if item.assignee else "")}


@dataclass(frozen=True)
class CaseView:
    case: dict[str, Any]
    lines: list[dict[str, str]]
    ledger: list[dict[str, str]]
    history: list[dict[str, Any]]
    verified: list[str]  # what the history's check found wrong (empty: whole)
    instructions: list[dict[str, str]] = field(default_factory=list)
    failed: bool = False


def case_view(ports: Ports, person: Person, case_id: str) -> CaseView:
    """A case: its lines, the ledger rows of its account, its history with the chain's verdict, the refund
    instructions and their accounts-payable rows."""
    require(person, *READERS)
    stored = ports.cases.get(case_id, strict=False)
    if stored is None:
        raise LookupError("no such case")
    case = stored.case
    checked = verify(ports.cases, ports.history, case_id, ports.refund_book)
    problems = [str(b) for b in checked.breaks]
    try:
        rows = ports.transactions.account_transactions(case.account_id)
    except Tampered as forged:
        rows = []
        problems.append(str(forged))
    ledger = [{"txn_id": t.txn_id, "type": t.txn_type, "amount": money_text(t.amount),
               "posted": t.posting_date.isoformat(), "payer": t.payer_type or "", "reference": t.reference or "",
               "claim": t.claim_id or ""} for t in sorted(rows, key=lambda t: (t.posting_date, t.txn_id))]
    instructions = [] if problems else ports.refund_book.of_case(case_id)
    history = [{"seq": r["seq"], "at": r["at"], "actor": r["actor"], "action": r["action"],
                "status": f"{r.get('status_before') or ''} > {r.get('status_after') or ''}",
                "reason": r.get("reason", "")} for r in ports.history.records(case_id)]
    lines = line_rows(case.lines)
    for row, line in zip(lines, case.lines, strict=True):
        row["evidence"] = line.evidence or ""
    return CaseView({"case_id": case_id, "account": case.account_id, "status": stored.status,
                     "credit": money_text(case.credit), "refund": money_text(case.refund_total),
                     "due": case.due_date.isoformat() if case.due_date else "", "overdue": stored.overdue,
                     "tier": case.tier, "escalation": stored.escalation_level}, lines, ledger, history,
                    problems, [i.ap_row() for i in instructions],
                    stored.status is Status.FAILED)


@dataclass(frozen=True)
class ComplianceView:
    deadlines: list[dict[str, Any]]  # overdue, then due within NEAR_DAYS
    investigations: list[dict[str, Any]]
    cms838: list[dict[str, str]]


def compliance(ports: Ports, person: Person, today: date) -> ComplianceView:
    """Credits overdue or due within 10 days and not refunded; open investigations against their cap;
    the CMS-838 rows of the Medicare credits still open."""
    require(person, COMPLIANCE, AUDITOR)
    near = today + timedelta(days=NEAR_DAYS)
    open_cases = ports.cases.in_status(tuple(OPEN_STATUSES))
    deadlines = sorted(({"case_id": s.case.case_id, "account": s.case.account_id, "status": s.status,
                         "refund": money_text(s.case.refund_total), "due": s.case.due_date.isoformat(),
                         "overdue": s.overdue or s.case.due_date < today}
                        for s in open_cases if s.case.due_date is not None and s.case.due_date <= near),
                       key=lambda row: (row["due"], row["case_id"]))
    cap = ports.settings.investigation_max_days
    investigations = [{"case_id": s.case.case_id, "account": s.case.account_id, "paused_days": s.paused_days,
                       "cap": cap, "left": max(0, cap - s.paused_days)}
                      for s in open_cases if s.status is Status.INVESTIGATING]
    cms838: list[dict[str, str]] = []
    for s in open_cases:
        if any(line.payee_type == "MEDICARE" for line in s.case.lines):
            cms838 += cms838_rows(ReportedCase(s.case, s.status, s.overdue),
                                  ports.transactions.account_transactions(s.case.account_id))
    return ComplianceView(deadlines, investigations, cms838)


def trends(ports: Ports, person: Person, today: date, months: int = 12) -> dict[str, Any]:
    """The last `months` months of the trends (this one included) from their counters: compliance and
    auditors."""
    require(person, COMPLIANCE, AUDITOR)
    last = month_of(today)
    return trends_report(ports.rollups, shifted(last, 1 - months), last, ports.settings)


def unclaimed(ports: Ports, person: Person, today: date) -> list[dict[str, Any]]:
    """Every refund whose check the register told of, with its stage, next step and date as of today, and a
    corrected address waiting for a second person: billing staff, compliance, approvers (who confirm a
    reissue) and auditors."""
    require(person, BILLING, COMPLIANCE, AUDITOR, *APPROVERS)
    rows = []
    for t in tracked(ports, today):
        asked = ports.unclaimed.asked(t.path.instruction_id)
        rows.append({**t.path.to_json(), "asked": asked[0] if asked else None,
                     "seen": address_seen(asked[0]) if asked else "",
                     "asked_by_me": bool(asked and asked[1] == person.user_id),
                     "reissuable": bool(t.path.reissues_left) and t.path.stage not in NO_REISSUE,
                     "answerable": t.path.stage not in NO_ANSWER})
    return rows


def audit_search(ports: Ports, person: Person, query: dict[str, str]) -> list[dict[str, Any]]:
    """History records by account, patient, guarantor, payer, status and dates: auditors and compliance."""
    require(person, AUDITOR, COMPLIANCE)
    return search(ports.history, query)
