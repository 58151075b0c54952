"""The check register (DOMAIN.md section 9): accounts payable's word on each refund check. A CSV beside the
ledgers, told from a ledger by its header whatever its name; read like a ledger (a bad row is kept with its
line, field and reason, the good rows still count, the same row twice is one row). Pure."""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import IO

from creditrefunds.domain.ledger import (
    AMOUNT_PATTERN,
    FIRST_YEAR,
    ISO_DATE_PATTERN,
    LAST_YEAR,
    LedgerUnreadable,
    RowError,
)
from creditrefunds.domain.money import money, money_text

HEADER = ("instruction_id", "check_number", "amount", "status", "status_date")
STATUSES = ("ISSUED", "CLEARED", "VOIDED", "RETURNED_MAIL")
UNPAID = ("VOIDED", "RETURNED_MAIL")  # the check will not be cashed: the money waits for its owner
ID_LIMIT = 128  # an instruction id is a case id and a line number
CHECK_NUMBER_LIMIT = 20  # the NAUPA file's check number field


def is_check_register(head: bytes) -> bool:
    """The file's first line is the register's header (any column order, nothing else)."""
    first = head.decode("utf-8-sig", errors="replace").splitlines()[0] if head.strip() else ""
    return sorted(name.strip() for name in first.split(",")) == sorted(HEADER)


PRECEDENCE = {"ISSUED": 0, "RETURNED_MAIL": 1, "VOIDED": 2, "CLEARED": 3}  # one day's rows, in the order they happen


@dataclass(frozen=True)
class CheckEvent:
    """One row of the register: what happened to one check of one refund instruction, and on which day."""

    status_date: date
    instruction_id: str
    check_number: str
    amount: Decimal
    status: str
    line: int = field(default=0, compare=False, repr=False)  # where the register had it (for its errors)

    def order(self) -> tuple[date, int, int]:
        """Day, then what happens first on a day (issued before cleared), then the register's line."""
        return self.status_date, PRECEDENCE[self.status], self.line

    @property
    def key(self) -> str:
        """The same row in any file is the same event: its digest, kept in the history record it made."""
        text = "|".join((self.instruction_id, self.check_number, money_text(self.amount), self.status,
                         self.status_date.isoformat()))
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def to_json(self) -> dict[str, str]:
        return {"instruction_id": self.instruction_id, "check_number": self.check_number,
                "amount": money_text(self.amount), "status": self.status, "status_date": self.status_date.isoformat()}

    @classmethod
    def from_json(cls, data: dict[str, str]) -> CheckEvent:
        return cls(date.fromisoformat(data["status_date"]), data["instruction_id"], data["check_number"],
                   money(data["amount"]), data["status"])


def read_register(stream: IO[bytes]) -> tuple[list[CheckEvent], list[RowError]]:
    """Every good row once (in file order) and every bad one with its line, field and reason. Raises
    LedgerUnreadable for a file that is not a register at all (encoding, header)."""
    try:
        text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="").read()
    except UnicodeDecodeError as error:
        raise LedgerUnreadable(f"not UTF-8 text ({error.reason} at byte {error.start})") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [name.strip() for name in next(reader)]
    except (StopIteration, csv.Error):
        raise LedgerUnreadable("the check register has no header row") from None
    missing = [name for name in HEADER if name not in header]
    if missing:
        raise LedgerUnreadable(f"the check register misses column(s): {', '.join(missing)}")
    events: list[CheckEvent] = []
    rejects: list[RowError] = []
    seen: set[CheckEvent] = set()
    line = reader.line_num
    while True:
        start = line + 1
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            line = reader.line_num
            rejects.append(RowError(start, None, "(row)", f"not valid CSV: {error}"))
            continue
        line = reader.line_num
        if not values or all(not v.strip() for v in values):
            continue
        if len(values) != len(header):
            rejects.append(RowError(start, None, "(row)", f"has {len(values)} fields where the header has "
                                                          f"{len(header)}"))
            continue
        checked = _checked(start, dict(zip(header, (v.strip() for v in values), strict=True)))
        if isinstance(checked, RowError):
            rejects.append(checked)
        elif checked not in seen:
            seen.add(checked)
            events.append(checked)
    return events, rejects


def _checked(line: int, row: dict[str, str]) -> CheckEvent | RowError:
    iid = row["instruction_id"]

    def bad(name: str, why: str) -> RowError:
        return RowError(line, iid or None, name, why)

    for name, limit in (("instruction_id", ID_LIMIT), ("check_number", CHECK_NUMBER_LIMIT)):
        value = row[name]
        if not value:
            return bad(name, "is required")
        if len(value) > limit or not value.isprintable() or not value.isascii():
            return bad(name, f"must be printable ASCII of at most {limit} characters")
    if "#" not in iid:
        return bad("instruction_id", "is not a refund instruction id (case id#line)")
    if not AMOUNT_PATTERN.match(row["amount"]) or money(row["amount"]) <= 0:
        return bad("amount", f"{row['amount']!r} is not a positive amount with at most 2 decimals")
    if row["status"] not in STATUSES:
        return bad("status", f"{row['status']!r} is not one of {', '.join(STATUSES)}")
    day = row["status_date"]
    if not ISO_DATE_PATTERN.match(day):
        return bad("status_date", f"{day!r} is not an ISO date (YYYY-MM-DD)")
    try:
        when = date.fromisoformat(day)
    except ValueError:
        return bad("status_date", f"{day!r} is not a date")
    if not FIRST_YEAR <= when.year <= LAST_YEAR:
        return bad("status_date", f"{day} is out of range")
    return CheckEvent(when, iid, row["check_number"], money(row["amount"]), row["status"], line)
