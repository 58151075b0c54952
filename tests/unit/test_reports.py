"""Reports on a seeded set of cases: every bucket sum and every CMS-838 field (issue 5)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from creditrefunds.domain.cases import Case, Line
from creditrefunds.domain.reports import ReportedCase, aging, bucket_of, cms838_rollup, cms838_rows, quarter_range

from .helpers import row

AS_OF = date(2026, 11, 1)


def stored(case_id, identified, status, lines, overdue=False, closed_on=None):
    credit = sum((li.amount for li in lines), Decimal("0.00"))
    case = Case(case_id, "A-" + case_id, "P1", "G1", credit, identified, lines, tier=1)
    return ReportedCase(case, status, overdue, closed_on)


def line(payee_type, amount, due=date(2026, 12, 31), action="REFUND", reason="PAYER_OVERPAYMENT"):
    payee = None if payee_type is None else ("G1" if payee_type == "PATIENT" else "X")
    return Line(action, reason, payee_type, payee, Decimal(amount), due)


@pytest.mark.parametrize(("days", "bucket"), [(0, "0-30"), (30, "0-30"), (31, "31-60"), (60, "31-60"),
                                              (61, "61-90"), (90, "61-90"), (91, "91-120"), (120, "91-120"),
                                              (121, "over 120"), (900, "over 120")])
def test_bucket_edges(days, bucket):
    assert bucket_of(days) == bucket


def test_aging_sums_every_bucket_by_payer_type_and_calls_out_overdue():
    cases = [
        stored("C1", date(2026, 10, 20), "AWAITING_APPROVAL", [line("PATIENT", "60.00")]),
        stored("C2", date(2026, 9, 15), "OPEN", [line("MEDICARE", "3100.00", due=date(2026, 10, 4)),
                                                line("COMMERCIAL", "300.00")]),
        stored("C3", date(2026, 8, 20), "WORK_ITEM", [line("COMMERCIAL", "900.00", action="CORRECT")]),
        stored("C4", date(2026, 7, 15), "FAILED", [line(None, "10.00", action="REVIEW", reason="UNEXPLAINED")],
               overdue=True),
        stored("C5", date(2026, 1, 2), "APPROVED", [line("MEDICAID", "25.00")]),
        stored("C6", date(2026, 9, 1), "REFUND_ISSUED", [line("PATIENT", "40.00")]),
        stored("C7", date(2026, 8, 1), "RECONCILED", [line("PATIENT", "5.00")], closed_on=date(2026, 8, 21)),
        stored("C8", date(2026, 9, 1), "RESOLVED_NO_REFUND", [line("PATIENT", "7.00")], closed_on=date(2026, 9, 11)),
    ]
    report = aging(cases, AS_OF, Decimal("100000.00")).to_json()
    assert report["open_credits"] == {
        "0-30": {"count": 1, "amount": "60.00"}, "31-60": {"count": 1, "amount": "3400.00"},
        "61-90": {"count": 1, "amount": "900.00"}, "91-120": {"count": 1, "amount": "10.00"},
        "over 120": {"count": 1, "amount": "25.00"},
    }
    assert report["total"] == {"count": 5, "amount": "4395.00"}
    by_type = report["open_credits_by_payer_type"]
    assert by_type["MEDICARE"]["31-60"] == {"count": 1, "amount": "3100.00"}
    assert by_type["COMMERCIAL"]["31-60"] == {"count": 1, "amount": "300.00"}
    assert by_type["COMMERCIAL"]["61-90"] == {"count": 1, "amount": "900.00"}
    assert by_type["UNASSIGNED"]["91-120"] == {"count": 1, "amount": "10.00"}
    assert by_type["MEDICAID"]["over 120"] == {"count": 1, "amount": "25.00"}
    assert by_type["PATIENT"]["0-30"] == {"count": 1, "amount": "60.00"}
    assert report["overdue"]["31-60"] == {"count": 1, "amount": "3400.00"}  # due 2026-10-04, past
    assert report["overdue"]["91-120"] == {"count": 1, "amount": "10.00"}  # flagged by the workflow
    assert report["overdue_cases"] == ["C2", "C4"]
    assert report["issued_awaiting_reconciliation"] == {"count": 1, "amount": "40.00"}
    assert report["days_to_resolve"] == {"count": 2, "mean": 15.0, "median": 15.0, "max": 20}
    assert report["credit_share_of_ar_percent"] == "4.40"


def test_cms838_row_carries_every_field_from_the_case_and_the_ledger():
    txns = [
        row("CHARGE", "4200.00", "2026-07-10", account="A2", admit_date="2026-07-01", discharge_date="2026-07-04",
            type_of_bill="111", mbi="1EG4TE5MK73", patient_name="Chen, Robert"),
        row("PAYMENT", "-3100.00", "2026-08-01", account="A2", payer_type="MEDICARE", payer_id="MAC-J1",
            claim_id="ICN-2026213000101", mbi="1EG4TE5MK73", patient_name="Chen, Robert"),
        row("PAYMENT", "-3400.00", "2026-08-05", account="A2", payer_type="COMMERCIAL", payer_id="KAISER",
            claim_id="CLM-7700"),
    ]
    case = Case("CB-2", "A2", "P2", "G2", Decimal("3400.00"), date(2026, 10, 1), [
        Line("REFUND", "MSP_OTHER_PRIMARY", "MEDICARE", "MAC-J1", Decimal("3100.00"), date(2026, 10, 4)),
        Line("REFUND", "PAYER_OVERPAYMENT", "COMMERCIAL", "KAISER", Decimal("300.00"), date(2026, 11, 30)),
    ], tier=2)
    [detail] = cms838_rows(ReportedCase(case, "REFUND_ISSUED"), txns)
    assert detail == {
        "case_id": "CB-2", "beneficiary_name": "Chen, Robert", "mbi": "1EG4TE5MK73", "icn": "ICN-2026213000101",
        "type_of_bill": "111", "admit_date": "2026-07-01", "discharge_date": "2026-07-04",
        "paid_date": "2026-08-01", "identified_on": "2026-10-01", "credit_amount": "3100.00",
        "amount_repaid": "3100.00", "method": "claim adjustment", "amount_outstanding": "0.00",
        "reason_code": "2", "comments": "MSP_OTHER_PRIMARY; account A2; status REFUND_ISSUED",
    }
    [waiting] = cms838_rows(ReportedCase(case, "AWAITING_APPROVAL"), txns)
    assert (waiting["amount_repaid"], waiting["amount_outstanding"]) == ("0.00", "3100.00")
    duplicate = Case("CB-3", "A2", "P2", "G2", Decimal("50.00"), date(2026, 10, 9), [
        Line("REFUND", "DUPLICATE_PAYMENT", "MEDICARE", "MAC-J1", Decimal("50.00"), date(2026, 12, 8))])
    rows = [detail, *cms838_rows(ReportedCase(duplicate, "OPEN"), txns)]
    assert rows[1]["reason_code"] == "1"
    assert cms838_rollup(rows) == [
        {"quarter": "2026Q4", "reason_code": "1", "credits": "1", "credit_amount": "50.00", "amount_repaid": "0.00",
         "amount_outstanding": "50.00"},
        {"quarter": "2026Q4", "reason_code": "2", "credits": "1", "credit_amount": "3100.00",
         "amount_repaid": "3100.00", "amount_outstanding": "0.00"},
    ]


def test_quarters():
    assert quarter_range("2026Q3") == (date(2026, 7, 1), date(2026, 9, 30))
    assert quarter_range("2026q4") == (date(2026, 10, 1), date(2026, 12, 31))
    with pytest.raises(ValueError, match="YYYYQn"):
        quarter_range("2026Q5")
