"""The fast first pass over a CSV ledger: the same validation and summaries, a column at a time.

`ledger.read_ledger` is the reference: exact on every file, one row at a time in Python. A
million-row extract deserves better, so a clean-shaped CSV file (every row on one line, no
blank lines, valid UTF-8, every row with the header's field count, no txn_id twice) is read
with pyarrow in blocks. Each block is checked column-wise by conservative masks: a row any
mask flags goes through the reference `parse_row`, which gives the exact message or accepts
it. A file that is not clean-shaped raises `NotColumnar`, and the caller uses the reference
reader: the answer is the same either way, only the time differs (tested as a property).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv

from creditrefunds.detection import AccountSummary
from creditrefunds.ledger import (
    _AMOUNT,
    _DATE_FIELDS,
    _ISO_DATE,
    PAYER_TYPES,
    REQUIRED_FIELDS,
    TXN_TYPES,
    RowError,
    Transaction,
    _Bad,
    parse_row,
)

BLOCK = 8 << 20
AMOUNT = pa.decimal128(18, 2)
_SUMMARY = pa.schema([
    ("account_id", pa.string()), ("amount", AMOUNT), ("first", pa.date32()), ("posting", pa.date32()),
    ("txn_id", pa.string()), ("guarantor_id", pa.string()), ("patient_id", pa.string()),
    ("state", pa.string()),
])  # fmt: skip
_SUMMARY_TOTALS = pa.schema([_SUMMARY.field("account_id"), _SUMMARY.field("amount"), _SUMMARY.field("first")])


class NotColumnar(Exception):
    """The file is not clean-shaped: read it with the reference reader instead."""


@dataclass
class Scan:
    """What the first pass leaves: the summaries detection needs and the rows it refused."""

    summaries: dict[str, AccountSummary]
    rejected_rows: set[int]


def _header(path: Path) -> list[str]:
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
    return names


def _physical_lines(path: Path) -> int:
    count, last = 0, b""
    with open(path, "rb") as stream:
        while chunk := stream.read(BLOCK):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (1 if last not in (b"\n", b"") else 0)


def _batches(path: Path, names: list[str]) -> Iterator[pa.RecordBatch]:
    misshapen: list[Any] = []

    def invalid(row: Any) -> str:
        misshapen.append(row.number)
        return "skip"

    try:  # bad UTF-8, unbalanced quotes, a short row: the reference reader explains each
        reader = pv.open_csv(
            path,
            read_options=pv.ReadOptions(block_size=BLOCK, use_threads=True),
            # A blank line stays a row (of empty fields), so row numbers stay line numbers.
            parse_options=pv.ParseOptions(newlines_in_values=False, ignore_empty_lines=False,
                                          invalid_row_handler=invalid),
            convert_options=pv.ConvertOptions(
                column_types={name: pa.string() for name in names},
                strings_can_be_null=False, quoted_strings_can_be_null=False,
            ),
        )
        for batch in reader:
            if misshapen:
                break
            yield batch
    except pa.ArrowInvalid as error:
        raise NotColumnar(str(error)) from None
    if misshapen:
        raise NotColumnar("a row with another field count than the header")


class _Columns:
    """One block's columns, trimmed as the reference reader trims them; absent ones empty."""

    def __init__(self, batch: pa.RecordBatch) -> None:
        self.batch = batch
        self.rows = batch.num_rows
        self._cache: dict[str, pa.Array] = {}
        self._dates: dict[str, tuple[pa.Array, pa.Array]] = {}

    def date(self, name: str) -> tuple[pa.Array, pa.Array]:
        if name not in self._dates:
            self._dates[name] = _dates(self[name])
        return self._dates[name]

    def __getitem__(self, name: str) -> pa.Array:
        if name not in self._cache:
            index = self.batch.schema.get_field_index(name)
            if index < 0:
                self._cache[name] = pa.array([""] * self.rows, pa.string())
            else:
                self._cache[name] = pc.utf8_trim_whitespace(self.batch.column(index))
        return self._cache[name]


def _empty(array: pa.Array) -> pa.Array:
    return pc.equal(pc.binary_length(array), 0)


def _dates(array: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(dates, bad): the ISO calendar dates of a column (null where empty) and where it is not one."""
    empty = _empty(array)
    filled = pc.if_else(empty, "1970-01-01", array)
    try:  # the common case: arrow's strict ISO cast takes the whole column (ten ASCII bytes each)
        parsed = pc.cast(filled, pa.date32())
        bad = pc.not_equal(pc.binary_length(filled), 10)
    except pa.ArrowInvalid:  # strptime alone is lenient (2026-02-30 becomes March): round-trip it
        stamps = pc.strptime(filled, format="%Y-%m-%d", unit="s", error_is_null=True)
        shaped = pc.match_substring_regex(filled, pattern=_ISO_DATE.pattern)
        bad = pc.fill_null(pc.or_(pc.invert(shaped), pc.not_equal(pc.strftime(stamps, format="%Y-%m-%d"), filled)),
                           True)
        parsed = pc.cast(stamps, pa.date32())
    return pc.if_else(pc.or_(empty, bad), pa.scalar(None, pa.date32()), parsed), pc.and_(pc.invert(empty), bad)


def _flags(c: _Columns) -> pa.Array:
    """True for every row the reference `parse_row` might refuse or would read differently."""
    any_of: list[pa.Array] = [_empty(c[name]) for name in REQUIRED_FIELDS]
    txn_type, payer_type = c["txn_type"], c["payer_type"]
    no_payer = _empty(payer_type)
    patient_or_none = pc.or_(no_payer, pc.equal(payer_type, "PATIENT"))
    any_of += [
        pc.invert(pc.is_in(txn_type, pa.array(sorted(TXN_TYPES)))),
        pc.invert(pc.match_substring_regex(c["amount"], pattern=_AMOUNT.pattern)),
        pc.and_(pc.invert(no_payer), pc.invert(pc.is_in(payer_type, pa.array(sorted(PAYER_TYPES))))),
        pc.and_(no_payer, pc.invert(pc.is_in(txn_type, pa.array(["CHARGE", "REVERSAL"])))),
        pc.and_(pc.invert(patient_or_none), _empty(c["payer_id"])),
        pc.and_(pc.invert(_empty(c["coverage_rank"])),
                pc.or_(patient_or_none, pc.invert(pc.is_in(c["coverage_rank"], pa.array(["1", "2", "3"]))))),
        pc.and_(pc.invert(_empty(c["patient_resp"])),
                pc.or_(pc.or_(patient_or_none, pc.not_equal(txn_type, "PAYMENT")),
                       pc.or_(pc.starts_with(c["patient_resp"], "-"),
                              pc.invert(pc.match_substring_regex(c["patient_resp"], pattern=_AMOUNT.pattern))))),
        pc.and_(pc.equal(txn_type, "REVERSAL"), _empty(c["reversal_of"])),
    ]
    any_of += [c.date(name)[1] for name in ("posting_date", *_DATE_FIELDS)]
    flagged = any_of[0]
    for mask in any_of[1:]:
        flagged = pc.or_(flagged, mask)
    # Signs need the amount as a number: only where its text is well formed.
    amount = pc.cast(pc.if_else(flagged, "0", c["amount"]), AMOUNT)
    zero = pa.scalar(0, AMOUNT)
    flagged = pc.or_(flagged, pc.equal(amount, zero))
    flagged = pc.or_(flagged, pc.and_(pc.equal(txn_type, "CHARGE"), pc.less(amount, zero)))
    return pc.fill_null(pc.or_(flagged, pc.and_(pc.equal(txn_type, "PAYMENT"), pc.greater(amount, zero))), True)


def _last_per_account(table: pa.Table) -> pa.Table:
    """Each account's row with the greatest (posting date, txn_id): the reference's 'latest'."""
    if table.num_rows == 0:
        return table
    ordered = table.take(pc.sort_indices(table, sort_keys=[
        ("account_id", "ascending"), ("posting", "ascending"), ("txn_id", "ascending")]))
    accounts = ordered.column("account_id").combine_chunks()
    ends = pc.not_equal(accounts.slice(0, len(accounts) - 1), accounts.slice(1))
    return ordered.filter(pa.concat_arrays([ends, pa.array([True])]))


class _Partials:
    """Per-account figures folded block by block, so that memory follows accounts, not rows.

    Three folds, each associative: the balance and first date; the latest row (parties); the
    latest row that carries a patient state.
    """

    def __init__(self) -> None:
        self.totals: list[pa.Table] = []
        self.latest: list[pa.Table] = []
        self.stated: list[pa.Table] = []

    def add(self, table: pa.Table) -> None:
        self.totals.append(table.select(["account_id", "amount", "first"]))
        self.latest.append(table.select(["account_id", "posting", "txn_id", "guarantor_id", "patient_id"]))
        self.stated.append(table.filter(pc.not_equal(table.column("state"), ""))
                           .select(["account_id", "posting", "txn_id", "state"]))
        if len(self.totals) > 8:
            self.fold()

    def fold(self) -> None:
        totals = pa.concat_tables(self.totals).group_by("account_id").aggregate([("amount", "sum"), ("first", "min")])
        self.totals = [totals.rename_columns(["account_id", "amount", "first"]).cast(_SUMMARY_TOTALS)]
        self.latest = [_last_per_account(pa.concat_tables(self.latest))]
        self.stated = [_last_per_account(pa.concat_tables(self.stated))]

    def add_rows(self, c: _Columns, keep: pa.Array) -> None:
        """The figures of the rows in `keep` of one block."""
        posting = c.date("posting_date")[0]
        self.add(pa.table({
            "account_id": c["account_id"], "amount": pc.cast(pc.if_else(keep, c["amount"], "0"), AMOUNT),
            "first": pc.coalesce(c.date("service_date")[0], posting), "posting": posting, "txn_id": c["txn_id"],
            "guarantor_id": c["guarantor_id"], "patient_id": c["patient_id"],
            "state": pc.utf8_upper(c["patient_state"]),
        }, schema=_SUMMARY).filter(keep))  # fmt: skip

    def add_transactions(self, txns: list[Transaction]) -> None:
        self.add(pa.Table.from_pylist([
            {"account_id": t.account_id, "amount": t.amount, "first": t.service_date or t.posting_date,
             "posting": t.posting_date, "txn_id": t.txn_id, "guarantor_id": t.guarantor_id,
             "patient_id": t.patient_id, "state": t.patient_state or ""}
            for t in txns
        ], schema=_SUMMARY))  # fmt: skip

    def summaries(self) -> dict[str, AccountSummary]:
        """The accounts detection looks at: those in credit, and their guarantors' debits (offsets)."""
        self.fold()
        totals = self.totals[0].join(self.latest[0], "account_id")
        amount = totals.column("amount")
        credit = pc.less(amount, pa.scalar(0, amount.type))
        guarantors = pc.unique(totals.column("guarantor_id").filter(credit))
        wanted = pc.or_(credit, pc.and_(pc.greater(amount, pa.scalar(0, amount.type)),
                                        pc.is_in(totals.column("guarantor_id"), guarantors)))
        totals = totals.filter(wanted)
        stated = self.stated[0]
        stated = stated.filter(pc.is_in(stated.column("account_id"), totals.column("account_id")))
        states = {row["account_id"]: row for row in stated.to_pylist()}
        summaries = {}
        for row in totals.to_pylist():
            summary = AccountSummary(row["account_id"], balance=row["amount"], guarantor_id=row["guarantor_id"],
                                     patient_id=row["patient_id"], first_date=row["first"],
                                     latest=(row["posting"], row["txn_id"]))
            stated = states.get(summary.account_id)
            if stated is not None:
                summary.patient_state = stated["state"]
                summary.latest_state = (stated["posting"], stated["txn_id"])
            summaries[summary.account_id] = summary
        return summaries


def _rows(c: _Columns, indices: list[int]) -> list[dict[str, str]]:
    """Rows of a block as the reference reader sees them: field -> trimmed text."""
    if not indices:
        return []
    names = c.batch.schema.names
    taken = pa.array(indices, pa.int64())
    return pa.table({name: c[name].take(taken) for name in names}).to_pylist()


def scan(path: Path, on_reject: Callable[[RowError], Any]) -> Scan:
    """First pass: validate every row, and summarize the accounts detection needs.

    Raises NotColumnar when the file needs the reference reader; nothing has been handed to
    `on_reject` then (rejects are handed over once the whole file has been read).
    """
    names = _header(path)
    lines = _physical_lines(path)
    partials = _Partials()
    ids: list[pa.Array] = []
    rejects: list[RowError] = []
    rejected_rows: set[int] = set()
    offset = 0
    for batch in _batches(path, names):
        c = _Columns(batch)
        flagged = _flags(c)
        ids.append(c["txn_id"].filter(pc.invert(_empty(c["txn_id"]))))
        indices = pc.indices_nonzero(flagged).to_pylist()
        accepted: list[Transaction] = []
        for index, raw in zip(indices, _rows(c, indices), strict=True):
            if not any(raw.values()):
                continue  # an empty row, as the reference reader skips it
            try:
                accepted.append(parse_row(raw))
            except _Bad as bad:
                rejects.append(RowError(offset + index + 2, raw.get("txn_id") or None, bad.field, bad.reason))
                rejected_rows.add(offset + index)
        partials.add_rows(c, pc.invert(flagged))
        if accepted:
            partials.add_transactions(accepted)
        offset += batch.num_rows
    if offset + 1 != lines:
        raise NotColumnar("a row spans lines")
    all_ids = pa.chunked_array(ids, pa.string())
    if len(pc.unique(all_ids)) != len(all_ids):
        raise NotColumnar("a txn_id appears twice: the reference reader says which is a conflict")
    for reject in rejects:
        on_reject(reject)
    return Scan(partials.summaries(), rejected_rows)


def transactions_of(path: Path, accounts: set[str], skip_rows: set[int]) -> dict[str, list[Transaction]]:
    """Second pass: the transactions of `accounts`, each row through the reference `parse_row`."""
    names = _header(path)
    wanted = pa.array(sorted(accounts), pa.string())
    result: dict[str, list[Transaction]] = {account: [] for account in accounts}
    offset = 0
    for batch in _batches(path, names):
        c = _Columns(batch)
        indices = [i for i in pc.indices_nonzero(pc.is_in(c["account_id"], wanted)).to_pylist()
                   if offset + i not in skip_rows]
        for raw in _rows(c, indices):
            txn = parse_row(raw)
            result[txn.account_id].append(txn)
        offset += batch.num_rows
    return result
