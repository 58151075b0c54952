"""Column-wise checks of a block of ledger rows: which rows the reference validator might refuse.

The reference is `ledger.parse_row`, one row at a time in Python. These masks look at a whole
column at once and are conservative: a row any of them flags goes through `parse_row`, which
gives the exact message or accepts it; a row none flags is one `parse_row` would accept as it
stands, so its figures can be taken from the columns directly.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from creditrefunds.domain.ledger import (
    AMOUNT_PATTERN,
    DATE_FIELDS,
    ID_FIELDS,
    ISO_DATE_PATTERN,
    PAYER_TYPES,
    REQUIRED_FIELDS,
    TXN_TYPES,
)

AMOUNT = pa.decimal128(18, 2)
KEY_SEPARATOR = "\x00"
# Fields whose text goes into the per-account keys, joined by KEY_SEPARATOR.
KEY_FIELDS = ("txn_id", "guarantor_id", "patient_id", "patient_state")


class NotColumnar(Exception):
    """The file is not clean-shaped: read it with the reference reader instead."""


def header_of(path: Path) -> tuple[list[str], int]:
    """The column names of a CSV ledger and the bytes its header line takes."""
    with open(path, "rb") as stream:
        first = stream.readline()
    try:
        names = next(csv.reader([first.decode("utf-8-sig")]))
    except (UnicodeDecodeError, csv.Error, StopIteration):
        raise NotColumnar("header") from None
    if [n.strip() for n in names] != names or len(set(names)) != len(names):
        raise NotColumnar("header names need the reference reader")
    if any(name not in names for name in REQUIRED_FIELDS):
        raise NotColumnar("a required column is missing: the reference reader says which")
    return names, len(first)


# The fields the checks read. Of these, the ones whose text is taken as it stands are trimmed;
# the others are only compared with exact patterns that text with spaces around fails, so they
# need no trimming to flag every row the reference might read differently.
CHECKED_FIELDS = ("txn_id", "account_id", "patient_id", "guarantor_id", "txn_type", "amount", "posting_date",
                  "payer_type", "payer_id", "coverage_rank", "patient_resp", "reversal_of", *DATE_FIELDS,
                  "patient_state", "claim_id", "reference", "adj_code")
TAKEN_AS_IS = frozenset({"txn_id", "account_id", "patient_id", "guarantor_id", "payer_id", "reversal_of",
                         "patient_state"})


class Columns:
    """One block's columns (absent ones empty), trimmed as the reference reader trims them: all
    of them, or with `trim_all=False` only those the checks take as they stand."""

    def __init__(self, table: pa.Table, trim_all: bool = True) -> None:
        self.table = table
        self.rows = table.num_rows
        self.trim_all = trim_all
        self._cache: dict[str, pa.Array] = {}
        self._dates: dict[str, tuple[pa.Array, pa.Array]] = {}

    def date(self, name: str) -> tuple[pa.Array, pa.Array]:
        if name not in self._dates:
            self._dates[name] = _dates(self[name])
        return self._dates[name]

    def __getitem__(self, name: str) -> pa.Array:
        if name not in self._cache:
            index = self.table.schema.get_field_index(name)
            if index < 0:
                self._cache[name] = pa.array([""] * self.rows, pa.string())
            elif self.trim_all or name in TAKEN_AS_IS:
                self._cache[name] = pc.utf8_trim_whitespace(self.table.column(index))
            else:
                self._cache[name] = self.table.column(index)
        return self._cache[name]


def empty(array: pa.Array) -> pa.Array:
    return pc.equal(pc.binary_length(array), 0)


def _dates(array: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(dates, bad): the ISO calendar dates of a column (null where empty) and where it is not one."""
    blank = empty(array)
    filled = pc.if_else(blank, "1970-01-01", array)
    try:  # the common case: arrow's strict ISO cast takes the whole column (ten ASCII bytes each)
        parsed = pc.cast(filled, pa.date32())
        bad = pc.not_equal(pc.binary_length(filled), 10)
    except pa.ArrowInvalid:  # strptime alone is lenient (2026-02-30 becomes March): round-trip it
        stamps = pc.strptime(filled, format="%Y-%m-%d", unit="s", error_is_null=True)
        shaped = pc.match_substring_regex(filled, pattern=ISO_DATE_PATTERN.pattern)
        bad = pc.fill_null(pc.or_(pc.invert(shaped), pc.not_equal(pc.strftime(stamps, format="%Y-%m-%d"), filled)),
                           True)
        parsed = pc.cast(stamps, pa.date32())
    return pc.if_else(pc.or_(blank, bad), pa.scalar(None, pa.date32()), parsed), pc.and_(pc.invert(blank), bad)


def flags(c: Columns, id_max_length: int | None) -> tuple[pa.Array, pa.Array]:
    """(flagged, amount): True for every row the reference `parse_row` might refuse or would read
    differently; the amount as a number where its text is well formed (0 elsewhere). Ids are
    checked against `id_max_length` (None: rows already validated)."""
    any_of: list[pa.Array] = [empty(c[name]) for name in REQUIRED_FIELDS]
    if id_max_length is not None:  # long, or anything but printable ASCII: the reference decides
        any_of += [pc.or_(pc.greater(pc.utf8_length(c[name]), id_max_length),
                          pc.match_substring_regex(c[name], pattern=r"[^\x20-\x7e]")) for name in ID_FIELDS]
    txn_type, payer_type = c["txn_type"], c["payer_type"]
    no_payer = empty(payer_type)
    patient_or_none = pc.or_(no_payer, pc.equal(payer_type, "PATIENT"))
    any_of += [
        pc.invert(pc.is_in(txn_type, pa.array(sorted(TXN_TYPES)))),
        pc.invert(pc.match_substring_regex(c["amount"], pattern=AMOUNT_PATTERN.pattern)),
        pc.and_(pc.invert(no_payer), pc.invert(pc.is_in(payer_type, pa.array(sorted(PAYER_TYPES))))),
        pc.and_(no_payer, pc.invert(pc.is_in(txn_type, pa.array(["CHARGE", "REVERSAL"])))),
        pc.and_(pc.invert(patient_or_none), empty(c["payer_id"])),
        pc.and_(pc.invert(empty(c["coverage_rank"])),
                pc.or_(patient_or_none, pc.invert(pc.is_in(c["coverage_rank"], pa.array(["1", "2", "3"]))))),
        pc.and_(pc.invert(empty(c["patient_resp"])),
                pc.or_(pc.or_(patient_or_none, pc.not_equal(txn_type, "PAYMENT")),
                       pc.or_(pc.starts_with(c["patient_resp"], "-"),
                              pc.invert(pc.match_substring_regex(c["patient_resp"], pattern=AMOUNT_PATTERN.pattern))))),
        pc.and_(pc.equal(txn_type, "REVERSAL"), empty(c["reversal_of"])),
    ]
    any_of += [c.date(name)[1] for name in ("posting_date", *DATE_FIELDS)]
    any_of += [pc.match_substring(c[name], KEY_SEPARATOR) for name in KEY_FIELDS]
    any_of.append(pc.invert(pc.string_is_ascii(c["patient_state"])))  # str.upper() is more than ASCII's
    flagged = any_of[0]
    for mask in any_of[1:]:
        flagged = pc.or_(flagged, mask)
    # Signs need the amount as a number: only where its text is well formed.
    amount = pc.cast(pc.if_else(flagged, "0", c["amount"]), AMOUNT)
    zero = pa.scalar(0, AMOUNT)
    flagged = pc.or_(flagged, pc.equal(amount, zero))
    flagged = pc.or_(flagged, pc.and_(pc.equal(txn_type, "CHARGE"), pc.less(amount, zero)))
    flagged = pc.or_(flagged, pc.and_(pc.equal(txn_type, "PAYMENT"), pc.greater(amount, zero)))
    return pc.fill_null(flagged, True), amount


