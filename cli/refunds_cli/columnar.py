"""The fast passes over a CSV ledger: the same validation and figures, a column at a time.

`ledger.read_ledger` is the reference: exact on every file, one row at a time in Python. A
million-row extract deserves better, so a clean-shaped CSV file (every row on one line, valid
UTF-8, every row with the header's field count, no txn_id twice) is cut into segments of whole
lines, and the segments are parsed by pyarrow and checked by the masks of `column_checks` on
every core at once. A row a mask flags goes through the reference `parse_row`; the other rows
are summed per account column-wise. A file that is not clean-shaped raises `NotColumnar`, and
the caller uses the reference reader: the answer is the same either way, only the time differs
(tested as a property).

Memory follows the accounts, not the rows: a few segments are in hand at a time, and the
second pass (the rows of the accounts in credit) parses the file again the same way.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv
from creditrefunds.domain.detection import AccountSummary
from creditrefunds.domain.ledger import DATE_FIELDS, ID_MAX_LENGTH, RowError, RowRefused, Transaction, parse_row

from refunds_cli.column_checks import (
    AMOUNT,
    CHECKED_FIELDS,
    KEY_SEPARATOR,
    Columns,
    NotColumnar,
    empty,
    flags,
    header_of,
)

__all__ = ["NotColumnar", "Scan", "scan"]

SEGMENT_BYTES = 8 << 20
_FIGURES = pa.schema([("account_id", pa.string()), ("cents", pa.int64()), ("first", pa.date32()),
                      ("latest", pa.string()), ("stated", pa.string())])
_T = TypeVar("_T")
_R = TypeVar("_R")


def _segments(path: Path, start: int) -> Iterator[bytes]:
    """The file from byte `start` on, in runs of whole lines of about SEGMENT_BYTES each."""
    with open(path, "rb") as stream:
        stream.seek(start)
        carry = b""
        while chunk := stream.read(SEGMENT_BYTES):
            data = carry + chunk
            cut = data.rfind(b"\n") + 1
            if cut:
                yield data[:cut]
            carry = data[cut:]
        if carry:
            yield carry


def _in_order(work: Callable[[_T], _R], items: Iterable[_T]) -> Iterator[_R]:
    """work(item) for every item, on every core, results in the items' order, a few ahead."""
    workers = os.cpu_count() or 1
    with ThreadPoolExecutor(workers) as pool:
        pending: deque[Future[_R]] = deque()
        try:
            for item in items:
                pending.append(pool.submit(work, item))
                if len(pending) > workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


def _parse(data: bytes, names: list[str], columns: list[str] | None = None) -> pa.Table:
    """One segment's rows as text (`columns` of them, or all); NotColumnar unless each row is one
    line with the header's fields."""
    misshapen: list[Any] = []

    def invalid(row: Any) -> str:
        misshapen.append(row.number)
        return "skip"

    try:  # bad UTF-8, unbalanced quotes, a short row: the reference reader explains each
        table = pv.read_csv(
            pa.py_buffer(data),
            read_options=pv.ReadOptions(column_names=names, block_size=len(data) + 1, use_threads=False),
            # A blank line stays a row (of empty fields), so row numbers stay line numbers.
            parse_options=pv.ParseOptions(newlines_in_values=False, ignore_empty_lines=False,
                                          invalid_row_handler=invalid),
            convert_options=pv.ConvertOptions(column_types={name: pa.string() for name in names},
                                              include_columns=columns or names,
                                              strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
    except pa.ArrowInvalid as error:
        raise NotColumnar(str(error)) from None
    if misshapen:
        raise NotColumnar("a row with another field count than the header")
    if table.num_rows != data.count(b"\n") + (not data.endswith(b"\n")):
        raise NotColumnar("a row spans lines")
    return table


def _cents(amount: pa.Array) -> pa.Array:
    """Amounts (two places) as whole cents: exact, and far cheaper to sum than decimals."""
    return pc.cast(pc.multiply(amount, pa.scalar(Decimal(100), pa.decimal128(3, 0))), pa.int64())


def _figures(columns: dict[str, Any]) -> pa.Table:
    """Per-account figures of some rows: balance, first date, and the latest row's parties and
    the latest stated patient state as keys that sort as (posting date, txn_id) does."""
    join = pc.binary_join_element_wise
    stated = join(columns["posting"], columns["txn_id"], columns["state"], KEY_SEPARATOR)
    return _fold([pa.table({
        "account_id": columns["account_id"], "cents": columns["cents"], "first": columns["first"],
        "latest": join(columns["posting"], columns["txn_id"], columns["guarantor_id"], columns["patient_id"],
                       KEY_SEPARATOR),
        "stated": pc.if_else(empty(columns["state"]), pa.scalar(None, pa.string()), stated),
    })], use_threads=False)  # fmt: skip


def _fold(figures: list[pa.Table], use_threads: bool = True) -> pa.Table:
    """Figures of the same accounts, from several tables, as one row per account."""
    fold = [("cents", "sum"), ("first", "min"), ("latest", "max"), ("stated", "max")]
    totals = pa.concat_tables(figures).group_by("account_id", use_threads=use_threads).aggregate(fold)
    return totals.rename_columns(_FIGURES.names).cast(_FIGURES)


def _figures_of_transactions(txns: list[Transaction]) -> pa.Table:
    return _figures({
        "account_id": pa.array([t.account_id for t in txns], pa.string()),
        "cents": pa.array([int(t.amount * 100) for t in txns], pa.int64()),
        "first": pa.array([t.service_date or t.posting_date for t in txns], pa.date32()),
        "posting": pa.array([t.posting_date.isoformat() for t in txns], pa.string()),
        "txn_id": pa.array([t.txn_id for t in txns], pa.string()),
        "guarantor_id": pa.array([t.guarantor_id for t in txns], pa.string()),
        "patient_id": pa.array([t.patient_id for t in txns], pa.string()),
        "state": pa.array([t.patient_state or "" for t in txns], pa.string()),
    })  # fmt: skip


@dataclass
class _Segment:
    """What the first pass keeps of one segment."""

    rows: int
    figures: pa.Table  # per-account figures of the rows no mask flagged
    flagged: list[tuple[int, dict[str, str]]]  # (row in segment, trimmed row) for `parse_row`
    ids: pa.ChunkedArray


def _first_pass(data: bytes, names: list[str], id_max_length: int) -> _Segment:
    table = _parse(data, names, [name for name in names if name in CHECKED_FIELDS])
    c = Columns(table, trim_all=False)
    flagged, amount = flags(c, id_max_length)
    clean = pc.invert(flagged)
    figures = _figures({
        "account_id": c["account_id"].filter(clean), "cents": _cents(amount.filter(clean)),
        "first": pc.coalesce(c.date("service_date")[0], c.date("posting_date")[0]).filter(clean),
        "posting": c["posting_date"].filter(clean), "txn_id": c["txn_id"].filter(clean),
        "guarantor_id": c["guarantor_id"].filter(clean), "patient_id": c["patient_id"].filter(clean),
        "state": pc.ascii_upper(c["patient_state"]).filter(clean),
    })  # fmt: skip
    indices = pc.indices_nonzero(flagged)
    rows = _trimmed_rows(table, indices)
    if not all(any(row.values()) for row in rows):  # blank here, but maybe not in the other fields
        rows = _trimmed_rows(_parse(data, names), indices)
    ids = c["txn_id"].filter(pc.invert(empty(c["txn_id"])))
    return _Segment(table.num_rows, figures, list(zip(indices.to_pylist(), rows, strict=True)), ids)


def _trimmed_rows(table: pa.Table, indices: pa.Array) -> list[dict[str, str]]:
    """Rows of a segment as the reference reader sees them: field -> trimmed text."""
    if len(indices) == 0:
        return []
    taken = table.take(indices)
    return pa.table({name: pc.utf8_trim_whitespace(taken.column(name)) for name in taken.schema.names}).to_pylist()


def _transactions(c: Columns) -> list[Transaction]:
    """The rows of `c` as transactions: flagged rows through `parse_row`, the others straight
    from their columns (which the masks have shown `parse_row` would accept as they stand)."""
    flagged, amount = flags(c, id_max_length=None)  # the first pass checked the ids
    null = pa.scalar(None, pa.string())

    def given(name: str) -> pa.Array:  # the text where the row is clean and the field not empty
        return pc.if_else(pc.or_(flagged, empty(c[name])), null, c[name])

    typed = {
        "amount": amount, "coverage_rank": pc.cast(given("coverage_rank"), pa.int64()),
        "patient_resp": pc.cast(given("patient_resp"), AMOUNT),
        "patient_state": pc.ascii_upper(given("patient_state")),
        **{name: c.date(name)[0] for name in ("posting_date", *DATE_FIELDS)},
    }  # fmt: skip
    columns = [(typed[name] if name in typed else given(name)).to_pylist() for name in _FIELDS]
    result = [Transaction(*values) for values in zip(*columns, strict=True)]
    flagged_at = pc.indices_nonzero(flagged)
    for index, raw in zip(flagged_at.to_pylist(), _trimmed_rows(c.table, flagged_at), strict=True):
        result[index] = parse_row(raw, id_max_length=None)
    return result


_FIELDS = [spec.name for spec in fields(Transaction)]


def _summaries(figures: list[pa.Table]) -> dict[str, AccountSummary]:
    """The accounts detection looks at: those in credit, and their guarantors' debits (offsets)."""
    totals = _fold(figures)
    cents = totals.column("cents")
    credit = pc.less(cents, 0)
    parts = pc.list_element(pc.split_pattern(totals.column("latest"), KEY_SEPARATOR), 2)
    guarantors = pc.unique(parts.filter(credit))
    wanted = pc.or_(credit, pc.and_(pc.greater(cents, 0), pc.is_in(parts, guarantors)))
    summaries = {}
    for row in totals.filter(wanted).to_pylist():
        posting, txn_id, guarantor_id, patient_id = row["latest"].split(KEY_SEPARATOR)
        summary = AccountSummary(row["account_id"], balance=Decimal(row["cents"]).scaleb(-2),
                                 guarantor_id=guarantor_id, patient_id=patient_id, first_date=row["first"],
                                 latest=(date.fromisoformat(posting), txn_id))
        if row["stated"] is not None:
            posting, txn_id, state = row["stated"].split(KEY_SEPARATOR)
            summary.patient_state = state
            summary.latest_state = (date.fromisoformat(posting), txn_id)
        summaries[summary.account_id] = summary
    return summaries


@dataclass
class Scan:
    """What the first pass leaves: the summaries detection needs, and the way to the rows."""

    path: Path
    names: list[str]
    start: int
    summaries: dict[str, AccountSummary]
    rejected_rows: set[int]

    def transactions(self, accounts: set[str]) -> dict[str, list[Transaction]]:
        """Second pass: the transactions of `accounts`, as the reference `parse_row` reads them."""
        wanted = pa.array(sorted(accounts), pa.string())
        result: dict[str, list[Transaction]] = {account: [] for account in accounts}
        offset = 0
        segments = _segments(self.path, self.start)
        for rows, table in _in_order(lambda data: _lines_of(data, self.names, wanted), segments):
            keep = pa.array([i for i, row in enumerate(table.column("__row").to_pylist())
                             if offset + row not in self.rejected_rows], pa.int64())
            for txn in _transactions(Columns(table.drop_columns(["__row"]).take(keep))):
                result[txn.account_id].append(txn)
            offset += rows
        return result


def _lines_of(data: bytes, names: list[str], accounts: pa.Array) -> tuple[int, pa.Table]:
    """(rows in the segment, its rows of `accounts` with their row numbers in `__row`).

    Only the account column of the whole segment is converted; the lines it picks are then
    parsed whole, which is a small part of the file.
    """
    account = pc.utf8_trim_whitespace(_parse(data, names, ["account_id"]).column("account_id"))
    picked = pc.indices_nonzero(pc.is_in(account, value_set=accounts)).to_numpy()
    starts = np.concatenate([[0], np.flatnonzero(np.frombuffer(data, np.uint8) == ord("\n")) + 1, [len(data)]])
    spans = zip(starts[picked].tolist(), starts[picked + 1].tolist(), strict=True)
    text = b"".join(data[start:stop] for start, stop in spans)
    if text and not text.endswith(b"\n"):
        text += b"\n"
    table = _parse(text, names) if len(picked) else pa.table({name: pa.array([], pa.string()) for name in names})
    return len(account), table.append_column("__row", pa.array(picked, pa.int64()))


def scan(path: Path, on_reject: Callable[[RowError], Any], id_max_length: int = ID_MAX_LENGTH) -> Scan:
    """First pass: validate every row, and summarize the accounts detection needs.

    Raises NotColumnar when the file needs the reference reader; nothing has been handed to
    `on_reject` then (rejects are handed over once the whole file has been read).
    """
    names, start = header_of(path)
    figures: list[pa.Table] = [_FIGURES.empty_table()]
    ids: list[pa.Array] = []
    rejects: list[RowError] = []
    rejected_rows: set[int] = set()
    offset = 0
    for segment in _in_order(lambda data: _first_pass(data, names, id_max_length), _segments(path, start)):
        accepted: list[Transaction] = []
        for index, raw in segment.flagged:
            if not any(raw.values()):
                continue  # an empty row, as the reference reader skips it
            try:
                accepted.append(parse_row(raw, id_max_length))
            except RowRefused as bad:
                rejects.append(RowError(offset + index + 2, raw.get("txn_id") or None, bad.field, bad.reason))
                rejected_rows.add(offset + index)
        figures.append(segment.figures)
        if accepted:
            figures.append(_figures_of_transactions(accepted))
        if len(figures) > 64:
            figures = [_fold(figures)]
        ids.extend(segment.ids.chunks)
        offset += segment.rows
    all_ids = pa.chunked_array(ids, pa.string())
    with ThreadPoolExecutor(1) as pool:  # arrow lets go of the GIL: count while summing up
        distinct = pool.submit(lambda: pc.count_distinct(all_ids).as_py())
        summaries = _summaries(figures)
        if distinct.result() != len(all_ids):
            raise NotColumnar("a txn_id appears twice: the reference reader says which is a conflict")
    for reject in rejects:
        on_reject(reject)
    return Scan(path, names, start, summaries, rejected_rows)
