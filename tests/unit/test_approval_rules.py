"""The approval's pure parts: masking, the mail, the wait before escalation, the paused clock (issue 4)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from creditrefunds.approvals import Approval, approval_email, can_investigate, mask_name
from creditrefunds.cases import Case, Line
from creditrefunds.review import approval_wait_seconds, pause_clock

TODAY = date(2026, 11, 27)


def case(due: date, payee_type: str = "PATIENT") -> Case:
    return Case("CB-1", "ACC-1", "P1", "G1", Decimal("60.00"), TODAY,
                [Line("REFUND", "PATIENT_OVERPAYMENT", payee_type, "G1", Decimal("60.00"), due)], tier=1)


def test_names_are_masked_to_initials():
    assert mask_name("Rivera, Ana") == "R*****, A**"
    assert mask_name("O'Neil Mary-Kate") == "O***** M********"
    assert mask_name(None) == "(no name on the ledger)"


def test_the_mail_carries_the_case_but_not_the_name():
    subject, text, html = approval_email(case(date(2026, 12, 27)),
                                         Approval("id", "CB-1", 1, "a@example.org", "60.00", 0, "PENDING"),
                                         "https://approve.example/approve/id", "R*****, A**")
    assert subject == "Refund approval needed: 60.00 on account ACC-1 (tier 1, due 2026-12-27)"
    for body in (text, html):
        assert "R*****, A**" in body and "PATIENT_OVERPAYMENT" in body and "https://approve.example/approve/id" in body
        assert "Rivera" not in body


def test_the_wait_is_the_tiers_unless_the_lead_or_the_due_date_comes_first():
    day, lead, tier_wait = 100, 1000, 259200
    assert approval_wait_seconds(case(date(2027, 3, 1)), TODAY, tier_wait, 86400, 864000) == tier_wait
    assert approval_wait_seconds(case(date(2026, 12, 27)), TODAY, 5000, day, lead) == 30 * day - lead
    assert approval_wait_seconds(case(date(2026, 12, 2)), TODAY, 5000, day, lead) == 5 * day  # lead passed: due
    assert approval_wait_seconds(case(date(2026, 11, 1)), TODAY, 5000, day, lead) == 5000  # past due: the tier's


def test_an_investigation_moves_only_medicare_and_medicaid_due_dates():
    medicare = pause_clock(case(date(2027, 1, 26), "MEDICARE"), 90)
    patient = pause_clock(case(date(2027, 1, 26), "PATIENT"), 90)
    assert medicare.due_date == date(2027, 4, 26) and patient.due_date == date(2027, 1, 26)
    assert can_investigate(case(TODAY, "MEDICAID")) and not can_investigate(case(TODAY, "COMMERCIAL"))
