"""The columnar first pass gives exactly the reference reader's answer, only faster (issue 3)."""

from __future__ import annotations

import io
from unittest import mock

import pytest
from creditrefunds.domain.ledger import RowError, read_ledger
from creditrefunds.domain.settings import Settings
from hypothesis import given, settings
from hypothesis import strategies as st
from refunds_cli import columnar
from refunds_cli.detect import detect_file, detect_file_by_rows

from .helpers import AS_OF
from .test_ledger_input import BAD_ROWS, GOOD, HEADER
from .test_properties import as_csv, dense_ledgers, ledgers

MUTATIONS = ["1.005", "2026-02-30", "09/01/2026", "", "gift", "payment", " 12.00 ", "-0.00", "4", "medicare", "x",
             "+7.5", "tx", "ß", "\u3000A1\u00a0", "2", "A" * 65, "x\x1by", "Zoë", "=1+1"]


def both_ways(tmp_path, data: bytes):
    """(cases, rejects) from the columnar passes and from the reference, the columnar path required."""
    path = tmp_path / "ledger.csv"
    path.write_bytes(data)
    fast_rejects: list[RowError] = []
    columnar.scan(path, fast_rejects.append)  # raises NotColumnar when the fast path is not taken
    fast_rejects.clear()
    fast = detect_file(path, "csv", AS_OF, Settings(), fast_rejects.append)
    slow_rejects: list[RowError] = []
    slow = detect_file_by_rows(path, "csv", AS_OF, Settings(), slow_rejects.append)
    return ([c.to_json() for c in fast], fast_rejects), ([c.to_json() for c in slow], slow_rejects)


@st.composite
def damaged(draw):
    """Ledgers from the properties, some fields replaced by what billing extracts get wrong."""
    rows = draw(ledgers())
    for row in rows:
        if draw(st.integers(0, 4)) == 0:
            field = draw(st.sampled_from(sorted(set(row) - {"txn_id"})))  # ids stay unique: a repeat is tested apart
            row[field] = draw(st.sampled_from(MUTATIONS))
    return rows


@settings(max_examples=120, deadline=None)
@given(damaged())
def test_columnar_and_reference_agree_on_cases_and_rejects(tmp_path_factory, rows):
    fast, slow = both_ways(tmp_path_factory.mktemp("ledger"), as_csv(rows))
    assert fast == slow


@settings(max_examples=80, deadline=None)
@given(dense_ledgers())
def test_columnar_and_reference_agree_on_rule_dense_accounts(tmp_path_factory, rows):
    fast, slow = both_ways(tmp_path_factory.mktemp("ledger"), as_csv(rows))
    assert fast == slow


@settings(max_examples=60, deadline=None)
@given(damaged(), st.sampled_from([40, 256, 1000]))
def test_cutting_the_file_into_segments_changes_nothing(tmp_path_factory, rows, segment_bytes):
    """Segments far smaller than a row, or holding a few rows, each parsed on its own core."""
    with mock.patch.object(columnar, "SEGMENT_BYTES", segment_bytes):
        fast, slow = both_ways(tmp_path_factory.mktemp("ledger"), as_csv(rows))
    assert fast == slow


@pytest.mark.parametrize(("line", "field", "reason"), [b for b in BAD_ROWS if b[1] != "row"])
def test_each_bad_row_gets_the_reference_message_on_the_fast_path(tmp_path, line, field, reason):
    data = (HEADER + GOOD + line + "\n" + "T3,A1,P1,G1,CHARGE,5.00,2026-09-02,,,,,\n").encode()
    (_, fast_rejects), _ = both_ways(tmp_path, data)
    assert [(e.line, e.field, e.reason) for e in fast_rejects] == [(3, field, reason)]


def test_blank_lines_keep_line_numbers_on_the_fast_path(tmp_path):
    data = (HEADER + GOOD + "\n,,,,,,,,,,,\n" + "T2,A1,P1,G1,CHARGE,1.00,2026-09-01,,,,,\n"
            + "T3,A1,P1,G1,CHARGE,x,2026-09-01,,,,,\n")
    fast, slow = both_ways(tmp_path, data.encode())
    assert fast == slow
    assert [(e.line, e.txn_id) for e in fast[1]] == [(6, "T3")]


@pytest.mark.parametrize(
    ("why", "data"),
    [
        ("a quoted newline", HEADER + GOOD + '"T2\nX",A1,P1,G1,CHARGE,1.00,2026-09-01,,,,,\n'),
        ("a txn_id twice", HEADER + GOOD + GOOD),
        ("another field count", HEADER + GOOD + "T2,A1,P1,G1,CHARGE,1.00\n"),
        ("a bad byte", HEADER + GOOD + "T2,A1,P1,G1,CHARGE,1.00,2026-09-01,,,,,\udcff\n"),
        ("a header with spaces", HEADER.replace("txn_id,", " txn_id,") + GOOD),
    ],
)
def test_other_shapes_take_the_reference_reader_with_the_same_answer(tmp_path, why, data):
    path = tmp_path / "ledger.csv"
    path.write_bytes(data.encode("utf-8", "surrogateescape"))
    with pytest.raises(columnar.NotColumnar):
        columnar.scan(path, lambda _: pytest.fail("no reject is handed over before the file is known clean"))
    if why == "a bad byte":
        return  # the reference refuses the file whole (tested with the reader)
    rejects: list[RowError] = []
    cases = detect_file(path, "csv", AS_OF, Settings(), rejects.append)
    expected = [r for r in read_ledger(io.BytesIO(path.read_bytes()), "csv") if isinstance(r, RowError)]
    assert rejects == expected
    assert [c.account_id for c in cases] == []


@pytest.mark.parametrize("data", [HEADER, HEADER.rstrip("\n"), HEADER + "\n\n"])
def test_a_file_of_no_rows_has_no_cases_on_the_fast_path(tmp_path, data):
    fast, slow = both_ways(tmp_path, data.encode())
    assert fast == slow == ([], [])


def test_a_windows_extract_takes_the_fast_path(tmp_path):
    text = (HEADER + GOOD + "T2,A1,P1,G1,PAYMENT,-150.00,2026-09-03,PATIENT,,,,\n"
            + "T3,A1,P1,G1,CHARGE,x,2026-09-01,,,,,\n")
    fast, slow = both_ways(tmp_path, b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    assert fast == slow
    assert [(c["account_id"], c["credit"]) for c in fast[0]] == [("A1", "50.00")]
    assert [(e.line, e.field) for e in fast[1]] == [(4, "amount")]
