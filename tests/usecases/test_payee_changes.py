"""A changed payee is shown (issue 29): a refund moved to another guarantor by a later file is approved only
after the approver is told first, in the mail and on the page; the history records it and billing staff see it
in `refunds report payee-changes`."""

from __future__ import annotations

from creditrefunds.domain.reports import payee_change_rows

from tests.memory.cloud import MemoryCloud

TIER1 = "tier1.approver@example.org"
ACCOUNT = "PC-1"


def test_a_refund_moved_to_another_guarantor_is_said_first_recorded_and_reported(mem: MemoryCloud):
    mem.drop([f"{ACCOUNT}-1,{ACCOUNT},P-PC,G-1,CHARGE,40.00,2026-11-02,,,,,,,TX",
              f"{ACCOUNT}-2,{ACCOUNT},P-PC,G-1,PAYMENT,-100.00,2026-11-09,PATIENT,,,CHK-1,,,TX"])
    [first] = mem.links(TIER1, ACCOUNT)
    [asked] = [m for m in mem.mailer.to(TIER1) if ACCOUNT in m.subject]
    assert "guarantor G-1" in asked.text and "60.00" in asked.text and "PAYEE CHANGED" not in asked.text
    # A later 0.01 charge and 0.01 credit adjustment carrying another guarantor move the refund to G-2.
    mem.drop([f"{ACCOUNT}-3,{ACCOUNT},P-PC,G-2,CHARGE,0.01,2026-11-20,,,,,,,TX",
              f"{ACCOUNT}-4,{ACCOUNT},P-PC,G-2,ADJUSTMENT,-0.01,2026-11-21,PATIENT,,,,,,TX"])
    [_, again] = mem.links(TIER1, ACCOUNT)
    mail = next(m for m in mem.mailer.to(TIER1) if ACCOUNT in m.subject and again.rsplit("/", 1)[-1] in m.text)
    assert mail.subject.startswith("Payee changed: ")
    assert mail.text.startswith("THE PAYEE CHANGED since an earlier approval of this case:\n  REFUND "
                                "PATIENT_OVERPAYMENT 60.00 now pays guarantor G-2; an earlier approval of this case "
                                "saw guarantor G-1")
    assert mail.html.index("payee-changes") < mail.html.index("needs your approval")
    page = mem.show(again)
    assert page.status == 200 and page.html.index("payee-changes") < page.html.index("id='lines'")
    assert "now pays guarantor G-2" in page.html and ">guarantor G-2<" in page.html
    case = mem.case(ACCOUNT)
    records = mem.history.records(case["case_id"])
    [changed] = [r for r in records if r["action"] == "PAYEE_CHANGED"]
    assert "now pays guarantor G-2" in changed["reason"] and changed["link"]
    assert mem.decide(again).status == 200
    assert [(r["payee_id"], r["amount"]) for r in mem.bucket.ap_rows()] == [("G-2", "60.00")]
    rows = payee_change_rows([(case["case_id"], ACCOUNT, mem.case(ACCOUNT)["status"], records)])
    assert [(r["case_id"], r["account_id"], r["change"][:40]) for r in rows] == [
        (case["case_id"], ACCOUNT, "REFUND PATIENT_OVERPAYMENT 60.00 now pay")]
    assert mem.decide(first).status != 200  # the first link, on the old payee, decides nothing


def test_an_approval_asked_again_of_the_same_payee_says_nothing_changed(mem: MemoryCloud):
    mem.drop([f"{ACCOUNT}-1,{ACCOUNT},P-PC,G-1,CHARGE,40.00,2026-11-02,,,,,,,TX",
              f"{ACCOUNT}-2,{ACCOUNT},P-PC,G-1,PAYMENT,-100.00,2026-11-09,PATIENT,,,CHK-1,,,TX"])
    mem.drop([f"{ACCOUNT}-3,{ACCOUNT},P-PC,G-1,CHARGE,10.00,2026-11-20,,,,,,,TX"])  # the amount changes, not the payee
    assert len(mem.links(TIER1, ACCOUNT)) == 2
    assert not any("PAYEE CHANGED" in m.text for m in mem.mailer.to(TIER1))
    assert "PAYEE_CHANGED" not in mem.actions(mem.case(ACCOUNT)["case_id"])


def moved_to_g2(mem: MemoryCloud) -> None:
    mem.drop([f"{ACCOUNT}-1,{ACCOUNT},P-PC,G-1,CHARGE,40.00,2026-11-02,,,,,,,TX",
              f"{ACCOUNT}-2,{ACCOUNT},P-PC,G-1,PAYMENT,-100.00,2026-11-09,PATIENT,,,CHK-1,,,TX"])
    mem.drop([f"{ACCOUNT}-3,{ACCOUNT},P-PC,G-2,CHARGE,0.01,2026-11-20,,,,,,,TX",
              f"{ACCOUNT}-4,{ACCOUNT},P-PC,G-2,ADJUSTMENT,-0.01,2026-11-21,PATIENT,,,,,,TX"])


def test_every_approver_asked_after_the_change_is_told_first_an_escalation_too(mem: MemoryCloud):
    moved_to_g2(mem)
    mem.time_out(mem.case(ACCOUNT)["case_id"])  # tier 1 waited too long: tier 2 decides
    [link] = mem.links("tier2.approver@example.org", ACCOUNT)
    page = mem.show(link)
    assert "now pays guarantor G-2; an earlier approval of this case saw guarantor G-1" in page.html
    [mail] = [m for m in mem.mailer.to("tier2.approver@example.org") if ACCOUNT in m.subject]
    assert mail.subject.startswith("Payee changed: ") and mail.text.startswith("THE PAYEE CHANGED")


def test_a_refund_moved_to_another_kind_of_payer_is_said_first(mem: MemoryCloud):
    mem.drop([f"{ACCOUNT}-1,{ACCOUNT},P-PC,G-1,CHARGE,100.00,2026-11-02,,,,,,,TX",
              f"{ACCOUNT}-2,{ACCOUNT},P-PC,G-1,PAYMENT,-160.00,2026-11-09,COMMERCIAL,BCBS,,EFT-1,,,TX"])
    # The billing system re-keys the payment: reversed, and posted again under another payer.
    header = "txn_id,account_id,patient_id,guarantor_id,txn_type,amount,posting_date,payer_type,payer_id,reference," \
             "reversal_of\n"
    mem.drop([f"{ACCOUNT}-3,{ACCOUNT},P-PC,G-1,REVERSAL,160.00,2026-11-20,COMMERCIAL,BCBS,,{ACCOUNT}-2",
              f"{ACCOUNT}-4,{ACCOUNT},P-PC,G-1,PAYMENT,-160.00,2026-11-20,OTHER,ACME,EFT-2,"], header=header)
    [_, again] = mem.links(TIER1, ACCOUNT)
    assert "now pays OTHER ACME; an earlier approval of this case saw COMMERCIAL BCBS" in mem.show(again).html
