"""Bad input: every kind of bad row and bad file, each with its message (DOMAIN.md section 2)."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
from creditrefunds.domain.ledger import LedgerUnreadable, RowError, Transaction
from creditrefunds.domain.ledger_files import read_ledger

HEADER = "txn_id,account_id,patient_id,guarantor_id,txn_type,amount,posting_date,payer_type,payer_id,coverage_rank,reversal_of,patient_resp\n"  # noqa: E501
GOOD = "T1,A1,P1,G1,CHARGE,100.00,2026-09-01,,,,,\n"


def rows(text: str, fmt: str = "csv") -> list[Transaction | RowError]:
    return list(read_ledger(io.BytesIO(text.encode()), fmt))


BAD_ROWS = [
    ("T2,,P1,G1,CHARGE,1.00,2026-09-01,,,,,", "account_id", "required field is missing or empty"),
    ("T2,A1,P1,G1,GIFT,1.00,2026-09-01,,,,,", "txn_type", "unknown transaction type 'GIFT'"),
    ("T2,A1,P1,G1,CHARGE,1.005,2026-09-01,,,,,", "amount", "not a decimal amount with at most 2 places: '1.005'"),
    ("T2,A1,P1,G1,CHARGE,1.00,09/01/2026,,,,,", "posting_date", "not an ISO date (YYYY-MM-DD): '09/01/2026'"),
    ("T2,A1,P1,G1,CHARGE,1.00,2026-02-30,,,,,", "posting_date", "not a calendar date: '2026-02-30'"),
    ("T2,A1,P1,G1,PAYMENT,-1.00,2026-09-01,,,,,", "payer_type", "required on a PAYMENT row"),
    ("T2,A1,P1,G1,PAYMENT,-1.00,2026-09-01,MEDICARE,,,,", "payer_id", "required for a MEDICARE payer"),
    ("T2,A1,P1,G1,PAYMENT,-1.00,2026-09-01,FRIEND,,,,", "payer_type", "unknown payer type 'FRIEND'"),
    ("T2,A1,P1,G1,CHARGE,-1.00,2026-09-01,,,,,", "amount", "a CHARGE must be positive"),
    ("T2,A1,P1,G1,PAYMENT,1.00,2026-09-01,PATIENT,,,,", "amount", "a PAYMENT must be negative"),
    ("T2,A1,P1,G1,PAYMENT,-1.00,2026-09-01,COMMERCIAL,X,4,,", "coverage_rank", "must be 1, 2 or 3, not '4'"),
    ("T2,A1,P1,G1,REVERSAL,1.00,2026-09-01,,,,,", "reversal_of", "a REVERSAL must name the txn_id it cancels"),
    ("T2,A1,P1,G1,PAYMENT,-1.00,2026-09-01,PATIENT,,,,5.00", "patient_resp",
     "only an insurer's PAYMENT row carries patient responsibility"),
    ("T2,A1,P1,G1,CHARGE,1.00", "row", "has 6 fields where the header has 12"),
    # Ids become DynamoDB keys and cells people open: printable, and at most 64 characters by default.
    ("T2," + "A" * 65 + ",P1,G1,CHARGE,1.00,2026-09-01,,,,,", "account_id",
     "an id is at most 64 characters; this one has 65"),
    ("T2,A1,P\x07,G1,CHARGE,1.00,2026-09-01,,,,,", "patient_id",
     "an id holds only printable characters; this one has a control or other unprintable character"),
    ("T2,A1,P1,G1,PAYMENT,-1.00,2026-09-01,COMMERCIAL,AET\u200bNA,,,", "payer_id",
     "an id holds only printable characters; this one has a control or other unprintable character"),
]


@pytest.mark.parametrize(("line", "field", "reason"), BAD_ROWS)
def test_bad_row_is_rejected_with_line_field_reason_and_the_rest_counts(line, field, reason):
    result = rows(HEADER + GOOD + line + "\n" + "T3,A1,P1,G1,CHARGE,5.00,2026-09-02,,,,,\n")
    errors = [r for r in result if isinstance(r, RowError)]
    good = [r for r in result if isinstance(r, Transaction)]
    assert [(e.line, e.field, e.reason) for e in errors] == [(3, field, reason)]
    assert [t.txn_id for t in good] == ["T1", "T3"]


def test_same_txn_twice_is_a_noop_and_other_content_a_conflict():
    result = rows(HEADER + GOOD + GOOD + "T1,A1,P1,G1,CHARGE,999.00,2026-09-01,,,,,\n")
    assert [r.txn_id for r in result if isinstance(r, Transaction)] == ["T1"]
    (conflict,) = [r for r in result if isinstance(r, RowError)]
    assert (conflict.line, conflict.txn_id, conflict.field) == (4, "T1", "txn_id")
    assert "conflicts with line 2" in conflict.reason


def test_quoted_newline_keeps_line_numbers_true():
    text = HEADER + 'T1,A1,P1,G1,CHARGE,100.00,2026-09-01,,,,,\n"T2\nX",A1,P1,G1,CHARGE,bad,2026-09-01,,,,,\n'
    (error,) = [r for r in rows(text) if isinstance(r, RowError)]
    assert error.line == 3


def test_jsonl_numbers_never_pass_through_float():
    line = {"txn_id": "J1", "account_id": "A", "patient_id": "P", "guarantor_id": "G", "txn_type": "PAYMENT",
            "amount": -0.10, "posting_date": "2026-09-01", "payer_type": "PATIENT"}
    (txn,) = rows(json.dumps(line) + "\nnot json\n", "jsonl")[:1]
    assert str(txn.amount) == "-0.10"
    assert rows("not json\n", "jsonl")[0] == RowError(1, None, "row", "not valid JSON: Expecting value")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty: a CSV ledger needs a header row"),
        (b"T1,A1,P1,G1,CHARGE,100.00,2026-09-01\n", "no header row: the first line must name the columns"),
        (b"txn_id,account_id,amount\nT1,A1,1.00\n", "missing required column(s): patient_id, guarantor_id, txn_type"),
        (HEADER.encode() + "T1,A1,P1,G1,CHARGE,1.00,2026-09-01,,,,,Jos\u00e9\n".encode("latin-1"), "not UTF-8 text"),
    ],
)
def test_unreadable_file_is_refused_whole(content, message):
    with pytest.raises(LedgerUnreadable, match=message.replace("(", r"\(").replace(")", r"\)")):
        list(read_ledger(io.BytesIO(content), "csv"))


def run_detect(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "refunds_cli.main", "detect", *args], capture_output=True,
                          text=True, check=False)


def test_detect_command_contract(tmp_path):
    ledger = tmp_path / "ledger.csv"
    ledger.write_text(
        HEADER
        + "T1,B2,P2,G2,CHARGE,100.00,2026-09-01,,,,,\n"
        + "T2,B2,P2,G2,PAYMENT,-160.00,2026-09-02,PATIENT,,,,\n"
        + "T3,A1,P1,G1,CHARGE,50.00,2026-09-01,,,,,\n"
        + "T4,A1,P1,G1,PAYMENT,-80.00,2026-09-02,MEDICARE,MAC,1,,\n"
        + "T5,A1,P1,G1,CHARGE,zero,2026-09-02,,,,,\n"
    )
    rejects = tmp_path / "rejects.jsonl"
    done = run_detect(str(ledger), "--as-of", "2026-10-01", "--rejects", str(rejects))
    assert done.returncode == 0
    cases = [json.loads(line) for line in done.stdout.splitlines()]
    assert [c["account_id"] for c in cases] == ["A1", "B2"]
    assert cases[0]["lines"] == [{"action": "REFUND", "reason": "PAYER_OVERPAYMENT", "payee_type": "MEDICARE",
                                  "payee_id": "MAC", "amount": "30.00", "due_date": "2026-11-30",
                                  "target_account_id": None}]
    assert cases[1]["credit"] == "60.00" and cases[1]["tier"] == 1 and cases[1]["due_date"] == "2026-11-30"
    assert json.loads(rejects.read_text()) == {"line": 6, "txn_id": "T5", "field": "amount",
                                               "reason": "not a decimal amount with at most 2 places: 'zero'"}
    assert "1 rejected" in done.stderr


def test_detect_command_unreadable_file_exits_2(tmp_path):
    ledger = tmp_path / "ledger.csv"
    ledger.write_bytes(b"")
    done = run_detect(str(ledger), "--as-of", "2026-10-01")
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and "empty" in done.stderr


def test_detect_command_refuses_bad_settings(tmp_path):
    ledger = tmp_path / "ledger.csv"
    ledger.write_text(HEADER + GOOD)
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"tier2_threshold": "-5", "colour": "blue"}))
    done = run_detect(str(ledger), "--as-of", "2026-10-01", "--settings", str(settings))
    assert done.returncode == 2
    assert "tier2_threshold" in done.stderr and "colour" in done.stderr


def test_the_id_length_is_a_setting():
    text = HEADER + "T1,ACC-LONG,P1,G1,CHARGE,1.00,2026-09-01,,,,,\n"
    [error] = list(read_ledger(io.BytesIO(text.encode()), "csv", id_max_length=5))
    assert (error.field, error.reason) == ("account_id", "an id is at most 5 characters; this one has 8")
    [txn] = list(read_ledger(io.BytesIO(text.encode()), "csv", id_max_length=8))
    assert txn.account_id == "ACC-LONG"
