"""DOMAIN.md section 3 to 6: each rule with a worked example of its own, and combinations."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from creditrefunds.domain.settings import Settings

from .helpers import AS_OF, charge, lines_of, one_case, payment, row

D = Decimal


def test_no_credit_no_case():
    from creditrefunds.domain.detection import detect

    assert detect([charge("100.00"), payment("100.00", "COMMERCIAL", "BCBS")], AS_OF, Settings()) == []


def test_one_cent_credit_is_a_case():
    case = one_case([charge("100.00"), payment("100.01", "PATIENT")])
    assert case.credit == D("0.01")


def test_rule1_duplicate_posting_is_corrected_not_refunded():
    case = one_case([
        charge("500.00"),
        payment("500.00", "COMMERCIAL", "AETNA", reference="EFT1", claim_id="C1", posting_date="2026-09-10"),
        payment("500.00", "COMMERCIAL", "AETNA", reference="EFT1", claim_id="C1", posting_date="2026-09-11"),
    ])
    assert lines_of(case) == [("CORRECT", "DUPLICATE_POSTING", "COMMERCIAL", "AETNA", D("500.00"))]
    assert case.lines[0].due_date == date(2026, 10, 31)  # false credits: 30 days
    assert case.tier == 0


def test_rule2_duplicate_adjustment_is_corrected():
    case = one_case([
        charge("300.00"),
        payment("200.00", "COMMERCIAL", "UHC", reference="E1"),
        row("ADJUSTMENT", "-100.00", payer_type="COMMERCIAL", payer_id="UHC", adj_code="CO-45"),
        row("ADJUSTMENT", "-100.00", payer_type="COMMERCIAL", payer_id="UHC", adj_code="CO-45"),
    ])
    assert lines_of(case) == [("CORRECT", "DUPLICATE_ADJUSTMENT", "COMMERCIAL", "UHC", D("100.00"))]


def test_rule3_duplicate_payment_under_other_reference_is_refunded():
    case = one_case([
        charge("400.00"),
        payment("400.00", "MEDICAID", "TXMCD", reference="E1", claim_id="ICN9", posting_date="2026-09-01"),
        payment("400.00", "MEDICAID", "TXMCD", reference="E2", claim_id="ICN9", posting_date="2026-09-05"),
    ])
    assert lines_of(case) == [("REFUND", "DUPLICATE_PAYMENT", "MEDICAID", "TXMCD", D("400.00"))]
    assert case.lines[0].due_date == date(2026, 11, 30)


def test_rule4_medicare_secondary_refunded_when_other_primary_paid():
    case = one_case([
        charge("1000.00"),
        payment("800.00", "MEDICARE", "MAC", coverage_rank="2", reference="M1", posting_date="2026-08-01"),
        payment("900.00", "COMMERCIAL", "BCBS", coverage_rank="1", reference="B1", posting_date="2026-08-20"),
    ])
    assert lines_of(case) == [("REFUND", "MSP_OTHER_PRIMARY", "MEDICARE", "MAC", D("700.00"))]
    # 60 days after the other payer's payment, earlier than 60 days after identification.
    assert case.due_date == date(2026, 10, 19)


def test_rule4_two_rank_one_commercials_refund_the_later():
    case = one_case([
        charge("600.00"),
        payment("600.00", "COMMERCIAL", "FIRST", coverage_rank="1", reference="F1", posting_date="2026-09-01"),
        payment("450.00", "COMMERCIAL", "LATER", coverage_rank="1", reference="L1", posting_date="2026-09-09"),
    ])
    assert lines_of(case) == [("REFUND", "COB_ERROR", "COMMERCIAL", "LATER", D("450.00"))]


def test_rule5_patient_overpayment_less_patient_responsibility():
    case = one_case([
        charge("100.00", patient_state="TX"),
        payment("80.00", "COMMERCIAL", "BCBS", reference="E1", patient_resp="20.00"),
        payment("50.00", "PATIENT", reference="CHK1"),
    ])
    assert lines_of(case) == [("REFUND", "PATIENT_OVERPAYMENT", "PATIENT", "G1", D("30.00"))]
    assert case.due_date == date(2026, 10, 31)  # Texas: 30 days


def paid_in_error(first: str, later: tuple[str, str, str]) -> list:
    """A 200.00 charge: `first` (rank 1) paid 180.00 and set the patient's share at 40.00, then `later` (type, id,
    rank) paid 30.00 and set it at 0.00; the patient paid 40.00."""
    payer_type, payer_id, rank = later
    return [
        charge("200.00", patient_state="NY"),
        payment("180.00", "COMMERCIAL", first, coverage_rank="1", reference="B1", posting_date="2026-08-01",
                patient_resp="40.00"),
        payment("30.00", payer_type, payer_id, coverage_rank=rank, reference="M1", posting_date="2026-08-10",
                patient_resp="0.00"),
        payment("40.00", "PATIENT", reference="CHK1", posting_date="2026-08-12"),
    ]


def test_rule5_a_payer_paid_in_error_sets_no_patient_share():
    """Medicare paid second to a primary insurer (step 4 refunds it): its patient_resp of 0.00 counts for
    nothing; the primary's 40.00 stands, so the patient paid only their share and the rest is the primary's."""
    assert lines_of(one_case(paid_in_error("BCBS", ("MEDICARE", "MAC", "2")))) == [
        ("REFUND", "MSP_OTHER_PRIMARY", "MEDICARE", "MAC", D("30.00")),
        ("REFUND", "PAYER_OVERPAYMENT", "COMMERCIAL", "BCBS", D("20.00")),
    ]
    assert lines_of(one_case(paid_in_error("FIRST", ("COMMERCIAL", "LATER", "1")))) == [
        ("REFUND", "COB_ERROR", "COMMERCIAL", "LATER", D("30.00")),
        ("REFUND", "PAYER_OVERPAYMENT", "COMMERCIAL", "FIRST", D("20.00")),
    ]


def test_rule6_payer_overpayment_goes_tertiary_first():
    case = one_case([
        charge("100.00"),
        payment("60.00", "COMMERCIAL", "PRIMARY", coverage_rank="1", reference="P"),
        payment("40.00", "COMMERCIAL", "SECOND", coverage_rank="2", reference="S"),
        payment("30.00", "OTHER", "THIRD", coverage_rank="3", reference="T"),
    ])
    assert lines_of(case) == [("REFUND", "PAYER_OVERPAYMENT", "OTHER", "THIRD", D("30.00"))]


def test_rule6_payer_limited_to_what_it_paid_net():
    case = one_case([
        charge("85.00"),
        payment("100.00", "COMMERCIAL", "PRIMARY", coverage_rank="1", reference="P"),
        payment("40.00", "COMMERCIAL", "SECOND", coverage_rank="2", reference="S"),
        row("REFUND", "30.00", payer_type="COMMERCIAL", payer_id="SECOND"),
    ])
    assert lines_of(case) == [
        ("REFUND", "PAYER_OVERPAYMENT", "COMMERCIAL", "SECOND", D("10.00")),
        ("REFUND", "PAYER_OVERPAYMENT", "COMMERCIAL", "PRIMARY", D("15.00")),
    ]


def test_rule7_credit_made_by_adjustments_is_unexplained():
    case = one_case([charge("100.00"), row("ADJUSTMENT", "-130.00", payer_type="COMMERCIAL", payer_id="X")])
    assert lines_of(case) == [("REVIEW", "UNEXPLAINED", None, None, D("30.00"))]
    assert case.due_date == date(2026, 10, 31)


def test_patient_and_payer_parts_in_one_case():
    case = one_case([
        charge("200.00", patient_state="NY"),
        payment("190.00", "COMMERCIAL", "CIGNA", reference="E1", patient_resp="10.00"),
        payment("60.00", "PATIENT", reference="C1"),
    ])
    assert lines_of(case) == [
        ("REFUND", "PATIENT_OVERPAYMENT", "PATIENT", "G1", D("50.00")),
    ]
    assert case.credit == D("50.00")
    big = one_case([
        charge("200.00", account="A2", patient_state="NY"),
        payment("250.00", "COMMERCIAL", "CIGNA", account="A2", reference="E1", patient_resp="10.00"),
        payment("30.00", "PATIENT", account="A2", reference="C1"),
    ])
    assert lines_of(big) == [
        ("REFUND", "PATIENT_OVERPAYMENT", "PATIENT", "G1", D("20.00")),
        ("REFUND", "PAYER_OVERPAYMENT", "COMMERCIAL", "CIGNA", D("60.00")),
    ]
    assert big.tier == 1


def test_reversed_payment_is_not_a_duplicate():
    case_txns = [
        charge("500.00"),
        payment("500.00", "COMMERCIAL", "CIGNA", reference="E1", txn_id="P1"),
        payment("500.00", "COMMERCIAL", "CIGNA", reference="E2", txn_id="P2"),
        row("REVERSAL", "500.00", payer_type="COMMERCIAL", payer_id="CIGNA", reversal_of="P2"),
        row("REFUND", "10.00", payer_type="PATIENT"),
        payment("20.00", "PATIENT", reference="C"),
    ]
    case = one_case(case_txns)
    assert lines_of(case) == [("REFUND", "PATIENT_OVERPAYMENT", "PATIENT", "G1", D("10.00"))]


def test_offsets_pay_oldest_debit_first_then_refund_rest():
    txns = [
        charge("100.00", account="OLD", service_date="2026-01-05"),
        charge("30.00", account="NEWER", service_date="2026-03-01"),
        charge("100.00", account="CR", patient_state="FL"),
        payment("100.00", "COMMERCIAL", "AET", account="CR", reference="E"),
        payment("150.00", "PATIENT", account="CR", reference="C"),
    ]
    from creditrefunds.domain.detection import detect

    (case,) = detect(txns, AS_OF, Settings())
    assert [(li.action, li.amount, li.target_account_id) for li in case.lines] == [
        ("OFFSET", D("100.00"), "OLD"),
        ("OFFSET", D("30.00"), "NEWER"),
        ("REFUND", D("20.00"), None),
    ]
    assert all(li.due_date == date(2026, 11, 30) for li in case.lines)


def test_offsets_can_be_switched_off():
    txns = [
        charge("100.00", account="OLD"),
        charge("100.00", account="CR"),
        payment("150.00", "PATIENT", account="CR", reference="C"),
    ]
    from creditrefunds.domain.detection import detect

    (case,) = detect(txns, AS_OF, Settings(offset_patient_credits=False))
    assert lines_of(case) == [("REFUND", "PATIENT_OVERPAYMENT", "PATIENT", "G1", D("50.00"))]


def test_california_small_patient_credit_is_held_not_written_off():
    case = one_case([charge("100.00", patient_state="CA"), payment("104.99", "PATIENT", reference="C")])
    assert lines_of(case) == [("HOLD", "PATIENT_OVERPAYMENT", "PATIENT", "G1", D("4.99"))]
    assert case.due_date is None
    assert case.tier == 0


def test_texas_has_no_small_balance_floor():
    case = one_case([charge("100.00", patient_state="TX"), payment("100.01", "PATIENT", reference="C")])
    assert lines_of(case) == [("REFUND", "PATIENT_OVERPAYMENT", "PATIENT", "G1", D("0.01"))]


def test_unknown_state_patient_gets_sixty_days():
    case = one_case([charge("100.00"), payment("120.00", "PATIENT", reference="C")])
    assert case.due_date == date(2026, 11, 30)


def test_tiers_by_refund_total():
    assert one_case([charge("1.00"), payment("1001.00", "PATIENT")]).tier == 2
    assert one_case([charge("1.00", account="B"), payment("1000.00", "PATIENT", account="B")]).tier == 1
    assert one_case([charge("1.00", account="C"), payment("10001.00", "PATIENT", account="C")]).tier == 3


def test_settings_change_the_rules():
    settings = Settings(patient_state_refund_days={"TX": 15}, tier2_threshold=D("50.00"))
    case = one_case([charge("100.00", patient_state="TX"), payment("200.00", "PATIENT")], settings)
    assert case.due_date == date(2026, 10, 16)
    assert case.tier == 2


def test_same_account_same_episode_same_case_id():
    txns = [charge("100.00", txn_id="C1"), payment("150.00", "PATIENT", txn_id="P1")]
    assert one_case(txns).case_id == one_case(list(reversed(txns))).case_id


def test_rule3_an_unreferenced_payment_before_them_does_not_hide_a_duplicate_payment():
    """Issue 13: the group's first payment has no reference; EFT1 is the original, EFT2 the extra."""
    case = one_case([
        charge("1000.00"),
        payment("800.00", "MEDICARE", "MAC-J1", claim_id="ICN-1", posting_date="2026-09-01"),
        row("ADJUSTMENT", "-200.00", posted="2026-09-02", payer_type="MEDICARE", payer_id="MAC-J1", claim_id="ICN-1"),
        payment("800.00", "MEDICARE", "MAC-J1", reference="EFT1", claim_id="ICN-1", posting_date="2026-09-03"),
        payment("800.00", "MEDICARE", "MAC-J1", reference="EFT2", claim_id="ICN-1", posting_date="2026-09-04"),
    ])
    assert lines_of(case)[0] == ("REFUND", "DUPLICATE_PAYMENT", "MEDICARE", "MAC-J1", D("800.00"))
    assert sum(line.amount for line in case.lines) == D("1600.00")


def test_a_duplicate_postings_extra_copy_is_nobodys_latest_payment():
    """Issue 13: after CORRECT 4.05 to BCBS, the COB_ERROR refunds go to AETNA (whose payment is the
    latest one really paid), then BCBS; the extra copy of BCBS's posting does not make it latest."""
    case = one_case([
        charge("4.97"),
        payment("3.50", "COMMERCIAL", "UHC", coverage_rank="1", posting_date="2026-10-07"),
        payment("4.05", "COMMERCIAL", "BCBS", coverage_rank="1", reference="B1", posting_date="2026-10-08"),
        payment("0.37", "COMMERCIAL", "AETNA", coverage_rank="1", posting_date="2026-10-09"),
        payment("4.05", "COMMERCIAL", "BCBS", coverage_rank="1", reference="B1", posting_date="2026-10-10"),
    ])
    assert lines_of(case) == [
        ("CORRECT", "DUPLICATE_POSTING", "COMMERCIAL", "BCBS", D("4.05")),
        ("REFUND", "COB_ERROR", "COMMERCIAL", "AETNA", D("0.37")),
        ("REFUND", "COB_ERROR", "COMMERCIAL", "BCBS", D("2.58")),
    ]


def test_within_a_step_lines_come_group_by_group_in_posting_order():
    """DOMAIN.md section 3: each group's first transaction orders the groups (then txn_id)."""
    case = one_case([
        charge("100.00"),
        payment("30.00", "COMMERCIAL", "BCBS", reference="B", posting_date="2026-09-02"),
        payment("20.00", "COMMERCIAL", "AETNA", reference="A", posting_date="2026-09-03"),
        payment("30.00", "COMMERCIAL", "BCBS", reference="B", posting_date="2026-09-05"),
        payment("20.00", "COMMERCIAL", "AETNA", reference="A", posting_date="2026-09-04"),
        payment("50.00", "COMMERCIAL", "UHC", reference="U", posting_date="2026-09-06"),
    ])
    assert [(a, payee) for a, _, _, payee, _ in lines_of(case)][:2] == [("CORRECT", "BCBS"), ("CORRECT", "AETNA")]


def test_an_insurers_rank_is_its_least_and_none_counts_as_one():
    """DOMAIN.md section 3: a payer's rank is the least coverage_rank on any of its rows."""
    case = one_case([
        charge("100.00"),
        payment("60.00", "COMMERCIAL", "PRIMARY", coverage_rank="2", posting_date="2026-09-02"),
        payment("10.00", "COMMERCIAL", "PRIMARY", coverage_rank="1", posting_date="2026-09-03"),
        payment("50.00", "OTHER", "AUTO", posting_date="2026-09-04"),  # no rank: 1, and it paid later
    ])
    assert lines_of(case) == [("REFUND", "COB_ERROR", "OTHER", "AUTO", D("20.00"))]


def test_a_duplicate_payment_refund_is_capped_at_what_the_payer_paid_net():
    case = one_case([
        charge("100.00"),
        payment("100.00", "COMMERCIAL", "UHC", reference="E1", posting_date="2026-09-02"),
        payment("100.00", "COMMERCIAL", "UHC", reference="E2", posting_date="2026-09-03"),
        row("RECOUPMENT", "60.00", posted="2026-09-04", payer_type="COMMERCIAL", payer_id="UHC"),
    ])
    assert lines_of(case) == [("REFUND", "DUPLICATE_PAYMENT", "COMMERCIAL", "UHC", D("40.00"))]


def test_offsets_without_service_dates_go_by_earliest_posting_then_account():
    from creditrefunds.domain.detection import detect

    txns = [
        charge("10.00", account="B-DEBT", posted="2026-02-01"),
        charge("10.00", account="A-DEBT", posted="2026-02-01"),
        charge("10.00", account="C-DEBT", posted="2026-01-15"),
        charge("5.00", account="CR"),
        payment("30.00", "PATIENT", account="CR"),
    ]
    (case,) = detect(txns, AS_OF, Settings())
    assert [(li.action, li.target_account_id) for li in case.lines] == [
        ("OFFSET", "C-DEBT"), ("OFFSET", "A-DEBT"), ("OFFSET", "B-DEBT")]  # B, last, gets the 5.00 left


def test_the_patient_state_is_the_latest_row_that_states_one():
    case = one_case([
        charge("100.00", patient_state="CA", posted="2026-09-01"),
        payment("103.00", "PATIENT", patient_state="TX", posted="2026-09-02"),
        row("ADJUSTMENT", "1.00", posted="2026-09-03", payer_type="PATIENT"),  # no state: TX still
    ])
    assert lines_of(case) == [("REFUND", "PATIENT_OVERPAYMENT", "PATIENT", "G1", D("2.00"))]  # TX: no floor
    assert case.lines[0].due_date == date(2026, 10, 31)  # Texas: 30 days
