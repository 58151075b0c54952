"""Money goes only where an approver said (issue 11), over the real use-cases: an approval decides the lines
it showed, nothing stored lets a reader decide, dual control and segregation of duties fire through the
approval page's own use-case, and a decision the workflow no longer waits for is recorded nowhere."""

from __future__ import annotations

import json

from creditrefunds.domain.approvals import LinkState

from tests.memory.cloud import MemoryCloud

TIER1, TIER2, TIER3 = "tier1.approver@example.org", "tier2.approver@example.org", "tier3.approver@example.org"


def paid(mem: MemoryCloud) -> list[tuple[str, str]]:
    """(payee, amount) of every row of the AP files."""
    return [(r["payee_id"], r["amount"]) for r in mem.bucket.ap_rows()]


def test_an_approval_decides_the_lines_it_showed_not_the_total(mem: MemoryCloud):
    account = "MS-LINES"
    mem.drop([f"{account}-1,{account},P-MS,G-1,CHARGE,100.00,2026-11-02,,,,,,\"Ames, Jo\",TX",
              f"{account}-2,{account},P-MS,G-1,PAYMENT,-130.00,2026-11-09,PATIENT,,,CHK-1,,\"Ames, Jo\",TX"])
    [shown] = mem.links(TIER1, account)
    page = mem.show(shown)
    assert page.status == 200 and "G-1" in page.html and "30.00" in page.html
    # Before the click, a file moves the same 30.00 to another guarantor (the total is unchanged).
    mem.drop([f"{account}-3,{account},P-MS,G-2,CHARGE,20.00,2026-11-20,,,,,,\"Ames, Jo\",TX",
              f"{account}-4,{account},P-MS,G-2,PAYMENT,-20.00,2026-11-21,PATIENT,,,CHK-2,,\"Ames, Jo\",TX"])
    assert [m for m in mem.mailer.to(TIER1) if m.subject.startswith("Approval withdrawn") and account in m.subject]
    page = mem.decide(shown)
    assert page.status == 410 and "Nothing was decided" in page.html
    [_, again] = mem.links(TIER1, account)
    page = mem.show(again)
    assert ">guarantor G-2<" in page.html and ">guarantor G-1<" not in page.html  # the line pays G-2 ...
    assert "now pays guarantor G-2; an earlier approval of this case saw guarantor G-1" in page.html  # said
    assert mem.decide(again).status == 200
    assert mem.case(account)["status"] == "REFUND_ISSUED" and paid(mem) == [("G-2", "30.00")]


def test_nothing_a_reader_of_the_tables_sees_decides(mem: MemoryCloud):
    account = "MS-READ"
    mem.drop([f"{account}-1,{account},P-MR,G-MR,CHARGE,100.00,2026-11-02,,,,,,,TX",
              f"{account}-2,{account},P-MR,G-MR,PAYMENT,-140.00,2026-11-09,PATIENT,,,CHK-1,,,TX"])
    [link] = mem.links(TIER1, account)
    case = mem.case(account)
    stored = json.dumps([case, list(mem.approvals.items.values()), mem.history.records(case["case_id"])],
                        default=str)
    assert link.rsplit("/", 1)[-1] not in stored  # the mail holds the only copy of the link's id
    page = mem.decide(f"{link.rsplit('/', 1)[0]}/{case['approval_key']}", by=TIER1)
    assert page.status == 404 and "unknown" in page.html
    assert mem.case(account)["status"] == "AWAITING_APPROVAL"


def test_dual_control_two_different_approvers_then_money_moves(mem: MemoryCloud):
    account = "MS-DUAL"
    mem.drop([f"{account}-1,{account},P-MD,G-MD,CHARGE,1000.00,2026-11-02,,,,,,,NY",
              f"{account}-2,{account},P-MD,G-MD,PAYMENT,-13000.00,2026-11-09,PATIENT,,,CHK-1,,,NY"])
    [first] = mem.links(TIER3, account)
    assert mem.decide(first).status == 200
    [second] = mem.links(TIER2, account)  # the tier-3 directory's other approver
    case_id = mem.case(account)["case_id"]
    assert mem.case(account)["status"] == "AWAITING_APPROVAL" and paid(mem) == []
    assert mem.decide(second).status == 200
    assert mem.case(account)["status"] == "REFUND_ISSUED"
    decided = [(r["actor"], r["decision"], r["tier"]) for r in mem.history.records(case_id) if r["action"] == "DECIDED"]
    people = mem.people
    assert decided == [(people.by_email(TIER3).actor, "APPROVED", 3), (people.by_email(TIER2).actor, "APPROVED", 3)]
    assert paid(mem) == [("G-MD", "12000.00")]


def test_one_who_decided_at_tier_2_is_refused_as_a_tier_3_second_approver(mem: MemoryCloud):
    account = "MS-SOD"
    # Medicare and a commercial plan both paid as primary: 5,000.00 back to Medicare, tier 2.
    mem.drop([f"{account}-1,{account},P-MS,G-MS,CHARGE,6000.00,2026-11-01,,,,,,,NY",
              f"{account}-2,{account},P-MS,G-MS,PAYMENT,-5000.00,2026-11-05,MEDICARE,MAC-J1,1,EFT-1,ICN-1,,NY",
              f"{account}-3,{account},P-MS,G-MS,PAYMENT,-6000.00,2026-11-06,COMMERCIAL,AETNA,1,EFT-2,CLM-1,,NY"])
    [asked] = mem.links(TIER2, account)
    assert "5000.00" in mem.mailer.to(TIER2)[0].subject
    with mem.paused():  # the investigation pauses the workflow
        assert mem.decide(asked, "investigate", "related claims").status == 200
    # While the investigation pauses the approval, Medicare's second payment lands: 11,000.00, tier 3.
    mem.drop([f"{account}-4,{account},P-MS,G-MS,PAYMENT,-6000.00,2026-11-07,MEDICARE,MAC-J1,1,EFT-3,ICN-1,,NY"])
    [first] = mem.links(TIER3, account)
    assert "11000.00" in mem.mailer.to(TIER3)[0].subject
    assert mem.decide(first).status == 200
    second = [m for m in mem.mailer.to(TIER2) if "11000.00" in m.subject]
    assert len(second) == 1  # the tier-3 list's other approver
    page = mem.decide(mem.links(TIER2, account)[-1])
    assert page.status == 403 and "dual control" in page.html
    case = mem.case(account)
    assert mem.history.records(case["case_id"])[-1]["action"] == "REFUSED"
    assert case["status"] == "AWAITING_APPROVAL" and paid(mem) == []


def test_a_decision_after_the_case_moved_on_decides_nothing(mem: MemoryCloud):
    """A click on a link the case no longer waits for (it escalated, changed) answers no task and records
    nothing: it can never overwrite a later step."""
    account = "MS-LATE"
    mem.drop([f"{account}-1,{account},P-ML,G-ML,CHARGE,100.00,2026-11-02,,,,,,,TX",
              f"{account}-2,{account},P-ML,G-ML,PAYMENT,-125.00,2026-11-09,PATIENT,,,CHK-1,,,TX"])
    [link] = mem.links(TIER1, account)
    case = mem.case(account)
    mem.cases.set_status(case["case_id"], None, approval_key="0" * 64)  # as if another link had been asked
    page = mem.decide(link)
    assert page.status == 410 and "Nothing was decided" in page.html
    assert mem.case(account)["status"] == "AWAITING_APPROVAL"
    assert "DECIDED" not in mem.actions(case["case_id"])
    assert mem.decide(link).status == 410  # and the link decides nothing later either


def test_a_decision_the_workflow_no_longer_waits_for_is_not_recorded(mem: MemoryCloud):
    """Issue 17: a decision is recorded only once Step Functions accepted it. The approval's wait runs out
    and its escalation has not run yet: the link is still PENDING when the approver clicks, the task gone."""
    account = "MS-GONE"
    mem.drop([f"{account}-1,{account},P-MG,G-MG,CHARGE,100.00,2026-11-02,,,,,,,TX",
              f"{account}-2,{account},P-MG,G-MG,PAYMENT,-125.00,2026-11-09,PATIENT,,,CHK-1,,,TX"])
    [link] = mem.links(TIER1, account)
    case = mem.case(account)
    assert mem.workflows.time_out(case["case_id"])  # the wait ran out; the escalation is still to run
    with mem.paused():
        page = mem.decide(link)
    assert page.status == 410 and "waited too long" in page.html and "Nothing was decided" in page.html
    mem.run()  # the escalation finds the decision that came too late
    records = mem.history.records(case["case_id"])
    assert "DECIDED" not in [r["action"] for r in records] and paid(mem) == []
    [late] = [r for r in records if r["action"] == "DECISION_LATE"]
    assert (late["link"], late["decision"]) == (case["approval_key"], "APPROVED")
    assert mem.approvals.by_key(case["approval_key"]).state is LinkState.LATE  # never USED: no approval of record
