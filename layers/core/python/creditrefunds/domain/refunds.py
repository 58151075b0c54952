"""What leaves the system for people to act on: the day's accounts-payable file of refund instructions
(`instructions`), work items for billing staff, and what the history says was issued. Pure."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from creditrefunds.domain.cases import Case, Line
from creditrefunds.domain.cells import safe_row
from creditrefunds.domain.history import Break
from creditrefunds.domain.instructions import REFUND_COLUMNS, Instruction
from creditrefunds.domain.ledger import Transaction
from creditrefunds.domain.money import money, money_text
from creditrefunds.domain.status import Status


def payer_claim(transactions: list[Transaction], line: Line) -> str | None:
    """The claim the payer paid on this account (the latest of its payments carrying one)."""
    claims = [t.claim_id for t in sorted(transactions, key=lambda t: (t.posting_date, t.txn_id))
              if t.txn_type == "PAYMENT" and t.payer_type == line.payee_type and t.payer_id == line.payee_id
              and t.claim_id]
    return claims[-1] if claims else None


AP_FILES = "outbound/refunds/"


def ap_key(day: date, instruction_id: str) -> str:
    """Where an instruction's accounts-payable file is kept: accounts payable imports a day's folder."""
    return f"{AP_FILES}{day.isoformat()}/{instruction_id}.csv"


def ap_file(instructions: list[Instruction]) -> str:
    """An accounts-payable file: the header, then one row per refund instruction, in instruction order."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=REFUND_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(safe_row(i.ap_row()) for i in sorted(instructions, key=lambda i: i.instruction_id))
    return out.getvalue()


def ap_day(files: Iterable[str]) -> str:
    """A day's AP files as the one file accounts payable imports: one header, then every file's rows."""
    rows = [line for text in files for line in text.splitlines(keepends=True)[1:]]
    return ",".join(REFUND_COLUMNS) + "\n" + "".join(sorted(rows))


def ap_file_problems(key: str, version: str, text: str, instructions: dict[str, Instruction | None]) -> list[str]:
    """Every row of one AP file (one stored version) that pays what no authenticated instruction says:
    `instructions` maps each row's instruction id to the instruction as the refund book holds it (checked),
    or None where it holds none that passes its check."""
    problems = []
    for number, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        found = instructions.get(row.get("instruction_id") or "")
        where = f"AP file {key} (version {version}) line {number}"
        if found is None:
            problems.append(f"{where}: instruction {row.get('instruction_id')!r} pays {row.get('amount')} to "
                            f"{row.get('payee_type')} {row.get('payee_id')}, and the refund book holds no "
                            "authenticated instruction of that id")
            continue
        expected = safe_row(found.ap_row())
        changed = [column for column in REFUND_COLUMNS if row.get(column, "") != expected[column]]
        if changed:
            problems.append(f"{where}: instruction {found.instruction_id} differs from the refund book in "
                            f"{', '.join(changed)}")
    return problems


def work_item(case: Case, instruction_text: str, now: datetime) -> dict[str, Any]:
    """An instruction to billing staff for a case with no refund to make (or a rejected one)."""
    return {"case_id": case.case_id, "account_id": case.account_id, "credit": money_text(case.credit),
            "instruction": instruction_text, "written_at": now.isoformat(),
            "lines": [line.to_json() for line in case.lines]}


def issued_records(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The case's ISSUED records by the instruction each tells of."""
    return {str(record.get("instruction_id") or f"(none named, record {record['seq']})"): record
            for record in records if record.get("action") == "ISSUED"}


def issue_breaks(case_id: str, status: str, records: list[dict[str, Any]],
                 instructions: list[Instruction]) -> list[Break]:
    """Where the refund book and the case's history disagree: an instruction no ISSUED record
    tells of (or with another amount), an ISSUED record with no instruction, an issued case with
    no ISSUED record."""
    issued = issued_records(records)
    approved = {r.get("link") for r in records if r.get("action") == "DECIDED" and r.get("decision") == "APPROVED"}
    breaks = []
    for i in instructions:
        if not i.approved_by & approved:
            breaks.append(Break(case_id, None, f"instruction {i.instruction_id} names no approval the history "
                                               "records (a DECIDED record approving one of its links)"))
        record = issued.get(i.instruction_id)
        if record is None:
            breaks.append(Break(case_id, None, f"instruction {i.instruction_id} of {money_text(i.amount)} is in the "
                                               "refund book but no ISSUED record tells of it"))
        elif _amount(record) != i.amount:
            breaks.append(Break(case_id, int(record["seq"]), f"tells of instruction {i.instruction_id} for "
                                f"{record.get('amount')}, but the refund book holds {money_text(i.amount)}"))
    booked = {i.instruction_id for i in instructions}
    for instruction_id, record in issued.items():
        if instruction_id not in booked:
            breaks.append(Break(case_id, int(record["seq"]), f"tells of instruction {instruction_id}, which the "
                                                            "refund book does not hold"))
    if status in (Status.REFUND_ISSUED, Status.RECONCILED) and not issued:
        breaks.append(Break(case_id, None, f"is {status} but no ISSUED record tells what was issued"))
    return breaks


def _amount(record: dict[str, Any]) -> Decimal | None:
    """A record's amount as money (None when it has none, or it is not money)."""
    try:
        return money(str(record["amount"]))
    except (KeyError, ValueError, ArithmeticError):
        return None
