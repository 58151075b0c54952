"""One credit, one refund (issue 16): instructions in flight, the rows that post them back, and
what an account may still claim. Worked examples; the property over random days is below them."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal

from creditrefunds.domain.detection import build_case, summarize
from creditrefunds.domain.instructions import Instruction, ledger_at_issue
from creditrefunds.domain.returns import claim, exposure, holds, match_returns, over_offset
from creditrefunds.domain.settings import Settings
from creditrefunds.domain.status import Status

from .helpers import AS_OF, charge, lines_of, payment, row


def instruction(iid: str, amount: str, payee: str = "PATIENT", payee_id: str = "G1", case: str = "CB-A",
                issued: str = "2026-10-02", prior: frozenset[str] = frozenset(), target: str = "") -> Instruction:
    return Instruction(iid, case, "A1", int(iid.rsplit("#", 1)[1]), "OFFSET" if target else "REFUND", payee, payee_id,
                       Decimal(amount), date.fromisoformat(issued), target=target or None, prior=prior)


def refund_row(amount: str, payer: str = "PATIENT", payer_id: str = "", **kw: str):
    return row("REFUND", amount, posted=kw.pop("posted", "2026-10-05"), payer_type=payer, payer_id=payer_id, **kw)


def test_one_row_posts_back_one_instruction_never_two():
    a, b = instruction("CB-A#0", "50.00"), instruction("CB-B#0", "50.00", case="CB-B", issued="2026-10-03")
    back = refund_row("50.00")
    found = match_returns([a, b], [charge("100.00"), payment("150.00", "PATIENT"), back])
    assert found.new == {"CB-A#0": back}
    assert [i.instruction_id for i in found.pending] == ["CB-B#0"]


def test_a_row_naming_its_instruction_posts_that_one_back():
    a, b = instruction("CB-A#0", "50.00"), instruction("CB-B#0", "50.00", case="CB-B", issued="2026-10-03")
    back = refund_row("50.00", reference="CB-B#0")
    assert match_returns([a, b], [back]).new == {"CB-B#0": back}


def test_a_row_of_another_amount_or_payee_posts_nothing_back_and_is_named_for_billing_staff():
    issued = instruction("CB-A#0", "50.00")
    wrong_amount = refund_row("80.00", txn_id="R-80")
    wrong_payee = refund_row("50.00", "MEDICARE", "MAC", txn_id="R-MCR")
    found = match_returns([issued], [wrong_amount, wrong_payee])
    assert found.new == {} and [i.instruction_id for i in found.pending] == ["CB-A#0"]
    whys = dict((t.txn_id, why) for t, why in found.stray)
    assert set(whys) == {"R-80", "R-MCR"}
    assert "REFUND row R-80 of 80.00 to PATIENT" in whys["R-80"] and "50.00 to PATIENT (instruction CB-A#0)" in whys[
        "R-80"]
    assert found.returned_cases([issued]) == []


def test_a_row_already_in_the_ledger_when_the_refund_went_out_does_not_post_it_back():
    old = refund_row("50.00", posted="2026-03-01", txn_id="R-OLD")
    issued = instruction("CB-A#0", "50.00", prior=ledger_at_issue([old]))
    assert match_returns([issued], [old]).new == {}
    new = refund_row("50.00", txn_id="R-NEW")
    assert match_returns([issued], [old, new]).new == {"CB-A#0": new}


def test_a_refund_row_and_its_void_in_one_file_post_the_instruction_back_and_leave_the_credit_to_work():
    base = [charge("100.00", posted="2026-09-01"), payment("150.00", "PATIENT", posted="2026-09-05")]
    issued = instruction("CB-A#0", "50.00", prior=ledger_at_issue(base))
    back = refund_row("50.00", txn_id="R-1")
    void = row("REVERSAL", "-50.00", posted="2026-10-09", payer_type="PATIENT", reversal_of="R-1")
    found = match_returns([issued], [*base, back, void])
    assert found.new == {"CB-A#0": back} and not found.pending
    assert _claim([*base, back, void], [issued])[0].balance == Decimal("-50.00")  # the credit is owed again


def test_a_row_naming_an_instruction_never_posts_back_another():
    a = instruction("CB-A#0", "50.00")
    b = instruction("CB-B#0", "80.00", case="CB-B")
    wrong = refund_row("80.00", reference="CB-A#0", txn_id="R-NAMES-A")
    found = match_returns([a, b], [wrong])
    assert found.new == {} and [t.txn_id for t, _ in found.stray] == ["R-NAMES-A"]


def test_a_refund_row_dated_before_the_instruction_does_not_post_it_back_and_is_told():
    issued = instruction("CB-A#0", "50.00", issued="2026-10-02", prior=frozenset({"T-OLD"}))
    backdated = refund_row("50.00", posted="2026-10-01", txn_id="R-MANUAL")
    found = match_returns([issued], [backdated])
    assert found.new == {} and len(found.pending) == 1


def test_a_refund_row_after_every_instruction_came_back_is_told_too():
    done = dataclasses.replace(instruction("CB-A#0", "50.00", prior=frozenset({"T1"})), returned_by="R-1")
    manual = refund_row("50.00", posted="2026-11-01", txn_id="R-2")
    found = match_returns([done], [refund_row("50.00", txn_id="R-1"), manual])
    assert [t.txn_id for t, _ in found.stray] == ["R-2"] and found.about == "CB-A"
    assert "every one issued on this account is posted back already" in found.stray[0][1]


def test_an_offset_in_flight_is_the_patient_s_money_gone():
    """The patient paid 100.00, all offset to another account (not yet posted); a 50.00 credit adjustment
    later is not the patient's to take back: they have nothing left paid on this account."""
    txns = [charge("100.00"), payment("100.00", "PATIENT", posted="2026-09-02"),
            payment("100.00", "COMMERCIAL", "BCBS", posted="2026-09-03", reference="E1", coverage_rank="1"),
            row("ADJUSTMENT", "-50.00", posted="2026-10-10", payer_type="COMMERCIAL", payer_id="BCBS",
                adj_code="CO-45")]
    offset = instruction("CB-A#0", "100.00", target="A9", issued="2026-10-02")
    summary, effective = _claim(txns, [offset])
    case = build_case(summary, effective, AS_OF, Settings())
    assert case.credit == Decimal("50.00")
    assert all(line.payee_type != "PATIENT" for line in case.lines), lines_of(case)


def test_an_offset_is_posted_back_by_a_transfer_of_its_amount():
    offset = instruction("CB-A#1", "30.00", target="A9")
    transfer = row("TRANSFER", "30.00", posted="2026-10-06", payer_type="PATIENT")
    assert match_returns([offset], [transfer, refund_row("30.00")]).new == {"CB-A#1": transfer}


def _account(txns):
    return summarize(txns)["A1"], txns


def _claim(txns, instructions):
    return claim(*_account(txns), match_returns(instructions, txns))


def test_money_in_flight_is_claimed_by_no_new_case():
    """Issue 16, scenario 2: refunded 50.00 (not yet posted back), then a charge and an equal payment."""
    txns = [charge("100.00", posted="2026-09-01"), payment("150.00", "PATIENT", posted="2026-09-05"),
            charge("100.00", posted="2026-10-06"), payment("100.00", "PATIENT", posted="2026-10-07")]
    issued = [instruction("CB-A#0", "50.00")]
    assert _claim(txns, issued) is None
    back = [*txns, refund_row("50.00")]
    returns = match_returns(issued, back)
    assert returns.returned_cases(issued) == ["CB-A"] and claim(*_account(back), returns) is None


def test_a_credit_beyond_what_is_in_flight_is_claimed_for_the_rest_only_and_by_the_right_payee():
    txns = [charge("100.00"), payment("150.00", "PATIENT", posted="2026-09-02"),
            payment("40.00", "COMMERCIAL", "BCBS", posted="2026-09-20", reference="EFT-1", coverage_rank="1",
                    patient_resp="100.00")]
    summary, effective = _claim(txns, [instruction("CB-A#0", "50.00")])
    assert summary.balance == Decimal("-40.00")
    case = build_case(summary, effective, AS_OF, Settings())
    # The patient owed 100.00 and paid 150.00: their 50.00 is on its way back, the rest is the insurer's.
    assert lines_of(case) == [("REFUND", "PAYER_OVERPAYMENT", "COMMERCIAL", "BCBS", Decimal("40.00"))]


def test_a_payer_that_recoups_posts_its_refund_back():
    base = [charge("100.00"), payment("100.00", "COMMERCIAL", "BCBS", posted="2026-09-02", reference="E1",
                                      coverage_rank="1"),
            payment("100.00", "MEDICARE", "MAC", posted="2026-09-03", reference="E2", coverage_rank="1")]
    medicare = instruction("CB-A#0", "100.00", "MEDICARE", "MAC", prior=ledger_at_issue(base))
    recouped = row("RECOUPMENT", "100.00", posted="2026-10-20", payer_type="MEDICARE", payer_id="MAC")
    assert match_returns([medicare], [*base, recouped]).new == {"CB-A#0": recouped}
    assert exposure("A1", [*base, recouped], [medicare]).over == 0


def test_a_check_voided_after_it_was_posted_back_leaves_a_credit_to_claim_again():
    base = [charge("100.00", posted="2026-09-01"), payment("150.00", "PATIENT", posted="2026-09-05")]
    back = refund_row("50.00", txn_id="R1")
    kept = dataclasses.replace(instruction("CB-A#0", "50.00", prior=ledger_at_issue(base)), returned_by="R1")
    void = row("REVERSAL", "-50.00", posted="2026-11-01", payer_type="PATIENT", reversal_of="R1")
    found = _claim([*base, back, void], [kept])
    assert found is not None and found[0].balance == Decimal("-50.00")
    # ... and the row of the next refund posts back the next instruction, not the old one.
    again = instruction("CB-B#0", "50.00", case="CB-B", issued="2026-11-05", prior=frozenset({"R1"}))
    r2 = refund_row("50.00", txn_id="R2", posted="2026-11-20")
    assert match_returns([kept, again], [*base, back, void, r2]).new == {"CB-B#0": r2}


def test_holding_rules():
    assert holds(Status.AWAITING_APPROVAL, False) and holds(Status.WORK_ITEM, False)
    assert not holds(Status.REFUND_ISSUED, True) and not holds(Status.RECONCILED, True)
    assert holds(Status.FAILED, True) and not holds(Status.FAILED, False)


def test_exposure_flags_money_paid_twice_and_only_that():
    held = [charge("100.00", posted="2026-09-01"), payment("150.00", "PATIENT", posted="2026-09-05")]
    once = exposure("A1", [*held, refund_row("50.00")], [instruction("CB-A#0", "50.00")])
    assert once.paid_out == Decimal("50.00") and once.over == 0
    twice = exposure("A1", [*held, refund_row("50.00")],
                     [instruction("CB-A#0", "50.00"), instruction("CB-B#0", "50.00", case="CB-B")])
    assert twice.over == Decimal("50.00") and "may have been paid twice" in twice.why()
    # A second, genuine credit after the first was refunded is no exposure.
    later = [*held, refund_row("50.00"), charge("100.00", posted="2026-11-01"),
             payment("130.00", "PATIENT", posted="2026-11-02")]
    assert exposure("A1", later, [instruction("CB-A#0", "50.00"),
                                  instruction("CB-B#0", "30.00", case="CB-B", issued="2026-11-03")]).over == 0


def test_exposure_replays_the_days_a_credit_absorbed_by_a_charge_pays_nothing_later():
    txns = [charge("100.00", posted="2026-09-01"), payment("200.00", "PATIENT", posted="2026-09-02"),
            charge("100.00", posted="2026-09-10"),  # the 100.00 credit is gone
            payment("40.00", "PATIENT", posted="2026-10-01")]
    twice = [instruction("CB-B#0", "40.00", case="CB-B", issued="2026-10-02"),
             instruction("CB-C#0", "40.00", case="CB-C", issued="2026-10-03")]
    assert exposure("A1", txns, twice).over == Decimal("40.00")


def test_a_bounced_payment_after_a_refund_is_no_exposure():
    paid = payment("150.00", "PATIENT", posted="2026-09-05", txn_id="P1")
    txns = [charge("100.00", posted="2026-09-01"), paid, refund_row("50.00", txn_id="R1"),
            row("REVERSAL", "150.00", posted="2026-10-20", payer_type="PATIENT", reversal_of="P1")]
    assert exposure("A1", txns, [instruction("CB-A#0", "50.00")]).over == 0


def test_exposure_counts_a_charge_ingested_after_the_refund_after_it():
    """A charge dated before the refund but reaching the ledger after it cleared the credit later: no
    money went out without a credit to pay it from."""
    base = [charge("100.00", posted="2026-09-01", txn_id="C1"), payment("160.00", "PATIENT", posted="2026-09-05",
                                                                          txn_id="P1")]
    late = charge("60.00", posted="2026-09-20", txn_id="C-LATE")
    issued = instruction("CB-A#0", "60.00", issued="2026-10-02", prior=ledger_at_issue(base))
    assert exposure("A1", [*base, late], [issued]).over == 0


def test_two_refunds_of_one_day_are_replayed_in_the_order_they_went_out_not_by_their_ids():
    """Medicare refunded 5.00, then the patient paid 5.00 more and was refunded it the same day: the
    later case's id sorting first must not make the audit see the second refund before the payment."""
    first_payment = payment("5.00", "MEDICARE", "MAC", posted="2026-11-20", txn_id="T1")
    second_payment = payment("5.00", "PATIENT", posted="2026-11-20", txn_id="T2")
    to_medicare = instruction("CB-9#0", "5.00", "MEDICARE", "MAC", case="CB-9", issued="2026-11-20",
                              prior=frozenset({"T1"}))
    to_patient = instruction("CB-1#0", "5.00", case="CB-1", issued="2026-11-20", prior=frozenset({"T1", "T2"}))
    assert exposure("A1", [first_payment, second_payment], [to_medicare, to_patient]).over == 0


def test_a_debit_offset_twice_is_named_with_what_it_received_beyond_its_debt():
    debt = [charge("100.00", account="D1")]
    first = instruction("CB-A#0", "100.00", target="D1")
    second = instruction("CB-B#0", "100.00", case="CB-B", issued="2026-10-09", target="D1")
    assert over_offset("D1", debt, [first]).over == Decimal("0.00")
    twice = over_offset("D1", debt, [first, second])
    assert (twice.received, twice.over, twice.instructions) == (Decimal("200.00"), Decimal("100.00"),
                                                                 ("CB-A#0", "CB-B#0"))
    assert "CB-B#0" in twice.why() and "100.00 more than it owed" in twice.why()


def test_a_debit_offset_again_after_a_new_charge_owed_it_is_not_named():
    first = instruction("CB-A#0", "100.00", target="D1")
    later = instruction("CB-B#0", "50.00", case="CB-B", issued="2026-10-20", target="D1")
    rows = [charge("100.00", account="D1"),
            row("TRANSFER", "-100.00", posted="2026-10-06", account="D1", payer_type="PATIENT", reference="CB-A#0"),
            charge("50.00", account="D1", posting_date="2026-10-15"),
            row("TRANSFER", "-50.00", posted="2026-10-25", account="D1", payer_type="PATIENT")]
    assert over_offset("D1", rows, [first, later]).over == Decimal("0.00")
    # The same transfers, and no new charge: the second offset paid into nothing owed.
    assert over_offset("D1", [r for r in rows if r.txn_type != "CHARGE" or r.amount == 100], [first, later]).over \
        == Decimal("50.00")
