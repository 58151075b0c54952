"""The compiled detection pass writes exactly what the reference writes: the same bytes, the same
rejects (issue 14). The reference is `ledger.py` + `detection.py` + `split.py`, read row by row."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path
from unittest import mock

import pytest
from creditrefunds.domain import fastpass
from creditrefunds.domain.ledger import RowError
from creditrefunds.domain.ledger_files import read_ledger
from creditrefunds.domain.settings import Settings
from hypothesis import given, settings
from hypothesis import strategies as st
from refunds_cli.detect import case_line, detect_file_by_rows

from .helpers import AS_OF
from .test_ledger_input import BAD_ROWS, GOOD, HEADER
from .test_properties import as_csv, dense_ledgers, ledgers

ROOT = Path(__file__).resolve().parents[2]
MUTATIONS = ["1.005", "2026-02-30", "09/01/2026", "", "gift", "payment", " 12.00 ", "-0.00", "4", "medicare", "x",
             "+7.5", "tx", "ß", "\u3000A1\u00a0", "2", "A" * 65, "x\x1by", "Zoë", "=1+1", '"quoted"', "a,b",
             "99999999999.00", "0001-01-01", "-", "1.", ".5", "A\u00e9"]
RULES = [Settings(),
         Settings(offset_patient_credits=False, tier2_threshold=Decimal("5.00"), tier3_threshold=Decimal("50.00")),
         Settings(payer_refund_days={"MEDICARE-JH": 15, "AETNA": 9}, patient_state_refund_days={"NY": 10},
                  small_balance_floor={"TX": Decimal("100.00")}, small_balance_floor_default=Decimal("0.50"),
                  false_credit_days=7, patient_default_refund_days=45)]


def compiled(data: bytes, rules: Settings = RULES[0], parts: int = 0) -> tuple[bytes, list[RowError]]:
    """The compiled pass's answer; NotClean when it does not take the file."""
    rejects: list[RowError] = []
    with mock.patch.object(fastpass, "PARTS", parts):
        lines, _ = fastpass.detect_csv(data, AS_OF, rules, rejects.append)
    return lines, rejects


def reference(tmp_path: Path, data: bytes, rules: Settings = RULES[0]) -> tuple[bytes, list[RowError]]:
    path = tmp_path / "ledger.csv"
    path.write_bytes(data)
    rejects: list[RowError] = []
    cases = detect_file_by_rows(path, "csv", AS_OF, rules, rejects.append)
    return "".join(case_line(c) for c in cases).encode(), rejects


@st.composite
def damaged(draw):
    """Ledgers from the properties, some fields replaced by what billing extracts get wrong."""
    rows = draw(ledgers())
    for row in rows:
        if draw(st.integers(0, 4)) == 0:
            field = draw(st.sampled_from(sorted(set(row) - {"txn_id"})))  # ids stay unique: a repeat is tested apart
            row[field] = draw(st.sampled_from(MUTATIONS))
    return rows


@settings(max_examples=150, deadline=None)
@given(damaged(), st.integers(1, 8), st.sampled_from(RULES))
def test_damaged_ledgers_cut_into_any_number_of_parts_give_the_reference_bytes_and_rejects(tmp_path_factory, rows,
                                                                                           parts, rules):
    data, tmp_path = as_csv(rows), tmp_path_factory.mktemp("ledger")
    assert compiled(data, rules, parts) == reference(tmp_path, data, rules)


EVERY_FIELD = ["txn_id", "account_id", "patient_id", "guarantor_id", "txn_type", "amount", "posting_date", "payer_type",
               "payer_id", "coverage_rank", "reference", "claim_id", "patient_resp", "adj_code", "reversal_of",
               "service_date", "patient_state"]
PAYERS = [("PATIENT", ""), ("MEDICARE", "MAC"), ("MEDICARE", "MAC2"), ("MEDICAID", "MCD"), ("COMMERCIAL", "BCBS"),
          ("COMMERCIAL", "UHC"), ("OTHER", "AUTO")]


@st.composite
def every_kind(draw):
    """Rows of every type (reversals of rows and of nothing, recoupments, transfers), two Medicare payers,
    ranks, service dates, copies under the same or another reference, shuffled."""
    rows: list[dict[str, str]] = []
    for n in range(draw(st.integers(1, 24))):
        kind = draw(st.sampled_from(["CHARGE", "PAYMENT", "PAYMENT", "PAYMENT", "ADJUSTMENT", "REFUND", "RECOUPMENT",
                                     "REVERSAL", "TRANSFER"]))
        cents = draw(st.sampled_from([100, 250, 500, draw(st.integers(1, 3000))]))
        sign = -1 if kind == "PAYMENT" else 1 if kind == "CHARGE" else draw(st.sampled_from([-1, 1]))
        payer_type, payer_id = draw(st.sampled_from(PAYERS))
        row = dict.fromkeys(EVERY_FIELD, "") | {
            "txn_id": f"T{n:02d}", "account_id": draw(st.sampled_from(["A1", "A2", "A3"])), "patient_id": "P",
            "guarantor_id": draw(st.sampled_from(["G1", "G2"])), "txn_type": kind,
            "amount": f"{sign * cents / 100:.2f}",
            "posting_date": f"2026-0{draw(st.integers(1, 9))}-1{draw(st.integers(0, 2))}",
            "patient_state": draw(st.sampled_from(["", "TX", "CA", "NY"]))}
        if kind not in ("CHARGE", "REVERSAL") or draw(st.booleans()):
            row |= {"payer_type": payer_type, "payer_id": payer_id or draw(st.sampled_from(["", "PX"]))}
            if payer_type != "PATIENT" and draw(st.booleans()):
                row["coverage_rank"] = draw(st.sampled_from("1123"))
        if kind == "PAYMENT":
            row["reference"] = draw(st.sampled_from(["", "R1", "R2", "R3"]))
            if payer_type != "PATIENT" and draw(st.booleans()):
                row["patient_resp"] = f"{draw(st.integers(0, 2000)) / 100:.2f}"
        if kind == "ADJUSTMENT":
            row["adj_code"] = draw(st.sampled_from(["CO-45", "PR-1"]))
        if kind == "REVERSAL":
            row["reversal_of"] = draw(st.sampled_from([f"T{m:02d}" for m in range(n)] + ["GONE"]))
        row["claim_id"] = draw(st.sampled_from(["", "C1", "C2"]))
        if draw(st.booleans()):
            row["service_date"] = f"2025-1{draw(st.integers(0, 2))}-0{draw(st.integers(1, 9))}"
        rows.append(row)
    for n in range(draw(st.integers(0, 4))):  # a posting copied, under its own reference or another
        copy = dict(draw(st.sampled_from(rows)), txn_id=f"D{n}")
        if draw(st.booleans()):
            copy["reference"] = draw(st.sampled_from(["R1", "R2", "R4"]))
        rows.append(copy)
    return draw(st.permutations(rows))


def as_every_field_csv(rows) -> bytes:
    return ("".join([",".join(EVERY_FIELD) + "\n"] + [",".join(r[f] for f in EVERY_FIELD) + "\n" for r in rows])
            ).encode()


SETTINGS_WITH_BLANK_KEYS = Settings(payer_type_refund_days={"MEDICARE": 5}, small_balance_floor={"": Decimal("3.00")},
                                    patient_state_refund_days={"": 3})


@settings(max_examples=200, deadline=None)
@given(every_kind(), st.integers(0, 5), st.sampled_from([*RULES, SETTINGS_WITH_BLANK_KEYS]))
def test_every_kind_of_row_gives_the_reference_bytes(tmp_path_factory, rows, parts, rules):
    data = as_every_field_csv(rows)
    assert compiled(data, rules, parts) == reference(tmp_path_factory.mktemp("ledger"), data, rules)


def test_an_account_of_thousands_of_rows_and_payers_gives_the_reference_bytes(tmp_path):
    """A catch-all account of a bad extract: the compiled rules group and sort, never compare every row
    with every other (split.py uses dicts)."""
    rows = [f"T{n},A1,P1,G1,PAYMENT,-1.00,2026-09-{1 + n % 28:02d},COMMERCIAL,X{n % 700},R{n % 3000},,,,,,,\n"
            for n in range(6000)]
    rows += [f"V{n},A1,P1,G1,REVERSAL,1.00,2026-10-01,,,,,,,,T{n * 7},,\n" for n in range(500)]
    data = (",".join(EVERY_FIELD) + "\n" + "".join(rows)).encode()
    assert compiled(data) == reference(tmp_path, data)


@settings(max_examples=120, deadline=None)
@given(dense_ledgers(), st.integers(1, 4), st.sampled_from(RULES))
def test_rule_dense_accounts_give_the_reference_bytes(tmp_path_factory, rows, parts, rules):
    data = as_csv(rows)
    assert compiled(data, rules, parts) == reference(tmp_path_factory.mktemp("ledger"), data, rules)


@settings(max_examples=60, deadline=None)
@given(st.one_of(ledgers(), dense_ledgers()), st.randoms())
def test_shuffled_rows_give_the_bytes_the_reference_gives_for_json_lines(rows, rnd):
    """The compiled pass reads CSV only; the same rows as JSON Lines (the reference) give the same cases."""
    shuffled = list(rows)
    rnd.shuffle(shuffled)
    txns = [t for t in read_ledger(io.BytesIO(_as_jsonl(rows)), "jsonl") if not isinstance(t, RowError)]
    from creditrefunds.domain.detection import detect

    expected = "".join(case_line(c) for c in detect(txns, AS_OF, Settings())).encode()
    assert compiled(as_csv(shuffled))[0] == expected


def _as_jsonl(rows):
    from .test_properties import as_jsonl

    return as_jsonl(rows)


@pytest.mark.parametrize(("line", "field", "reason"), BAD_ROWS)
def test_each_bad_row_gets_the_reference_message(tmp_path, line, field, reason):
    data = (HEADER + GOOD + line + "\n" + "T3,A1,P1,G1,CHARGE,5.00,2026-09-02,,,,,\n").encode()
    fast = compiled(data)
    assert fast == reference(tmp_path, data)
    assert [(e.line, e.field, e.reason) for e in fast[1]] == [(3, field, reason)]


def test_blank_lines_and_bad_csv_keep_line_numbers(tmp_path):
    data = (HEADER + GOOD + "\n,,,,,,,,,,,\n" + "T2,A1,P1,G1,CHARGE,1.00,2026-09-01,,,,,\n"
            + "T3,A1,P1,G1,CHARGE,x,2026-09-01,,,,,\n" + '"T4"x,A1,P1,G1,CHARGE,1.00,2026-09-01,,,,,\n')
    fast = compiled(data.encode())
    assert fast == reference(tmp_path, data.encode())
    assert [(e.line, e.txn_id, e.field) for e in fast[1]] == [(6, "T3", "amount"), (7, None, "row")]
    assert fast[1][1].reason == "not valid CSV: ',' expected after '\"'"


@pytest.mark.parametrize(
    ("why", "data"),
    [
        ("a quoted newline", HEADER + GOOD + '"T2\nX",A1,P1,G1,CHARGE,1.00,2026-09-01,,,,,\n'),
        ("a txn_id twice", HEADER + GOOD + GOOD),
        ("a txn_id twice, once on a row Python reads", HEADER + GOOD + "T1,A1,P1,G1,charge,1.00,2026-09-01,,,,,\n"),
        ("a lone carriage return", HEADER + GOOD + "T2,A1,P1,G1,CHARGE,1.00,2026-09-01,,\r,,,\n"),
        ("a NUL byte", HEADER + GOOD + "T2,A1,P1,G1,CHARGE,1.00,2026-09-01,,,,,\x00\n"),
        ("a header with spaces", HEADER.replace("txn_id,", " txn_id,") + GOOD),
        ("a lone carriage return in a quoted header name", HEADER.replace(",patient_resp", ',"patient\rresp"') + GOOD
         + "T2,A1,P1,G1,CHARGE,x,2026-09-01,,,,,\n"),
    ],
)
def test_other_files_go_to_the_reference_reader(tmp_path, why, data):
    with pytest.raises(fastpass.NotClean):
        compiled(data.encode())
    path = tmp_path / "ledger.csv"
    path.write_bytes(data.encode())
    result = subprocess.run([sys.executable, "-m", "refunds_cli.main", "detect", str(path), "--as-of",
                             AS_OF.isoformat(), "--rejects", str(tmp_path / "rejects.jsonl")],
                            capture_output=True, text=True, check=True)
    expected, rejects = reference(tmp_path, data.encode())
    assert result.stdout.encode() == expected
    assert len((tmp_path / "rejects.jsonl").read_text().splitlines()) == len(rejects)
    assert "compiled detection pass is off" not in result.stderr  # the fallback is the file's, not the build's


def test_not_utf8_is_refused_whole_by_the_reference(tmp_path):
    with pytest.raises(fastpass.NotClean):
        compiled((HEADER + GOOD).encode() + b"T2,A1,P1,G1,CHARGE,1.00,2026-09-01,,,,,\xff\n")


@pytest.mark.parametrize("data", [HEADER, HEADER.rstrip("\n"), HEADER + "\n\n"])
def test_a_file_of_no_rows_has_no_cases(tmp_path, data):
    assert compiled(data.encode()) == reference(tmp_path, data.encode()) == (b"", [])


def test_a_windows_extract_with_a_byte_order_mark(tmp_path):
    text = (HEADER + GOOD + "T2,A1,P1,G1,PAYMENT,-150.00,2026-09-03,PATIENT,,,,\n"
            + "T3,A1,P1,G1,CHARGE,x,2026-09-01,,,,,\n")
    data = b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode()
    fast = compiled(data, parts=2)
    assert fast == reference(tmp_path, data)
    assert b'"account_id": "A1"' in fast[0] and b'"credit": "50.00"' in fast[0]
    assert [(e.line, e.field) for e in fast[1]] == [(4, "amount")]


def test_ids_outside_ascii_are_written_as_json_writes_them(tmp_path):
    data = (HEADER + "T1,Ä1,P\u00e9,G\U0001f600,CHARGE,10.00,2026-09-01,,,,,\n"
            + "T2,Ä1,P\u00e9,G\U0001f600,PAYMENT,-30.00,2026-09-02,PATIENT,,,,\n").encode()
    fast = compiled(data)
    assert fast == reference(tmp_path, data)
    assert b'"guarantor_id": "G\\ud83d\\ude00"' in fast[0]


@pytest.mark.parametrize("share", [0.04, 0.20])
def test_the_benchmark_ledgers_give_the_reference_bytes(tmp_path, share):
    """The seeded generator `make bench` uses, at both of its credit mixes (fewer rows)."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import synthetic
    finally:
        sys.path.remove(str(ROOT / "bench"))
    out = io.StringIO()
    synthetic.write_csv(out, 20_000, 7, share)
    data = out.getvalue().encode()
    fast = compiled(data)
    assert fast == reference(tmp_path, data)
    assert fast[0].count(b"\n") > 20_000 * share / 6  # (encounters of ~5 rows; most credits stay)


def test_without_the_compiled_pass_the_reference_serves_and_says_so_once(tmp_path):
    ledger = tmp_path / "ledger.csv"
    ledger.write_bytes((HEADER + GOOD + "T2,A1,P1,G1,PAYMENT,-150.00,2026-09-03,PATIENT,,,,\n").encode())
    command = [sys.executable, "-m", "refunds_cli.main", "detect", str(ledger), "--as-of", AS_OF.isoformat()]
    fast = subprocess.run(command, capture_output=True, text=True, check=True)
    pure = subprocess.run(command, capture_output=True, text=True, check=True,
                          env={**os.environ, "REFUNDS_PURE_PYTHON": "1"})
    assert pure.stdout == fast.stdout and '"credit": "50.00"' in fast.stdout
    said = [line for line in pure.stderr.splitlines() if "compiled detection pass is off" in line]
    assert said == ["refunds detect: the compiled detection pass is off: REFUNDS_PURE_PYTHON is set; reading with "
                    "the reference reader (the same answer, slower)"]
    assert "compiled detection pass" not in fast.stderr


def test_the_extension_is_built_here():
    """The test run has the compiled pass (pip built it): the tests above compared it, not skipped it."""
    assert fastpass.UNAVAILABLE is None, fastpass.UNAVAILABLE
    assert date.fromordinal(fastpass.EPOCH) == date(1970, 1, 1)


def test_a_payer_paid_in_error_sets_no_patient_share_in_both_readers(tmp_path):
    """DOMAIN §3 step 5: the patient_resp of a payer step 4 refunds counts for nothing, in both readers."""
    head = ",".join(EVERY_FIELD) + "\n"
    for later in ("MEDICARE,MAC,2", "COMMERCIAL,LATER,1"):
        data = (head + "C1,A1,P1,G1,CHARGE,200.00,2026-08-01,,,,,,,,,,NY\n"
                "P1,A1,P1,G1,PAYMENT,-180.00,2026-08-01,COMMERCIAL,BCBS,1,B1,,40.00,,,,\n"
                f"P2,A1,P1,G1,PAYMENT,-30.00,2026-08-10,{later},L1,,0.00,,,,\n"
                "P3,A1,P1,G1,PAYMENT,-40.00,2026-08-12,PATIENT,,,CHK1,,,,,,\n").encode()
        lines, rejects = compiled(data)
        assert (lines, rejects) == reference(tmp_path, data) and not rejects
        assert b"PATIENT_OVERPAYMENT" not in lines and b'"PAYER_OVERPAYMENT"' in lines
