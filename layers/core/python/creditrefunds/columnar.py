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
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv

from creditrefunds.column_checks import AMOUNT, KEY_SEPARATOR, Columns, NotColumnar, empty, flags, header_of
from creditrefunds.detection import AccountSummary
from creditrefunds.ledger import _DATE_FIELDS, RowError, Transaction, _Bad, parse_row

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


def _parse(data: bytes, names: list[str]) -> pa.Table:
    """One segment's rows as text; NotColumnar unless each is one line with the header's fields."""
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
    return pa.table({
        "account_id": columns["account_id"], "cents": columns["cents"], "first": columns["first"],
        "latest": join(columns["posting"], columns["txn_id"], columns["guarantor_id"], columns["patient_id"],
                       KEY_SEPARATOR),
        "stated": pc.if_else(empty(columns["state"]), pa.scalar(None, pa.string()), stated),
    }).group_by("account_id").aggregate(_FOLD).rename_columns(_FIGURES.names).cast(_FIGURES)  # fmt: skip


_FOLD = [("cents", "sum"), ("first", "min"), ("latest", "max"), ("stated", "max")]


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


def _first_pass(data: bytes, names: list[str]) -> _Segment:
    table = _parse(data, names)
    c = Columns(table)
    flagged, amount = flags(c)
    clean = pc.invert(flagged)
    figures = _figures({
        "account_id": c["account_id"].filter(clean), "cents": _cents(amount.filter(clean)),
        "first": pc.coalesce(c.date("service_date")[0], c.date("posting_date")[0]).filter(clean),
        "posting": c["posting_date"].filter(clean), "txn_id": c["txn_id"].filter(clean),
        "guarantor_id": c["guarantor_id"].filter(clean), "patient_id": c["patient_id"].filter(clean),
        "state": pc.ascii_upper(c["patient_state"]).filter(clean),
    })  # fmt: skip
    indices = pc.indices_nonzero(flagged)
    rows = _trimmed_rows(c, indices)
    ids = c["txn_id"].filter(pc.invert(empty(c["txn_id"])))
    return _Segment(table.num_rows, figures, list(zip(indices.to_pylist(), rows, strict=True)), ids)


def _trimmed_rows(c: Columns, indices: pa.Array) -> list[dict[str, str]]:
    """Rows of a segment as the reference reader sees them: field -> trimmed text."""
    if len(indices) == 0:
        return []
    return pa.table({name: c[name].take(indices) for name in c.table.schema.names}).to_pylist()


_TEXT_FIELDS = ("txn_id", "account_id", "patient_id", "guarantor_id", "txn_type", "payer_type", "payer_id",
                "reference", "claim_id", "adj_code", "reversal_of", "type_of_bill", "mbi", "patient_name",
                "facility_id")


def _transactions(c: Columns) -> list[Transaction]:
    """The rows of `c` as transactions: flagged rows through `parse_row`, the others straight
    from their columns (which the masks have shown `parse_row` would accept as they stand)."""
    flagged, amount = flags(c)
    flagged_rows = iter(_trimmed_rows(c, pc.indices_nonzero(flagged)))
    no_resp = pc.or_(flagged, empty(c["patient_resp"]))
    columns = {name: c[name].to_pylist() for name in _TEXT_FIELDS}
    columns |= {name: c.date(name)[0].to_pylist() for name in ("posting_date", *_DATE_FIELDS)}
    columns["amount"] = amount.to_pylist()
    columns["patient_resp"] = pc.cast(pc.if_else(no_resp, "0", c["patient_resp"]), AMOUNT).to_pylist()
    columns["coverage_rank"] = c["coverage_rank"].to_pylist()
    columns["patient_state"] = pc.ascii_upper(c["patient_state"]).to_pylist()
    resp_given = pc.invert(no_resp).to_pylist()
    result = []
    for i, is_flagged in enumerate(flagged.to_pylist()):
        if is_flagged:
            result.append(parse_row(next(flagged_rows)))
            continue
        row = {name: values[i] or None for name, values in columns.items()}
        row["amount"] = columns["amount"][i]
        row["patient_resp"] = columns["patient_resp"][i] if resp_given[i] else None
        row["coverage_rank"] = int(row["coverage_rank"]) if row["coverage_rank"] else None
        result.append(Transaction(**row))
    return result


def _summaries(figures: list[pa.Table]) -> dict[str, AccountSummary]:
    """The accounts detection looks at: those in credit, and their guarantors' debits (offsets)."""
    totals = pa.concat_tables(figures).group_by("account_id").aggregate(_FOLD).rename_columns(_FIGURES.names)
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
        for table in _in_order(lambda data: _parse(data, self.names), _segments(self.path, self.start)):
            account = pc.utf8_trim_whitespace(table.column("account_id"))
            picked = pc.indices_nonzero(pc.is_in(account, value_set=wanted)).to_pylist()
            rows = pa.array([i for i in picked if offset + i not in self.rejected_rows], pa.int64())
            for txn in _transactions(Columns(table.take(rows))):
                result[txn.account_id].append(txn)
            offset += table.num_rows
        return result


def scan(path: Path, on_reject: Callable[[RowError], Any]) -> Scan:
    """First pass: validate every row, and summarize the accounts detection needs.

    Raises NotColumnar when the file needs the reference reader; nothing has been handed to
    `on_reject` then (rejects are handed over once the whole file has been read).
    """
    names, start = header_of(path)
    figures: list[pa.Table] = []
    ids: list[pa.Array] = []
    rejects: list[RowError] = []
    rejected_rows: set[int] = set()
    offset = 0
    for segment in _in_order(lambda data: _first_pass(data, names), _segments(path, start)):
        accepted: list[Transaction] = []
        for index, raw in segment.flagged:
            if not any(raw.values()):
                continue  # an empty row, as the reference reader skips it
            try:
                accepted.append(parse_row(raw))
            except _Bad as bad:
                rejects.append(RowError(offset + index + 2, raw.get("txn_id") or None, bad.field, bad.reason))
                rejected_rows.add(offset + index)
        figures.append(segment.figures)
        if accepted:
            figures.append(_figures_of_transactions(accepted))
        if len(figures) > 64:
            figures = [pa.concat_tables(figures).group_by("account_id").aggregate(_FOLD)
                       .rename_columns(_FIGURES.names)]
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
