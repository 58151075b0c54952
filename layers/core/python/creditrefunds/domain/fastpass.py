"""The compiled detection pass: `detect_cases` over a CSV ledger, in one pass of C (`_fastdetect_src/`).

`ledger.py` with `ledger_files.py`, `detection.py` and `split.py` are the definition; the compiled pass gives their
answer byte for byte (tests/unit/test_compiled.py holds it to that). It takes the rows it can
read as they stand; every other row it hands to Python here, which reads that line with the csv
module and `parse_row`, exactly as the reference reader does: the reject gets the reference's
message, an accepted row goes back to the compiled pass. A file the reference reader would read
differently as a whole (not UTF-8, a quoted field across lines, a txn_id twice) raises
`NotClean`, and the caller reads it with the reference reader.
"""

from __future__ import annotations

import contextlib
import csv
import heapq
import operator
import traceback
from collections.abc import Callable, Generator, Iterator
from dataclasses import fields
from datetime import date
from decimal import Decimal
from typing import Any

from creditrefunds.domain.ledger import (
    ID_MAX_LENGTH,
    REQUIRED_FIELDS,
    RowError,
    RowRefused,
    Transaction,
    parse_row,
    refused,
)
from creditrefunds.domain.settings import Settings

try:
    from creditrefunds.domain import _fastdetect  # type: ignore[attr-defined]
except ImportError as error:  # not built for this Python or processor: the reference reader serves
    _fastdetect = None
    UNAVAILABLE: str | None = str(error)
    RULE_FIELDS: tuple[str, ...] = ()
else:
    UNAVAILABLE = None
    RULE_FIELDS = _fastdetect.FIELDS[:_fastdetect.FIELDS.index("patient_state") + 1]  # what detection reads

EPOCH = date(1970, 1, 1).toordinal()
LARGEST_CENTS = 10**12  # ten integer digits: what the compiled pass sums in 64 bits
LONGEST_DAYS = 10**7  # days settings past this reach beyond 9999-12-31 from any date
TRANSACTION_FIELDS = tuple(spec.name for spec in fields(Transaction))
PARTS = 0  # runs of lines the first pass reads at once (0: one per processor for a large file; tests set it)


class NotClean(Exception):
    """The file is not one the compiled pass reads: use the reference reader."""


def detect_csv(
    data: Any, identified_on: date, settings: Settings, on_reject: Callable[[RowError], Any]
) -> tuple[bytes, int]:
    """(the cases as JSON lines, how many) of the CSV ledger in `data` (bytes, or a memory map);
    each rejected row goes to `on_reject`, in file order, once the file is known clean."""
    if _fastdetect is None:
        raise NotClean(f"the compiled pass is not built: {UNAVAILABLE}")
    names, start = _header(data)
    roles = _roles(names, RULE_FIELDS)
    with memoryview(data) as view, view[start:] as rows:
        try:
            scan = _fastdetect.scan(rows, roles, settings.id_max_length, PARTS)
        except _fastdetect.NotClean as error:
            raise NotClean(str(error)) from None
        try:  # (no function below that may raise holds `scan`: a traceback would keep the file's memory)
            rejects, accepted, ids = _read_flagged(scan.flagged(), names, settings.id_max_length)
            back = [_as_row(txn) for txn in accepted]
            if scan.check_ids(ids):
                raise NotClean("a txn_id appears twice: the reference reader says which rows conflict")
            for row in back:
                scan.accept(*row)
            result: tuple[bytes, int] = scan.detect(identified_on.toordinal() - EPOCH, _rules(settings))
        except _fastdetect.NotClean as error:
            raise NotClean(str(error)) from None
        finally:
            del scan  # lets go of the file's memory
    for reject in rejects:
        on_reject(reject)
    return result


@contextlib.contextmanager
def numbered_rows(data: Any, first_line: int | None = None, id_max_length: int = ID_MAX_LENGTH
                  ) -> Iterator[Iterator[tuple[int, Transaction | RowError | None]]]:
    """`ledger_files.numbered_rows` of a CSV ledger in `data`: the same (line, item) pairs, the rows the
    compiled pass reads as they stand made into transactions in C, a few thousand at a time. A context:
    the rows are read while it is open. Raises NotClean on entry (before any row) where the reference
    reader must read the file."""
    if _fastdetect is None:
        raise NotClean(f"the compiled pass is not built: {UNAVAILABLE}")
    names, start = _header(data)
    with memoryview(data) as view, view[start:] as rows:
        try:
            scan = _fastdetect.scan(rows, _roles(names, _fastdetect.FIELDS), id_max_length, PARTS)
        except _fastdetect.NotClean as error:
            raise NotClean(str(error)) from None
        numbered = _numbered(scan, names, first_line, id_max_length)
        try:
            yield numbered
        except BaseException as error:  # its frames hold the scan, and the scan the file's memory: let go
            traceback.clear_frames(error.__traceback__)  # so the error is the one raised, not a BufferError
            raise
        finally:
            numbered.close()  # a reader stopped early (a failed write) holds the scan too
            del scan, numbered  # lets go of the file's memory


def _numbered(scan: Any, names: list[str], first_line: int | None, id_max_length: int
              ) -> Generator[tuple[int, Transaction | RowError | None], None, None]:
    shift = 2 if first_line is None else first_line  # the line of the first row
    seen: dict[str, tuple[int, int]] = {}
    read = _read_line(names, id_max_length)
    flagged = ((index, read(text)) for index, text in scan.flagged())
    for index, item in heapq.merge(flagged, _clean_rows(scan)):
        if item is not _BLANK:
            yield index + shift, _once(index + shift, item, seen)


def _clean_rows(scan: Any, chunk: int = 2000) -> Iterator[tuple[int, Transaction]]:
    offset = line = 0
    while True:
        rows, offset, line = scan.values(Decimal, Transaction, TRANSACTION_FIELDS, offset, line, chunk)
        if not rows:
            return
        yield from rows


_BLANK = RowError(0, None, "", "")  # a row of nothing but blanks: skipped, as the reference skips it


def _read_line(names: list[str], id_max_length: int) -> Callable[[str], Transaction | RowError]:
    """One line the compiled pass left to Python, read as `ledger_files._csv_rows` and `parse_row` read it
    (a RowError's line is set by the caller)."""
    def read(text: str) -> Transaction | RowError:
        try:
            values = next(csv.reader([text], strict=True), [])
        except csv.Error as error:
            return RowError(0, None, "row", f"not valid CSV: {error}")
        if not values or all(not v.strip() for v in values):
            return _BLANK
        if len(values) != len(names):
            return RowError(0, None, "row", f"has {len(values)} fields where the header has {len(names)}")
        raw = {name: value.strip() for name, value in zip(names, values, strict=True)}
        try:
            return parse_row(raw, id_max_length)
        except RowRefused as bad:
            return refused(0, raw, bad)

    return read


def _once(line: int, item: Transaction | RowError, seen: dict[str, tuple[int, int]]) -> Transaction | RowError | None:
    """ledger_files._checked's rule for a txn_id seen before: the same content is a no-op (None), other
    content a conflict."""
    if isinstance(item, RowError):
        return RowError(line, item.txn_id, item.field, item.reason)
    earlier = seen.get(item.txn_id)
    if earlier is None:
        seen[item.txn_id] = (line, _content(item))
        return item
    if earlier[1] != _content(item):
        return RowError(line, item.txn_id, "txn_id", f"conflicts with line {earlier[0]}: same txn_id, other content")
    return None


_FIELD_VALUES = operator.attrgetter(*TRANSACTION_FIELDS)


def _content(t: Transaction) -> int:
    """A fingerprint of the row as stored (`to_record`, which the reference hashes), at a fifth of the cost.
    The amounts go in as text too: equal Decimals can differ as stored (0.00 and -0.00), and Python
    hashes -1 as -2 (so Decimal -1.00 and -2.00 hash alike)."""
    return hash((_FIELD_VALUES(t), str(t.amount), str(t.patient_resp)))


def _roles(names: list[str], wanted: tuple[str, ...]) -> tuple[int, ...]:
    """For each column, the compiled pass's number of its field when it is `wanted`, else -1."""
    return tuple(_fastdetect.FIELDS.index(name) if name in wanted else -1 for name in names)


def _header(data: Any) -> tuple[list[str], int]:
    """The column names and the bytes the header line takes."""
    end = data.find(b"\n") + 1 or len(data)
    if b"\r" in bytes(data[:end]).removesuffix(b"\n").removesuffix(b"\r"):
        raise NotClean("a carriage return inside the header: the reference reader reads it as two lines")
    try:
        names = next(csv.reader([bytes(data[:end]).decode("utf-8-sig")], strict=True))
    except (UnicodeDecodeError, csv.Error, StopIteration):
        raise NotClean("the header line: the reference reader says what is wrong") from None
    if [n.strip() for n in names] != names or len(set(names)) != len(names):
        raise NotClean("header names the reference reader trims or repeats")
    if any(name not in names for name in REQUIRED_FIELDS):
        raise NotClean("a required column is missing: the reference reader says which")
    return names, end


def _read_flagged(flagged: list[tuple[int, str]], names: list[str], id_max_length: int
                  ) -> tuple[list[RowError], list[Transaction], list[str]]:
    """The rows the compiled pass left to Python, read as the reference reader reads them: (the
    rejects in file order, the accepted transactions, every txn_id they name)."""
    rejects: list[RowError] = []
    accepted: list[Transaction] = []
    read = _read_line(names, id_max_length)
    for index, text in flagged:
        item = read(text)
        if isinstance(item, Transaction):
            accepted.append(item)
        elif item is not _BLANK:
            rejects.append(RowError(index + 2, item.txn_id, item.field, item.reason))  # the header is line 1
    ids = [txn.txn_id for txn in accepted] + [r.txn_id for r in rejects if r.txn_id]
    return rejects, accepted, ids


def _cents(amount: Decimal) -> int:
    cents = int(amount * 100)
    if abs(cents) > LARGEST_CENTS:
        raise NotClean("an amount of more than ten integer digits")
    return cents


def _as_row(t: Transaction) -> tuple[Any, ...]:
    return (t.txn_id, t.account_id, t.patient_id, t.guarantor_id, t.txn_type, _cents(t.amount),
            t.posting_date.toordinal() - EPOCH, t.payer_type or "", t.payer_id or "", t.coverage_rank or 0,
            t.reference or "", t.claim_id or "", -1 if t.patient_resp is None else _cents(t.patient_resp),
            t.adj_code or "", t.reversal_of or "",
            None if t.service_date is None else t.service_date.toordinal() - EPOCH, t.patient_state or "")  # fmt: skip


def _days(days: int) -> int:
    return min(days, LONGEST_DAYS)


def _rules(s: Settings) -> tuple[Any, ...]:
    """The settings the rules read, as the compiled pass takes them (money in cents)."""
    def limit(amount: Decimal) -> int:  # a threshold past what 64 bits hold is never reached
        return min(int(amount * 100), 2**62)

    return ({k: _days(v) for k, v in s.payer_refund_days.items()},
            {k: _days(v) for k, v in s.payer_type_refund_days.items()},
            {k: _days(v) for k, v in s.patient_state_refund_days.items()},
            _days(s.patient_default_refund_days), _days(s.false_credit_days),
            {k: limit(v) for k, v in s.small_balance_floor.items()}, limit(s.small_balance_floor_default),
            limit(s.tier2_threshold), limit(s.tier3_threshold), s.offset_patient_credits)  # fmt: skip
