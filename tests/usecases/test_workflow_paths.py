"""Every path of the refund workflow, run from its ASL by the real use-cases over the in-memory ports."""

from __future__ import annotations

from datetime import date, timedelta

from creditrefunds.domain.history import Entry
from creditrefunds.usecases.operations import find_stuck
from refunds_cli.cases import summary

from tests.memory.cloud import COMPLIANCE, OPERATORS, MemoryCloud

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
    assert mem.actions(case["case_id"]) == ["DETECTED", "REVIEWED", "EMAILED", "DECIDED", "RECHECKED", "ISSUED",
                                         "LETTER_WRITTEN"]
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


def test_an_overdue_approval_escalates_to_the_next_tier_and_compliance_hears_of_it(mem: MemoryCloud):
    """Medicare paid as primary in January and so did a commercial plan: due 60 days after January."""
    account = "WF-OVERDUE"
    mem.drop([
        f"{account}-1,{account},P-OD,G-OD,CHARGE,500.00,2026-01-05,,,,,,\"Chen, R\",CA",
        f"{account}-2,{account},P-OD,G-OD,PAYMENT,-400.00,2026-01-20,MEDICARE,MAC-J1,1,EFT-M,ICN-1,\"Chen, R\",CA",
        f"{account}-3,{account},P-OD,G-OD,PAYMENT,-450.00,2026-01-25,COMMERCIAL,AETNA,1,EFT-A,CLM-2,\"Chen, R\",CA",
    ])
    [first] = mem.links(TIER1, account)
    case = mem.case(account)
    assert case["status"] == "AWAITING_APPROVAL" and case["overdue"] is True  # flagged by the review
    mem.time_out(case["case_id"])
    [second] = mem.links(TIER2, account)
    assert [m.subject for m in mem.mailer.to(TIER1) if m.subject.startswith("Approval moved on")]
    page = mem.decide(first)
    assert page.status == 410 and "escalated" in page.html
    [told] = [m for m in mem.mailer.to(COMPLIANCE) if case["case_id"] in m.subject or account in m.subject]
    assert "past its due date" in told.subject
    assert mem.decide(second).status == 200
    case = mem.case(account)
    assert case["status"] == "REFUND_ISSUED" and int(case["escalation_level"]) >= 1
    assert summary(case)["overdue"] is True  # stays visibly so in the listing
    escalated = [r for r in mem.history.records(case["case_id"]) if r["action"] == "ESCALATED"]
    assert [(r["status_after"], r["amount"]) for r in escalated] == [("AWAITING_APPROVAL", "350.00")]


def test_investigate_pauses_the_clock_then_the_approval_resumes(mem: MemoryCloud):
    account = "WF-INVEST"
    mem.drop([
        f"{account}-1,{account},P-IV,G-IV,CHARGE,300.00,2026-11-02,,,,,,\"Okafor, G\",NY",
        f"{account}-2,{account},P-IV,G-IV,PAYMENT,-300.00,2026-11-10,MEDICARE,MAC-J5,1,EFT-1,ICN-9,\"Okafor, G\",NY",
        f"{account}-3,{account},P-IV,G-IV,PAYMENT,-300.00,2026-11-12,MEDICARE,MAC-J5,1,EFT-2,ICN-9,\"Okafor, G\",NY",
    ])
    [link] = mem.links(TIER1, account)
    assert "Investigate" in mem.show(link).html
    before = mem.case(account)["due_date"]
    assert mem.decide(link, "investigate", "related claims under review").status == 200
    case = mem.case(account)
    decided = [(r["status_before"], r["status_after"], r["decision"]) for r in mem.history.records(case["case_id"])
               if r["action"] == "DECIDED"]
    assert decided == [("AWAITING_APPROVAL", "INVESTIGATING", "INVESTIGATE")]
    assert [seconds for _, seconds in mem.workflows.waits] == [mem.config.pause_seconds]  # the Wait state
    [_, resumed] = mem.links(TIER1, account)  # after the pause: a new approval
    assert case["status"] == "AWAITING_APPROVAL"
    assert date.fromisoformat(case["due_date"]) == date.fromisoformat(before) + timedelta(days=30)  # the clock paused
    assert mem.decide(resumed).status == 200
    assert mem.case(account)["status"] == "REFUND_ISSUED"


def test_credit_gone_before_issuing_closes_resolved_no_refund(mem: MemoryCloud):
    mem.drop(patient_credit("WF-GONE"))
    [link] = mem.links(TIER1)
    mem.drop(["WF-GONE-3,WF-GONE,P-WF-GONE,G-WF-GONE,CHARGE,50.00,2026-11-20,,,,,,,TX"])
    assert mem.decide(link).status == 200
    case = mem.case("WF-GONE")
    last = mem.history.records(case["case_id"])[-1]
    assert (last["action"], last["status_before"], last["status_after"]) == ("RECHECKED", "APPROVED",
                                                                             "RESOLVED_NO_REFUND")
    assert case["status"] == "RESOLVED_NO_REFUND" and mem.bucket.ap_rows() == []


def test_amount_changed_before_issuing_is_approved_again(mem: MemoryCloud):
    mem.drop(patient_credit("WF-CHANGED"))
    [first] = mem.links(TIER1)
    mem.drop(["WF-CHANGED-3,WF-CHANGED,P-WF-CHANGED,G-WF-CHANGED,PAYMENT,-20.00,2026-11-20,PATIENT,,,CHK-2,,,TX"])
    assert mem.decide(first).status == 410
    [_, second] = mem.links(TIER1)
    assert "70.00" in mem.mailer.to(TIER1)[-1].subject
    assert mem.decide(second).status == 200
    assert [(r["amount"], r["method"]) for r in mem.bucket.ap_rows()] == [("70.00", "check")]


def test_a_function_error_lands_in_failed_with_its_history_record_and_operators_told(mem: MemoryCloud):
    mem.cases.items["CB-BROKEN"] = {
        "case_id": "CB-BROKEN", "account_id": "WF-BROKEN", "patient_id": "P", "guarantor_id": "G", "credit": "10",
        "identified_on": "2026-11-01", "tier": 1, "status": "OPEN", "due_date": "2026-12-01",
        "lines": [{"action": "REFUND"}]}  # a line with no amount: the review step fails
    assert mem.workflows.start_case("CB-BROKEN")
    mem.run()
    assert mem.case("WF-BROKEN")["status"] == "FAILED" and mem.workflows.state("CB-BROKEN") == "FAILED"
    assert [(r["action"], r["status_before"], r["status_after"]) for r in mem.history.records("CB-BROKEN")] == [
        ("FAILED", "OPEN", "FAILED")]
    [told] = [m for m in mem.mailer.to(OPERATORS) if "CB-BROKEN" in m.subject]
    assert "KeyError" in told.text


def test_whoever_reviewed_a_case_cannot_approve_it(mem: MemoryCloud):
    mem.drop(patient_credit("WF-SOD"))
    [link] = mem.links(TIER1)
    stored = mem.cases.get(mem.case("WF-SOD")["case_id"])
    reviewer = mem.people.by_email(TIER1).actor
    mem.history.append(stored.case, Entry(reviewer, "REVIEWED", "AWAITING_APPROVAL", "AWAITING_APPROVAL",
                                          "checked the lines"), mem.now)
    page = mem.decide(link)
    assert page.status == 403 and "segregation of duties" in page.html
    assert mem.case("WF-SOD")["status"] == "AWAITING_APPROVAL"
    refused = mem.history.records(stored.case.case_id)[-1]
    assert (refused["action"], refused["actor"], refused["tier"]) == ("REFUSED", reviewer, 1)


def test_refund_rows_back_in_a_ledger_reconcile_the_case(mem: MemoryCloud):
    mem.drop(patient_credit("WF-RECON"))
    mem.decide(mem.links(TIER1)[0])
    case = mem.case("WF-RECON")
    assert case["status"] == "REFUND_ISSUED"
    # Accounts payable cut the check; the billing system's next extract carries the REFUND row.
    mem.tick(days=3)
    mem.drop(["WF-RECON-9,WF-RECON,P-WF-RECON,G-WF-RECON,REFUND,50.00,2026-11-23,PATIENT,,,CHK-500,,,TX"])
    case = mem.case("WF-RECON")
    assert case["status"] == "RECONCILED" and case["credit"] == "50.00"
    assert case["lines"][0]["action"] == "REFUND" and case["lines"][0]["amount"] == "50.00"
    assert [(r["action"], r["status_after"]) for r in mem.history.records(case["case_id"])][-3:] == [
        ("ISSUED", "REFUND_ISSUED"), ("LETTER_WRITTEN", "REFUND_ISSUED"), ("RECONCILED", "RECONCILED")]
    assert mem.refund_book.get(f"{case['case_id']}#0").returned_by == "WF-RECON-9"


def test_an_expired_link_only_says_so(mem: MemoryCloud):
    mem.drop(patient_credit("WF-EXPIRED"))
    [link] = mem.links(TIER1)
    mem.tick(days=15)  # past the link's 14 days
    for page in (mem.show(link), mem.decide(link)):
        assert page.status == 410 and "expired" in page.html and "Traceback" not in page.html
    assert mem.case("WF-EXPIRED")["status"] == "AWAITING_APPROVAL"


def test_a_route_the_machine_does_not_know_lands_in_failed_and_operators_are_told(mem: MemoryCloud):
    """Review answers a route no Choice names: the UnknownRoute state records the error, RecordFailure runs."""
    review = mem.workflows._steps["ReviewFunctionArn"]
    mem.workflows._steps["ReviewFunctionArn"] = lambda payload: {**review(payload), "route": "BOGUS"}
    mem.drop(patient_credit("WF-BOGUS"))
    case = mem.case("WF-BOGUS")
    assert case["status"] == "FAILED" and mem.workflows.state(case["case_id"]) == "FAILED"
    failed = mem.history.records(case["case_id"])[-1]
    assert (failed["action"], failed["reason"].split(":")[0]) == ("FAILED", "UnknownRoute")
    assert [m for m in mem.mailer.to(OPERATORS) if case["case_id"] in m.subject]


def test_a_step_answer_missing_a_field_fails_the_run_uncaught_as_states_runtime(mem: MemoryCloud):
    """A step's answer without what its ResultSelector reads: States.Runtime, which no Catch takes (States.ALL
    leaves it out), so no RecordFailure runs. The case is left for the sweeper to find."""
    mem.workflows._steps["ReviewFunctionArn"] = lambda payload: {"tier": 1}
    mem.drop(patient_credit("WF-RUNTIME"))
    case = mem.case("WF-RUNTIME")
    execution = mem.workflows.latest(case["case_id"])
    assert (execution.status, execution.error.split(":")[0]) == ("FAILED", "States.Runtime")
    assert case["status"] == "OPEN" and "FAILED" not in mem.actions(case["case_id"])
    mem.tick(minutes=10)
    [stuck] = find_stuck(mem.ports, mem.now, timedelta(minutes=5))
    assert stuck.problem == "its workflow run ended FAILED while the case was OPEN"
