"""Ledger rows (DOMAIN.md section 2): a transaction, a rejected row, and `parse_row`, which validates
one row and says which field is wrong and why. Reading files of rows is ledger_files.py's."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from creditrefunds.domain.money import money


@dataclass(frozen=True)
class Dropped:
    """A file that reached incoming/: its key, and what makes this upload of it one of a kind (its eTag
    and sequencer)."""

    key: str
    etag: str  # every read is of this upload only
    sequencer: str  # S3's order of the key's events ("" when the event gives none)
    event_time: datetime

    @property
    def upload(self) -> str:
        """This upload's name among the file's uploads: when it came and its eTag's start (what a re-drop
        under the same name changes). What is kept of an upload (its original, its rejects) is kept under it."""
        return upload_id(self.event_time, self.etag)


def upload_id(event_time: datetime, etag: str) -> str:
    return f"{event_time:%Y%m%dT%H%M%SZ}-{etag.strip(chr(34))[:8] or 'unknown'}"


TXN_TYPES = frozenset({"CHARGE", "PAYMENT", "ADJUSTMENT", "REFUND", "RECOUPMENT", "REVERSAL", "TRANSFER"})
PAYER_TYPES = frozenset({"PATIENT", "MEDICARE", "MEDICAID", "COMMERCIAL", "OTHER"})
REQUIRED_FIELDS = ("txn_id", "account_id", "patient_id", "guarantor_id", "txn_type", "amount", "posting_date")
OPTIONAL_FIELDS = (
    "payer_type", "payer_id", "coverage_rank", "reference", "claim_id", "patient_resp", "adj_code",
    "reversal_of", "service_date", "admit_date", "discharge_date", "type_of_bill", "mbi", "patient_name",
    "patient_state", "facility_id",
)  # fmt: skip
DATE_FIELDS = ("service_date", "admit_date", "discharge_date")
# Ids become DynamoDB keys, file names and cells of files people open: printable, and short.
ID_FIELDS = ("txn_id", "account_id", "patient_id", "guarantor_id", "payer_id", "claim_id", "reference", "adj_code")
ID_MAX_LENGTH = 64  # the default of the id_max_length setting
AMOUNT_PATTERN = re.compile(r"^[+-]?[0-9]+(\.[0-9]{1,2})?$")  # ASCII digits only: "\d" is any script's
ISO_DATE_PATTERN = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
FIRST_YEAR, LAST_YEAR = 1900, 2199  # dates the rules add days to; the compiled pass holds the same
INTEGER_DIGITS = 10  # 9,999,999,999.99 at most: a larger amount is a broken extract, not an encounter


class LedgerUnreadable(Exception):
    """The whole file is refused: wrong encoding, no header, a required column missing."""


class LedgerGone(Exception):
    """The file is no longer where its event said: read and moved already (a repeated notification)."""


class LedgerReplaced(Exception):
    """The file was uploaded again while this upload of it was read: the new upload's own event reads it."""


@dataclass(frozen=True, slots=True)
class Transaction:
    """One valid ledger row. Amounts are signed as DOMAIN.md says; dates are dates."""

    txn_id: str
    account_id: str
    patient_id: str
    guarantor_id: str
    txn_type: str
    amount: Decimal
    posting_date: date
    payer_type: str | None = None
    payer_id: str | None = None
    coverage_rank: int | None = None
    reference: str | None = None
    claim_id: str | None = None
    patient_resp: Decimal | None = None
    adj_code: str | None = None
    reversal_of: str | None = None
    service_date: date | None = None
    admit_date: date | None = None
    discharge_date: date | None = None
    type_of_bill: str | None = None
    mbi: str | None = None
    patient_name: str | None = None
    patient_state: str | None = None
    facility_id: str | None = None

    @property
    def payer(self) -> tuple[str, str]:
        """The payer as DOMAIN.md counts it: (payer_type, payer_id); the patient is one payer."""
        if self.payer_type == "PATIENT":
            return ("PATIENT", "")
        return (self.payer_type or "", self.payer_id or "")

    def to_record(self) -> dict[str, str]:
        """The row as strings, None fields left out (how it is stored and compared)."""
        record: dict[str, str] = {}
        for spec in fields(self):
            value = getattr(self, spec.name)
            if value is not None:
                record[spec.name] = f"{value:f}" if isinstance(value, Decimal) else str(value)
        return record


@dataclass(frozen=True, slots=True)
class RowError:
    """A rejected row: where, which transaction if readable, which field, why."""

    line: int
    txn_id: str | None
    field: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"line": self.line, "txn_id": self.txn_id, "field": self.field, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class StoreOutcome:
    """What storing one transaction did: 'new', 'same' (the same content again: a no-op) or
    'conflict' (other content under a stored txn_id: refused, the stored one kept)."""

    result: str
    stored_account: str | None = None


class RowRefused(Exception):
    """`parse_row` refuses the row: `field` says where, `reason` why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def _date(raw: dict[str, str], name: str) -> date | None:
    value = raw.get(name) or ""
    if not value:
        return None
    if not ISO_DATE_PATTERN.match(value):
        raise RowRefused(name, f"not an ISO date (YYYY-MM-DD): {_shown(value)}")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise RowRefused(name, f"not a calendar date: {_shown(value)}") from None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:  # a due date 60 days after 9999-12-20 is no date at all
        raise RowRefused(name, f"not a date of a ledger (years {FIRST_YEAR} to {LAST_YEAR}): {_shown(value)}")
    return day


def _amount(raw: dict[str, str], name: str) -> Decimal | None:
    value = raw.get(name) or ""
    if not value:
        return None
    if not AMOUNT_PATTERN.fullmatch(value):
        raise RowRefused(name, f"not a decimal amount with at most 2 places: {_shown(value)}")
    if len(value.lstrip("+-").split(".")[0].lstrip("0")) > INTEGER_DIGITS:
        raise RowRefused(name, f"an amount of more than ten integer digits: {_shown(value)}")
    return money(value)


def _text(value: str) -> bool:
    """Whether the value is text UTF-8 can hold (JSON's escapes can make a lone surrogate)."""
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def refused(line: int, raw: dict[str, str], bad: RowRefused) -> RowError:
    """The kept reject of a row `parse_row` refused: its txn_id as far as it is one a report can show."""
    txn_id = raw.get("txn_id") or None
    if txn_id is not None and not _text(txn_id):
        txn_id = None
    elif txn_id is not None and len(txn_id) > 100:
        txn_id = txn_id[:100] + "..."
    return RowError(line, txn_id, bad.field, bad.reason)


def _shown(value: str, most: int = 40) -> str:
    """A value as a reason quotes it: its repr, cut short (a 5 MB field is not repeated in every message)."""
    return repr(value) if len(value) <= most else f"{value[:most]!r}... ({len(value)} characters)"


def parse_row(raw: dict[str, str], id_max_length: int | None = ID_MAX_LENGTH) -> Transaction:
    """Validate one row given as field -> text; raise `RowRefused` naming the field and reason.
    `id_max_length=None` reads a row already validated (as stored)."""
    for name, value in raw.items():
        if not (value.isascii() or _text(value)):
            raise RowRefused(name if _text(name) else "row", "not Unicode text: a lone surrogate escape")
    for name in REQUIRED_FIELDS:
        if not raw.get(name):
            raise RowRefused(name, "required field is missing or empty")
    if id_max_length is not None:
        _check_ids(raw, id_max_length)
    txn_type = raw["txn_type"].upper()
    if txn_type not in TXN_TYPES:
        raise RowRefused("txn_type", f"unknown transaction type {_shown(raw['txn_type'])}")
    amount = _amount(raw, "amount")
    assert amount is not None
    posting_date = _date(raw, "posting_date")
    payer_type = (raw.get("payer_type") or "").upper() or None
    if payer_type is not None and payer_type not in PAYER_TYPES:
        raise RowRefused("payer_type", f"unknown payer type {_shown(raw['payer_type'])}")
    if payer_type is None and txn_type not in ("CHARGE", "REVERSAL"):
        raise RowRefused("payer_type", f"required on a {txn_type} row")
    payer_id = raw.get("payer_id") or None
    if payer_type not in (None, "PATIENT") and not payer_id:
        raise RowRefused("payer_id", f"required for a {payer_type} payer")
    if txn_type == "CHARGE" and amount <= 0:
        raise RowRefused("amount", "a CHARGE must be positive")
    if txn_type == "PAYMENT" and amount >= 0:
        raise RowRefused("amount", "a PAYMENT must be negative")
    if amount == 0:
        raise RowRefused("amount", "a transaction of 0.00 moves no money")
    rank_text = raw.get("coverage_rank") or ""
    rank = None
    if rank_text:
        if rank_text not in ("1", "2", "3"):
            raise RowRefused("coverage_rank", f"must be 1, 2 or 3, not {_shown(rank_text)}")
        if payer_type in (None, "PATIENT"):
            raise RowRefused("coverage_rank", "only insurers have a coverage rank")
        rank = int(rank_text)
    patient_resp = _amount(raw, "patient_resp")
    if patient_resp is not None:
        if patient_resp < 0:
            raise RowRefused("patient_resp", "patient responsibility cannot be negative")
        if txn_type != "PAYMENT" or payer_type in (None, "PATIENT"):
            raise RowRefused("patient_resp", "only an insurer's PAYMENT row carries patient responsibility")
    reversal_of = raw.get("reversal_of") or None
    if txn_type == "REVERSAL" and not reversal_of:
        raise RowRefused("reversal_of", "a REVERSAL must name the txn_id it cancels")
    dates = {name: _date(raw, name) for name in DATE_FIELDS}
    state = (raw.get("patient_state") or "").upper() or None
    assert posting_date is not None
    return Transaction(
        txn_id=raw["txn_id"],
        account_id=raw["account_id"],
        patient_id=raw["patient_id"],
        guarantor_id=raw["guarantor_id"],
        txn_type=txn_type,
        amount=amount,
        posting_date=posting_date,
        payer_type=payer_type,
        payer_id=payer_id if payer_type != "PATIENT" else (payer_id or None),
        coverage_rank=rank,
        reference=raw.get("reference") or None,
        claim_id=raw.get("claim_id") or None,
        patient_resp=patient_resp,
        adj_code=raw.get("adj_code") or None,
        reversal_of=reversal_of,
        type_of_bill=raw.get("type_of_bill") or None,
        mbi=raw.get("mbi") or None,
        patient_name=raw.get("patient_name") or None,
        patient_state=state,
        facility_id=raw.get("facility_id") or None,
        **dates,
    )


def _check_ids(raw: dict[str, str], most: int) -> None:
    for name in ID_FIELDS:
        value = raw.get(name) or ""
        if len(value) > most:
            raise RowRefused(name, f"an id is at most {most} characters; this one has {len(value)}")
        if not value.isprintable():
            raise RowRefused(name, "an id holds only printable characters; this one has a control or other "
                                   "unprintable character")
