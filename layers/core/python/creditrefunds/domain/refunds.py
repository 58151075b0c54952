"""What leaves the system for people to act on: refund instructions, the day's accounts-payable
file, and work items for billing staff. Pure: the rows and files, not their storage."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from creditrefunds.domain.cases import Case, Line
from creditrefunds.domain.cells import safe_row
from creditrefunds.domain.history import Break
from creditrefunds.domain.ledger import Transaction
from creditrefunds.domain.money import money_text
from creditrefunds.domain.status import Status

ISSUED_ACTIONS = ("REFUND", "OFFSET")  # the lines that move money (or post a transfer)
REFUND_COLUMNS = ("instruction_id", "issued_on", "case_id", "account_id", "payee_type", "payee_id", "amount",
                  "method", "reason", "claim_id", "target_account_id", "due_date")


def method_for(line: Line, claim_id: str | None) -> str:
    """Checks for patients; payers get a refund or answer a recoupment; Medicare by claim adjustment."""
    if line.action == "OFFSET":
        return f"transfer to account {line.target_account_id}"
    if line.payee_type == "PATIENT":
        return "check"
    if line.payee_type == "MEDICARE" and claim_id:
        return "claim adjustment"
    return "refund or recoupment request"


def payer_claim(transactions: list[Transaction], line: Line) -> str | None:
    """The claim the payer paid on this account (the latest of its payments carrying one)."""
    claims = [t.claim_id for t in sorted(transactions, key=lambda t: (t.posting_date, t.txn_id))
              if t.txn_type == "PAYMENT" and t.payer_type == line.payee_type and t.payer_id == line.payee_id
              and t.claim_id]
    return claims[-1] if claims else None


def instruction_id(case: Case, index: int) -> str:
    return f"{case.case_id}#{index}"


def instruction(case: Case, index: int, line: Line, claim_id: str | None, day: date,
                prior: str = "[]") -> dict[str, str]:
    """The refund instruction for one line of a case: one row of the day's accounts-payable file.
    `prior`: the account's returning rows at issue (`returns.ledger_at_issue`), which cannot post it back."""
    return {
        "instruction_id": instruction_id(case, index), "issued_on": day.isoformat(), "case_id": case.case_id,
        "account_id": case.account_id, "payee_type": line.payee_type or "", "payee_id": line.payee_id or "",
        "amount": money_text(line.amount), "method": method_for(line, claim_id), "reason": line.reason,
        "claim_id": claim_id or "", "target_account_id": line.target_account_id or "",
        "due_date": line.due_date.isoformat() if line.due_date else "", "ledger_at_issue": prior,
    }  # fmt: skip


@dataclass(frozen=True)
class Issued:
    """An instruction as the refund book holds it; `new` is False when it was issued before (a
    retry or a duplicate delivery), and `row` is then what was issued that first time."""

    instruction_id: str
    new: bool
    row: dict[str, str]


def ap_file(rows: list[dict[str, str]]) -> str:
    """The day's accounts-payable file: one row per refund instruction, in instruction order."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=REFUND_COLUMNS, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(safe_row(row) for row in sorted(rows, key=lambda r: r["instruction_id"]))
    return out.getvalue()


def work_item(case: Case, instruction_text: str, now: datetime) -> dict[str, Any]:
    """An instruction to billing staff for a case with no refund to make (or a rejected one)."""
    return {"case_id": case.case_id, "account_id": case.account_id, "credit": money_text(case.credit),
            "instruction": instruction_text, "written_at": now.isoformat(),
            "lines": [line.to_json() for line in case.lines]}


_INSTRUCTION = re.compile(r"\(instruction (\S+#\d+),")


def issued_records(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The case's ISSUED records by the instruction each tells of."""
    issued = {}
    for record in records:
        if record.get("action") == "ISSUED":
            found = _INSTRUCTION.search(str(record.get("reason") or ""))
            issued[found.group(1) if found else f"(unreadable, record {record['seq']})"] = record
    return issued


def issue_breaks(case_id: str, status: str, records: list[dict[str, Any]],
                 instructions: list[dict[str, str]]) -> list[Break]:
    """Where the refund book and the case's history disagree: an instruction no ISSUED record
    tells of (or with another amount), an ISSUED record with no instruction, an issued case with
    no ISSUED record."""
    issued = issued_records(records)
    breaks = []
    for row in instructions:
        record = issued.get(row["instruction_id"])
        if record is None:
            breaks.append(Break(case_id, None, f"instruction {row['instruction_id']} of {row['amount']} is in the "
                                               "refund book but no ISSUED record tells of it"))
        elif str(record.get("amount")) != row["amount"]:
            breaks.append(Break(case_id, int(record["seq"]), f"tells of instruction {row['instruction_id']} for "
                                f"{record.get('amount')}, but the refund book holds {row['amount']}"))
    booked = {row["instruction_id"] for row in instructions}
    for instruction_id, record in issued.items():
        if instruction_id not in booked:
            breaks.append(Break(case_id, int(record["seq"]), f"tells of instruction {instruction_id}, which the "
                                                            "refund book does not hold"))
    if status in (Status.REFUND_ISSUED, Status.RECONCILED) and not issued:
        breaks.append(Break(case_id, None, f"is {status} but no ISSUED record tells what was issued"))
    return breaks
