"""No input crashes a reader (DOMAIN §2): every value of every field ends as a read row or as a kept reject
with its line, field and reason, and the three readers agree: the reference reader (`refunds detect`
without the compiled pass, and ingest for JSON Lines), the compiled pass (`refunds detect`, ingest's
CSV reader) and ingest's store path. Hypothesis over hostile field values and over raw bytes."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from creditrefunds.adapters.trusted import TrustedLedger
from creditrefunds.adapters.x835 import read_835
from creditrefunds.domain import fastpass
from creditrefunds.domain.ledger import LedgerUnreadable, RowError, Transaction
from creditrefunds.domain.ledger_files import numbered_rows
from creditrefunds.domain.settings import Settings
from creditrefunds.usecases.ingest import store_file
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from refunds_cli.detect import case_line, detect_file_by_rows

from tests.memory.outside import MemoryKeys
from tests.memory.stores import MemoryLedger

from .helpers import AS_OF

FIELDS = ["txn_id", "account_id", "patient_id", "guarantor_id", "txn_type", "amount", "posting_date", "payer_type",
          "payer_id", "coverage_rank", "reference", "claim_id", "patient_resp", "adj_code", "reversal_of",
          "service_date", "patient_state", "patient_name"]
GOOD = {"txn_id": "T1", "account_id": "A1", "patient_id": "P1", "guarantor_id": "G1", "txn_type": "PAYMENT",
        "amount": "-50.00", "posting_date": "2026-09-01", "payer_type": "PATIENT"}
HOSTILE = st.sampled_from([
    "1" * 27, "-" + "9" * 27 + ".99", "9999999999.99", "-10000000000.00", "1e5", "-1E+30", "1E-2", "NaN", "-nan",
    "Infinity", "-inf", "sNaN", "-0", "+0.00", "0.001", "\u0661\u0662\u0663", "-\uff15\uff10.00", "\u0967.00",
    "1_000", " 5 ", "5.", ".5", "--5", "+-5", "5\x00", "\x00", "\ud800", "A\udfffB", "2026-\u0661\u0662-01",
    "9999-12-31", "0001-01-01", "2026-13-01", "=HYPERLINK(\"x\")", "\u202eRTL", "Zo\u00eb", "x" * 5000, "",
    "1", "2", "3", "MEDICARE", "PATIENT", "CHARGE", "REVERSAL", "PAYMENT", "\ufeffT1", "a\r\nb", '"', ",",
])
VALUES = st.one_of(HOSTILE, st.text(max_size=12), st.integers(-10**30, 10**30).map(str),
                   st.decimals(allow_nan=True, allow_infinity=True).map(str))


def as_csv(rows: list[dict[str, str]]) -> bytes:
    """RFC 4180 by hand (csv.writer refuses lone surrogates): every field quoted, quotes doubled."""
    def cell(v: str) -> str:
        return '"' + v.replace('"', '""') + '"'
    text = ",".join(FIELDS) + "\n" + "".join(",".join(cell(r.get(f, "")) for f in FIELDS) + "\n" for r in rows)
    return text.encode("utf-8", "surrogatepass")


def as_jsonl(rows: list[dict[str, str]]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()  # ensure_ascii: a surrogate stays an escape


def reference(data: bytes, fmt: str) -> list[tuple[int, object]] | str:
    try:
        return list(numbered_rows(io.BytesIO(data), fmt))
    except LedgerUnreadable as whole:
        return f"unreadable: {whole}"


def compiled(data: bytes) -> list[tuple[int, object]] | str | None:
    """What ingest's compiled reader gives; None where it leaves the file to the reference reader."""
    try:
        with fastpass.numbered_rows(data) as rows:
            return list(rows)
    except fastpass.NotClean:
        return None
    except LedgerUnreadable as whole:
        return f"unreadable: {whole}"


def stored(tmp: Path, data: bytes, fmt: str) -> tuple[int, list[RowError]] | str:
    path = tmp / f"ledger.{fmt}"
    path.write_bytes(data)
    try:
        report = store_file(path, fmt, TrustedLedger(MemoryLedger(), MemoryKeys()), Settings().id_max_length)
    except LedgerUnreadable as whole:
        return f"unreadable: {whole}"
    return report.stored, report.rejects


def detected(tmp: Path, data: bytes) -> tuple[bytes, list[RowError]] | str:
    """`refunds detect`'s two readers must give the same bytes and rejects."""
    path = tmp / "detect.csv"
    path.write_bytes(data)
    rejects: list[RowError] = []
    try:
        cases = detect_file_by_rows(path, "csv", AS_OF, Settings(), rejects.append)
    except LedgerUnreadable as whole:
        return f"unreadable: {whole}"
    by_reference = ("".join(case_line(c) for c in cases).encode(), rejects)
    try:
        fast: list[RowError] = []
        lines, _ = fastpass.detect_csv(data, AS_OF, Settings(), fast.append)
    except fastpass.NotClean:
        return by_reference
    assert (lines, fast) == by_reference
    return by_reference


def check(tmp: Path, data: bytes, fmt: str) -> None:
    read = reference(data, fmt)
    if isinstance(read, list):
        for _, item in read:
            assert item is None or isinstance(item, (Transaction, RowError))
            if isinstance(item, RowError):
                assert item.line >= (2 if fmt == "csv" else 1) and item.field and item.reason
    if fmt == "csv":
        fast = compiled(data)
        assert fast is None or fast == read
        detected(tmp, data)
    kept = stored(tmp, data, fmt)
    if isinstance(read, str):
        assert kept == read
    else:
        rejects = sorted((i for _, i in read if isinstance(i, RowError)), key=lambda r: r.line)
        assert kept == (len({i.txn_id for _, i in read if isinstance(i, Transaction)}), rejects)


@st.composite
def hostile_rows(draw) -> list[dict[str, str]]:
    rows = []
    for n in range(draw(st.integers(1, 4))):
        row = dict(GOOD, txn_id=f"T{n}")
        for name in draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=3)):
            row[name] = draw(VALUES)
        rows.append(row)
    return rows


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_rows(), st.sampled_from(["csv", "jsonl"]))
def test_hostile_fields_are_read_or_rejected_the_same_by_every_reader(tmp_path_factory, rows, fmt):
    data = as_csv(rows) if fmt == "csv" else as_jsonl(rows)
    check(tmp_path_factory.mktemp("hostile"), data, fmt)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300), st.sampled_from(["csv", "jsonl"]))
def test_any_bytes_after_a_header_are_read_or_rejected_the_same_by_every_reader(tmp_path_factory, tail, fmt):
    head = (",".join(FIELDS) + "\n").encode() if fmt == "csv" else b""
    check(tmp_path_factory.mktemp("bytes"), head + as_csv([GOOD]).split(b"\n", 1)[1] + tail, fmt)


def test_a_27_digit_amount_is_a_kept_reject_and_the_good_rows_count(tmp_path):
    data = as_csv([dict(GOOD, amount="1" * 27), dict(GOOD, txn_id="T2")])
    read = reference(data, "csv")
    assert isinstance(read, list)
    [(line, reject)] = [(n, i) for n, i in read if isinstance(i, RowError)]
    assert (line, reject.field) == (2, "amount") and "ten integer digits" in reject.reason
    assert stored(tmp_path, data, "csv") == (1, [reject])


def test_wide_rows_and_huge_fields(tmp_path):
    wide = (",".join(FIELDS + [f"x{n}" for n in range(10_000)]) + "\n"
            + ",".join(GOOD.get(f, "") for f in FIELDS) + "," * 10_000 + "\n").encode()
    check(tmp_path, wide, "csv")
    huge = as_csv([dict(GOOD, patient_name="N" * 5_000_000), dict(GOOD, txn_id="T2")])
    check(tmp_path, huge, "csv")
    check(tmp_path, as_jsonl([dict(GOOD, patient_name="N" * 5_000_000), dict(GOOD, txn_id="T2")]), "jsonl")


X835 = (Path(__file__).resolve().parents[1] / "data" / "x835" / "mac-offset.835").read_text()


@settings(max_examples=100, deadline=None)  # pyx12 reads an interchange in about 0.1 s
@given(st.data())
def test_an_835_with_hostile_elements_is_read_or_rejected_never_raises(data):
    """Any element of a real 835 replaced by a hostile value: the reader answers (read, or rejected naming
    where and why) and raises nothing; an amount it reads has two places and ten integer digits at most."""
    segments = X835.split("~")
    at = data.draw(st.integers(0, len(segments) - 1))
    elements = segments[at].split("*")
    where = data.draw(st.integers(0, len(elements) - 1))
    elements[where] = data.draw(VALUES)
    segments[at] = "*".join(elements)
    text = "~".join(segments)
    found = read_835(text.encode("utf-8", "surrogatepass"), "fuzzed.835")
    assert found.rejected is None or found.rejected.reason
    for claim in found.claims:
        assert claim.paid == claim.paid.quantize(Decimal("0.01")) and abs(claim.paid) < 10**10


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=400))
def test_any_bytes_after_an_835_s_envelope_header_never_raise(junk):
    found = read_835(X835[:106].encode() + junk, "junk.835")
    assert found.rejected is not None or found.claims or found.adjustments or found.rejects


def test_an_835_amount_of_27_digits_or_another_script_s_digits_is_a_reject():
    for paid in ("1" * 27, "\u0661\u0662", "1E+5"):
        segments = X835.split("~")
        at = next(n for n, seg in enumerate(segments) if seg.strip().startswith("CLP*"))
        elements = segments[at].split("*")
        elements[4] = paid
        segments[at] = "*".join(elements)
        found = read_835("~".join(segments).encode(), "big.835")
        assert found.rejected is not None or any("CLP04" in r.reason for r in found.rejects), (paid, found)


def test_an_error_inside_the_compiled_reader_is_the_error_raised_not_a_buffer_error(tmp_path, monkeypatch):
    """Ingest maps the file for the compiled pass: a failure while its rows are read is reported as itself
    (the file's reason in rejected/), never as `BufferError: cannot close exported pointers exist`."""
    def broken(raw, most):
        raise RuntimeError("the reader broke on this row")

    monkeypatch.setattr(fastpass, "parse_row", broken)
    path = tmp_path / "ledger.csv"
    path.write_bytes(as_csv([dict(GOOD, amount="-1.005"), dict(GOOD, txn_id="T2")]))
    with pytest.raises(RuntimeError, match="the reader broke on this row"):
        store_file(path, "csv", TrustedLedger(MemoryLedger(), MemoryKeys()), Settings().id_max_length)


def test_json_nested_thousands_deep_is_a_kept_reject_and_the_good_rows_count(tmp_path):
    deep = b'{"txn_id": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n"
    data = as_jsonl([GOOD]) + deep + as_jsonl([dict(GOOD, txn_id="T2")])
    read = reference(data, "jsonl")
    assert isinstance(read, list)
    assert [(n, i.reason) for n, i in read if isinstance(i, RowError)] == [
        (2, "not a ledger row: JSON nested too deeply")]
    check(tmp_path, data, "jsonl")


def test_a_date_no_ledger_holds_is_a_kept_reject_in_both_readers(tmp_path):
    """An MSP refund is due 60 days after the other payer paid: posted 9999-12-20, that day is no date."""
    rows = [dict(GOOD, txn_type="CHARGE", amount="100.00", payer_type=""),
            dict(GOOD, txn_id="T2", payer_type="MEDICARE", payer_id="MAC", coverage_rank="2", reference="M1"),
            dict(GOOD, txn_id="T3", payer_type="COMMERCIAL", payer_id="BC", coverage_rank="1", reference="B1",
                 posting_date="9999-12-20")]
    data = as_csv(rows)
    check(tmp_path, data, "csv")
    [(line, reject)] = [(n, i) for n, i in reference(data, "csv") if isinstance(i, RowError)]
    assert (line, reject.field) == (4, "posting_date") and "years 1900 to 2199" in reject.reason
