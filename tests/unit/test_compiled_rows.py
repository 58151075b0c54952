"""The ingest function's reader: the compiled pass gives `ledger.numbered_rows`'s (line, item) pairs
exactly, repeats and conflicts included (issue 14)."""

from __future__ import annotations

import io
from unittest import mock

from creditrefunds.domain import fastpass
from creditrefunds.domain.ledger import RowError, Transaction
from creditrefunds.domain.ledger_files import numbered_rows
from hypothesis import given, settings
from hypothesis import strategies as st

from .test_compiled import damaged
from .test_properties import as_csv


@st.composite
def with_repeats(draw):
    """Damaged ledgers where some rows come again: as they were (a no-op) or changed (a conflict)."""
    rows = draw(damaged())
    for row in list(rows):
        if draw(st.integers(0, 5)) == 0:
            again = dict(row)
            if draw(st.booleans()):
                again["amount"] = draw(st.sampled_from(["1.00", "2.5", "x"]))
            rows.insert(draw(st.integers(0, len(rows))), again)
    return rows


@settings(max_examples=150, deadline=None)
@given(with_repeats(), st.integers(1, 6), st.sampled_from([None, 2, 1_000_001]), st.sampled_from([64, 3]))
def test_the_compiled_rows_are_the_reference_rows(rows, parts, first_line, id_max_length):
    data = as_csv(rows)
    with mock.patch.object(fastpass, "PARTS", parts):
        try:
            with fastpass.numbered_rows(data, first_line, id_max_length) as rows:
                fast = list(rows)
        except fastpass.NotClean as error:  # only an amount past ten integer digits is left to the reference
            assert str(error) == "an amount of more than ten integer digits" and b"99999999999.00" in data
            return
    assert fast == list(numbered_rows(io.BytesIO(data), "csv", first_line, id_max_length))


def test_a_repeat_is_a_no_op_and_a_changed_repeat_a_conflict():
    header = "txn_id,account_id,patient_id,guarantor_id,txn_type,amount,posting_date,patient_name\n"
    row = "T1,A1,P1,G1,CHARGE,10.00,2026-09-01,\"Rivera, Ana\"\n"
    data = (header + row + row + row.replace("10.00", "11.00") + " , ,,,,,,\n").encode()
    with fastpass.numbered_rows(data) as rows:
        fast = list(rows)
    assert fast == list(numbered_rows(io.BytesIO(data), "csv"))
    assert [line for line, _ in fast] == [2, 3, 4]
    first, repeat, changed = (item for _, item in fast)
    assert isinstance(first, Transaction) and first.patient_name == "Rivera, Ana" and str(first.amount) == "10.00"
    assert repeat is None
    assert changed == RowError(4, "T1", "txn_id", "conflicts with line 2: same txn_id, other content")


def test_a_reader_stopped_early_lets_go_of_the_file(tmp_path):
    """store_file stops reading when a write fails: the mapped file must still close, with the write's error."""
    import mmap

    path = tmp_path / "ledger.csv"
    path.write_text("txn_id,account_id,patient_id,guarantor_id,txn_type,amount,posting_date\n"
                    + "".join(f"T{n},A1,P1,G1,CHARGE,1.00,2026-09-01\n" for n in range(5000)))
    with open(path, "rb") as stream, mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ) as data:
        with fastpass.numbered_rows(data) as rows:
            assert next(rows)[0] == 2
    assert data.closed


def test_repeats_whose_values_are_equal_but_stored_apart_are_conflicts():
    """Python hashes -1 as -2 (so Decimal -1.00 and -2.00 hash alike), and 0.00 equals -0.00: the stored
    text tells them apart, as the reference's fingerprint does."""
    header = "txn_id,account_id,patient_id,guarantor_id,txn_type,amount,posting_date,payer_type,payer_id,patient_resp\n"
    data = (header + "T1,A1,P1,G1,PAYMENT,-1.00,2026-09-01,PATIENT,,\n"
            + "T1,A1,P1,G1,PAYMENT,-2.00,2026-09-01,PATIENT,,\n"
            + "T2,A1,P1,G1,PAYMENT,-5.00,2026-09-01,COMMERCIAL,X,0\n"
            + "T2,A1,P1,G1,PAYMENT,-5.00,2026-09-01,COMMERCIAL,X,-0\n").encode()
    with fastpass.numbered_rows(data) as rows:
        fast = list(rows)
    assert fast == list(numbered_rows(io.BytesIO(data), "csv"))
    assert [item for _, item in fast][1::2] == [
        RowError(3, "T1", "txn_id", "conflicts with line 2: same txn_id, other content"),
        RowError(5, "T2", "txn_id", "conflicts with line 4: same txn_id, other content")]
