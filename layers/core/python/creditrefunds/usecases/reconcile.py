"""Refunds coming back: each returning ledger row kept against the one instruction it posts back,
issued cases closed RECONCILED once all of their money is back, and rows that post nothing back
given to billing staff (DOMAIN.md section 6; one credit, one refund)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from creditrefunds.domain.cases import Case, StoredCase
from creditrefunds.domain.detection import AccountSummary
from creditrefunds.domain.history import Entry
from creditrefunds.domain.instructions import ISSUED_ACTIONS, Instruction, instruction_id
from creditrefunds.domain.money import ZERO
from creditrefunds.domain.returns import Returns
from creditrefunds.domain.status import Status
from creditrefunds.usecases.ports import Ports
from creditrefunds.usecases.worklist import open_work

ACTOR = "system:ingest"
CLOSABLE = (Status.REFUND_ISSUED, Status.FAILED)  # money out; APPROVED may still be issuing


def instructions_of(ports: Ports, account_id: str, holder: StoredCase | None) -> list[Instruction]:
    """The account's instructions (its index), and the holding case's own read consistently: an
    instruction written a moment ago may not be in the index yet."""
    found = {i.instruction_id: i for i in ports.refund_book.of_account(account_id)}
    if holder is not None and holder.status in (Status.APPROVED, *CLOSABLE):
        for index, line in enumerate(holder.case.lines):
            key = instruction_id(holder.case, index)
            if line.action in ISSUED_ACTIONS and key not in found:
                kept = ports.refund_book.get(key)
                if kept is not None:
                    found[key] = kept
    return list(found.values())


def settle_returns(ports: Ports, returns: Returns, instructions: list[Instruction], now: datetime) -> list[str]:
    """Keep each new match in the refund book, close the cases all of whose money is back, and report rows
    that post nothing back. Returns the ids of the cases closed."""
    for iid, row in returns.new.items():
        ports.refund_book.mark_returned(iid, row.txn_id, row.posting_date)
    closed = []
    for case_id in returns.returned_cases(instructions):
        mine = sorted((i for i in instructions if i.case_id == case_id), key=lambda i: i.instruction_id)
        stored = ports.cases.get(case_id, strict=False)
        if stored is None or stored.status not in CLOSABLE:
            continue  # still issuing, or closed already
        if not ports.cases.transition(case_id, stored.status, Status.RECONCILED):
            continue  # another detection closed it a moment ago
        ports.worklist.close_case(case_id)
        posted = "; ".join(f"{i.describe()} by {_row(returns, i)}" for i in mine)
        ports.history.append(stored.case, Entry(ACTOR, "RECONCILED", stored.status, Status.RECONCILED,
                                                f"the ledger posted back every instruction: {posted}",
                                                sum((i.amount for i in mine), ZERO)), now)
        closed.append(case_id)
    if returns.stray:
        _strays(ports, returns, now)
    return closed


def _row(returns: Returns, i: Instruction) -> str:
    row = returns.new.get(i.instruction_id)
    return f"{row.txn_type} row {row.txn_id}" if row else f"row {i.returned_by} (kept before)"


def _strays(ports: Ports, returns: Returns, now: datetime) -> None:
    """Rows posted since a refund went out that post none back: a work item for billing staff and a
    history record on the case whose instruction is the oldest in flight (else the latest), once per row."""
    stored = ports.cases.get(returns.about, strict=False) if returns.about else None
    if stored is None:
        return
    case = stored.case
    told = set((ports.cases.item(case.case_id) or {}).get("stray_returns") or [])
    new = [(t, why) for t, why in returns.stray if t.txn_id not in told]
    if not new:
        return
    every = " | ".join(why for _, why in returns.stray)
    _tell_billing(ports, case, "returns", f"refund rows that match no refund instruction: {every}",
                  "unmatched refund row", now, stray_returns=sorted(told | {t.txn_id for t, _ in new}))
    for _, why in new:
        ports.history.append(case, Entry(ACTOR, "RETURN_UNMATCHED", stored.status, stored.status, why, None), now)


def flag_cleared(ports: Ports, summary: AccountSummary, returns: Returns, now: datetime) -> None:
    """Refunds in flight exceed the credit the ledger still shows: something else (a late charge, a payer's
    takeback, a refund by hand) cleared it while our money was on its way, and the payee may be paid twice.
    Billing staff are told once per case: a work item, a history record and an event."""
    out = sum((i.amount for i in returns.pending), ZERO)
    held = max(ZERO, -summary.balance)
    if not returns.pending or held >= out or returns.about is None:
        return
    stored = ports.cases.get(returns.about, strict=False)
    if stored is None or (ports.cases.item(stored.case.case_id) or {}).get("cleared_elsewhere"):
        return
    case = stored.case
    why = (f"refunds of {out:f} are on their way ({'; '.join(i.describe() for i in returns.pending)}) but the ledger "
           f"now shows a credit of only {held:f}: it was cleared by other means; stop or recover the refund, or "
           "the payee may be paid twice")
    _tell_billing(ports, case, "cleared", why, "credit cleared while a refund is in flight", now,
                  cleared_elsewhere=True)
    ports.history.append(case, Entry(ACTOR, "CLEARED_ELSEWHERE", stored.status, stored.status, why, out - held), now)


def _tell_billing(ports: Ports, case: Case, leaf: str, instruction: str, why: str, now: datetime,
                  **told: Any) -> None:
    """A work item for billing staff (`outbound/work-items/<case>.<leaf>.json`), the case marked with what
    they were told (so that they are told once), and the WorkItemCreated event."""
    key = open_work(ports, case, leaf, instruction, now, f"{case.case_id}.{leaf}")
    ports.cases.set_status(case.case_id, None, **told)
    ports.events.publish("WorkItemCreated", {"case_id": case.case_id, "account_id": case.account_id, "key": key,
                                             "why": why})
