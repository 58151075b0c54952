"""Splitting a large ledger, and batching its touched accounts for detection in parallel (issue 3)."""

from __future__ import annotations

import io

from creditrefunds.domain.ledger import RowError
from creditrefunds.domain.ledger_files import numbered_rows
from creditrefunds.domain.parts import detection_batches, split_ledger

HEADER = "txn_id,account_id,patient_id,guarantor_id,txn_type,amount,posting_date\n"


def test_a_guarantors_accounts_share_a_batch_even_past_the_size():
    latest = {f"A{n:02d}": ("2026-09-01", f"T{n}", f"G{n // 3}") for n in range(9)}  # three accounts each
    latest["B1"] = ("2026-09-01", "TB", "G1")
    batches = detection_batches(latest, 4)
    assert batches == [["A00", "A01", "A02"], ["A03", "A04", "A05", "B1"], ["A06", "A07", "A08"]]
    assert sorted(a for batch in batches for a in batch) == sorted(latest)


def test_one_guarantor_larger_than_a_batch_is_one_batch():
    latest = {f"A{n}": ("2026-09-01", f"T{n}", "G") for n in range(7)}
    assert detection_batches(latest, 3) == [sorted(latest)]
    assert detection_batches({}, 3) == []


def test_parts_keep_their_rows_and_line_numbers():
    rows = [f"T{n},A{n % 4},P,G,CHARGE,1.00,2026-09-01\n" for n in range(10)]
    rows[4] = 'T4,A0,"P\nmore",G,CHARGE,x,2026-09-01\n'  # a record over two lines (an id with a line break)
    source = (HEADER + "".join(rows)).encode()
    parts = list(split_ledger(io.BytesIO(source), "csv", 3))
    assert [(p.name, p.first_line, p.rows) for p in parts] == [
        ("part-00001", 2, 3), ("part-00002", 5, 3), ("part-00003", 9, 3), ("part-00004", 12, 1)]
    whole = list(numbered_rows(io.BytesIO(source), "csv"))
    pieces = [item for p in parts for item in numbered_rows(io.BytesIO(p.text.encode()), "csv", p.first_line)]
    assert pieces == whole
    [error] = [item for _, item in pieces if isinstance(item, RowError)]
    assert (error.line, error.field) == (6, "patient_id")
