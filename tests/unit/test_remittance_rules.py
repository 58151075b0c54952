"""What remittance evidence changes in a case (DOMAIN.md section 8), as pure rules: a payer that took its
money back is not refunded again; duplicates a remittance proves name it; what the ledger lacks is listed."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from creditrefunds.domain.detection import build_case, summarize
from creditrefunds.domain.evidence import unmatched
from creditrefunds.domain.ledger import Transaction
from creditrefunds.domain.remittance import ClaimPayment, Evidence, Source, Takeback
from creditrefunds.domain.settings import Settings

from .helpers import AS_OF, charge, lines_of, payment, row


def source(trace: str = "EFT-9", position: int = 17, payer_id: str = "MAC-JL") -> Source:
    return Source("mac.835", "ab" * 32, "NOVITAS", payer_id, trace, date(2026, 9, 20), position)


def takeback(amount: str, claim: str = "ICN1", kind: str = "PLB WO", payer_type: str | None = None,
             payer_id: str = "MAC-JL") -> Takeback:
    return Takeback(kind, payer_id, payer_type, claim, "A1", Decimal(amount), source(payer_id=payer_id))


def paid(amount: str, trace: str, claim: str = "ICN1", status: str = "1") -> ClaimPayment:
    return ClaimPayment("A1", status, Decimal(amount), Decimal(amount), None, "MA", claim, source(trace))


def medicare_paid_twice() -> list[Transaction]:
    return [charge("500.00"),
            payment("500.00", "MEDICARE", "MAC-JL", reference="EFT-1", claim_id="ICN1", posting_date="2026-09-02"),
            payment("500.00", "MEDICARE", "MAC-JL", reference="EFT-2", claim_id="ICN1", posting_date="2026-09-05")]


def case_of(txns: list[Transaction], evidence: Evidence | None = None):
    [summary] = summarize(txns).values()
    return build_case(summary, txns, AS_OF, Settings(), evidence=evidence)


def test_without_evidence_medicare_is_refunded_its_duplicate_payment():
    case = case_of(medicare_paid_twice())
    assert lines_of(case) == [("REFUND", "DUPLICATE_PAYMENT", "MEDICARE", "MAC-JL", Decimal("500.00"))]
    assert case.tier == 1


def test_a_payer_that_recouped_by_offset_is_not_refunded_again():
    case = case_of(medicare_paid_twice(), Evidence(takebacks=(takeback("500.00"),)))
    assert lines_of(case) == [("CORRECT", "PAYER_RECOUPED", "MEDICARE", "MAC-JL", Decimal("500.00"))]
    [line] = case.lines
    assert line.due_date == AS_OF + timedelta(days=30)  # a CORRECT line: 30 days
    assert line.evidence == "PLB WO of 500.00: 835 mac.835, trace EFT-9, claim ICN1, segment 17"
    assert case.refund_total == Decimal("0.00") and case.tier == 0  # nothing to approve, nothing to send


def test_a_partial_takeback_corrects_what_it_took_and_refunds_the_rest():
    case = case_of(medicare_paid_twice(), Evidence(takebacks=(takeback("200.00"),)))
    assert lines_of(case) == [("CORRECT", "PAYER_RECOUPED", "MEDICARE", "MAC-JL", Decimal("200.00")),
                              ("REFUND", "DUPLICATE_PAYMENT", "MEDICARE", "MAC-JL", Decimal("300.00"))]


def test_a_reversal_names_its_payer_type_and_must_match_it():
    reversal = takeback("500.00", kind="CLP02 22", payer_type="COMMERCIAL")
    assert lines_of(case_of(medicare_paid_twice(), Evidence(takebacks=(reversal,))))[0][0] == "REFUND"
    reversal = takeback("500.00", kind="CLP02 22", payer_type="MEDICARE")
    assert lines_of(case_of(medicare_paid_twice(), Evidence(takebacks=(reversal,))))[0][:2] == (
        "CORRECT", "PAYER_RECOUPED")


def test_a_takeback_of_another_claim_or_payer_changes_nothing():
    for other in (takeback("500.00", claim="ICN-OTHER"), takeback("500.00", payer_id="MAC-JH")):
        assert lines_of(case_of(medicare_paid_twice(), Evidence(takebacks=(other,))))[0][0] == "REFUND"


def test_a_takeback_the_ledger_posted_already_is_not_applied_twice():
    posted = [*medicare_paid_twice(), row("RECOUPMENT", "200.00", payer_type="MEDICARE", payer_id="MAC-JL",
                                          claim_id="ICN1", posting_date="2026-09-21")]
    case = case_of(posted, Evidence(takebacks=(takeback("200.00"),)))
    # The recoupment posted lowered the credit to 300.00; the evidence has nothing more to change.
    assert lines_of(case) == [("REFUND", "DUPLICATE_PAYMENT", "MEDICARE", "MAC-JL", Decimal("300.00"))]


def test_two_remitted_payments_confirm_a_duplicate_payment():
    case = case_of(medicare_paid_twice(), Evidence(claims=(paid("500.00", "EFT-1"), paid("500.00", "EFT-2"))))
    [line] = case.lines
    assert line.action == "REFUND" and line.evidence == (
        "remitted twice: 835 mac.835, trace EFT-1, claim ICN1, segment 17; "
        "835 mac.835, trace EFT-2, claim ICN1, segment 17")


def test_one_remitted_payment_posted_twice_confirms_a_duplicate_posting():
    txns = [charge("500.00"),
            payment("500.00", "MEDICARE", "MAC-JL", reference="EFT-1", claim_id="ICN1"),
            payment("500.00", "MEDICARE", "MAC-JL", reference="EFT-1", claim_id="ICN1")]
    [line] = case_of(txns, Evidence(claims=(paid("500.00", "EFT-1"),))).lines
    assert (line.action, line.reason) == ("CORRECT", "DUPLICATE_POSTING")
    assert line.evidence == "remitted once: 835 mac.835, trace EFT-1, claim ICN1, segment 17"


def test_what_the_ledger_lacks_is_listed_for_billing_staff():
    txns = medicare_paid_twice()
    evidence = Evidence(claims=(paid("500.00", "EFT-1"), paid("120.00", "EFT-7", claim="ICN2")),
                        takebacks=(takeback("500.00"),))
    found = [(u.kind, u.claim_id, u.amount) for u in unmatched("A1", evidence, txns)]
    assert found == [("unposted cash", "ICN2", Decimal("120.00")),
                     ("takeback not posted", "ICN1", Decimal("500.00"))]
    assert [u.kind for u in unmatched("A9", Evidence(claims=(paid("80.00", "EFT-8"),)), [])] == ["unknown account"]


def test_a_line_with_evidence_keeps_it_on_the_wire_and_back():
    from creditrefunds.domain.cases import Line

    [line] = case_of(medicare_paid_twice(), Evidence(takebacks=(takeback("500.00"),))).lines
    assert Line.from_json(line.to_json()) == line
    plain = case_of(medicare_paid_twice()).lines[0]
    assert "evidence" not in plain.to_json()  # `refunds detect`'s output is unchanged without remittances


def test_a_reversal_posted_without_payer_fields_is_found_through_what_it_reverses():
    from creditrefunds.domain.evidence import open_takebacks

    txns = medicare_paid_twice()
    # The ledger reversed the second payment on a row that names no payer: the reversed row names it.
    posted = [*txns, row("REVERSAL", "500.00", reversal_of=txns[2].txn_id, posting_date="2026-09-22")]

    assert open_takebacks(Evidence(takebacks=(takeback("500.00"),)), posted) == []


def test_a_takeback_posted_in_parts_counts_as_posted_and_one_posting_clears_one_takeback():
    from creditrefunds.domain.evidence import open_takebacks

    txns = [*medicare_paid_twice(),
            *(row("RECOUPMENT", "125.00", payer_type="MEDICARE", payer_id="MAC-JL", claim_id="ICN1",
                  posting_date=f"2026-09-2{n}") for n in (1, 2))]
    assert open_takebacks(Evidence(takebacks=(takeback("250.00"),)), txns) == []
    two = (Takeback("PLB WO", "MAC-JL", None, "ICN1", "A1", Decimal("250.00"), source("EFT-9")),
           Takeback("PLB WO", "MAC-JL", None, "ICN1", "A1", Decimal("250.00"), source("EFT-10")))
    assert [(tb.source.trace, amount) for tb, amount in open_takebacks(Evidence(takebacks=two), txns)] == [
        ("EFT-9", Decimal("250.00"))]  # the 250.00 posted cleared one of them, not both


def test_the_same_takeback_kept_twice_counts_once():
    by_claim = Takeback("PLB WO", "MAC-JL", None, "ICN1", None, Decimal("250.00"), source())
    by_account = Takeback("PLB WO", "MAC-JL", None, "ICN1", "A1", Decimal("250.00"), source())
    case = case_of(medicare_paid_twice(), Evidence(takebacks=(by_claim, by_account)))
    assert lines_of(case) == [("CORRECT", "PAYER_RECOUPED", "MEDICARE", "MAC-JL", Decimal("250.00")),
                              ("REFUND", "DUPLICATE_PAYMENT", "MEDICARE", "MAC-JL", Decimal("250.00"))]


def test_a_takeback_never_touches_a_patient_refund_nor_applies_without_a_payer():
    txns = [charge("100.00", guarantor_id="G7"),
            payment("300.00", "PATIENT", "G7", reference="CHK-1", claim_id="ICN1"),
            payment("100.00", "COMMERCIAL", "AET", reference="EFT-1", claim_id="ICN1")]
    assert [li[0] for li in lines_of(case_of(txns))] == ["REFUND"]
    for tb in (takeback("200.00", payer_id="G7"), takeback("200.00", payer_id="")):
        assert lines_of(case_of(txns, Evidence(takebacks=(tb,)))) == lines_of(case_of(txns))


def test_a_remitted_payment_of_another_claim_proves_no_duplicate():
    other = (paid("500.00", "EFT-1", claim="ICN-OTHER"), paid("500.00", "EFT-2", claim="ICN-OTHER"))
    [line] = case_of(medicare_paid_twice(), Evidence(claims=other)).lines
    assert line.evidence is None
