"""Every path of the refund workflow, run from its ASL by the real use-cases over the in-memory ports."""

from __future__ import annotations

from tests.memory.cloud import MemoryCloud

TIER1, TIER2, TIER3 = "tier1.approver@example.org", "tier2.approver@example.org", "tier3.approver@example.org"


def patient_credit(account: str, paid: str = "150.00") -> list[str]:
    """A Texas patient who paid `paid` on a 100.00 charge: a tier-1 refund to the guarantor."""
    return [f"{account}-1,{account},P-{account},G-{account},CHARGE,100.00,2026-11-02,,,,,,\"Rivera, Ana\",TX",
            f"{account}-2,{account},P-{account},G-{account},PAYMENT,-{paid},2026-11-09,PATIENT,,,CHK-1,,"
            f"\"Rivera, Ana\",TX"]


def test_approve_issues_the_refund_once_and_opening_the_link_decides_nothing(mem: MemoryCloud):
    mem.drop(patient_credit("WF-APPROVE"))
    [mail] = mem.mailer.to(TIER1)
    assert "50.00" in mail.subject and "Rivera" not in mail.subject and "R*****, A**" in mail.text
    [link] = mem.links(TIER1, "WF-APPROVE")
    for _ in range(2):
        page = mem.show(link)
        assert page.status == 200 and "Approve" in page.html and "Investigate" not in page.html
    case = mem.case("WF-APPROVE")
    assert case["status"] == "AWAITING_APPROVAL"

    assert mem.decide(link).status == 200
    case = mem.case("WF-APPROVE")
    assert case["status"] == "REFUND_ISSUED"
    assert mem.bucket.ap_rows() == [{
        "instruction_id": f"{case['case_id']}#0", "issued_on": "2026-11-20", "case_id": case["case_id"],
        "account_id": "WF-APPROVE", "payee_type": "PATIENT", "payee_id": "G-WF-APPROVE", "amount": "50.00",
        "method": "check", "reason": "PATIENT_OVERPAYMENT", "claim_id": "", "target_account_id": "",
        "due_date": "2026-12-20"}]
    assert mem.actions(case["case_id"]) == ["DETECTED", "REVIEWED", "EMAILED", "DECIDED", "RECHECKED", "ISSUED"]
    assert mem.decide(link).status == 410  # used

    for _ in range(2):  # the issue step delivered twice more issues nothing
        again = mem.workflows._steps["IssueRefundFunctionArn"]({"case_id": case["case_id"]})
        assert again["new"] == [] and again["issued"] == [f"{case['case_id']}#0"]
    assert len(mem.bucket.ap_rows()) == 1 and mem.actions(case["case_id"]).count("ISSUED") == 1


def test_reject_needs_a_reason_and_becomes_a_work_item(mem: MemoryCloud):
    mem.drop(patient_credit("WF-REJECT"))
    [link] = mem.links(TIER1)
    page = mem.decide(link, "reject")
    assert page.status == 400 and "needs a reason" in page.html
    assert mem.case("WF-REJECT")["status"] == "AWAITING_APPROVAL"
    assert mem.decide(link, "reject", "guarantor disputes the charge").status == 200
    case = mem.case("WF-REJECT")
    assert case["status"] == "WORK_ITEM"
    item = mem.bucket.get_json(f"outbound/work-items/{case['case_id']}.json")
    assert item["instruction"] == "refund rejected by the approver: guarantor disputes the charge"
    assert item["credit"] == "50.00"
    decided = [(r["status_before"], r["status_after"]) for r in mem.history.records(case["case_id"])
               if r["action"] == "DECIDED"]
    assert decided == [("AWAITING_APPROVAL", "WORK_ITEM")]
    assert mem.bucket.ap_rows() == []
