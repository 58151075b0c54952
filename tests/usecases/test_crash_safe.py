"""Crash-safe workflow (issue 17), over the real use-cases: every step survives a crash or a throttle at any
of its port calls, and what no retry can finish is found by the sweeper or restarted by an operator.

A fault fails the k-th port call a function makes (`tests/memory/cloud.py`): a crash before the k-th call
is a function that died after its (k-1)-th write. The refund workflow's retries are its ASL's; ingest's are
Lambda's asynchronous retries of S3's notification.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from creditrefunds.domain.approvals import LinkState, link_key
from creditrefunds.domain.status import Status
from creditrefunds.usecases import audit, operations

from tests.memory.cloud import OPERATORS, Fault, MemoryCloud
from tests.memory.workflow import Crash, TransientError

from .test_workflow_paths import TIER1, TIER2, patient_credit

STEPS = ("IngestFunction", "ReviewFunction", "RequestApprovalFunction", "AfterDecisionFunction",
         "IssueRefundFunction")
GRACE = timedelta(minutes=5)


def approve_the_waiting_link(mem: MemoryCloud, account: str, approver: str = TIER1) -> None:
    """Approve through the link the case waits for now (a retried request may have mailed an earlier one)."""
    case = mem.case(account)
    links = {link_key(link.rsplit("/", 1)[-1]): link for link in mem.links(approver, account)}
    assert case["status"] == "AWAITING_APPROVAL" and case.get("approval_key") in links, case["status"]
    assert mem.decide(links[case["approval_key"]]).status in (200, 202)  # 202: received, its reply to it lost


def assert_paid_once(mem: MemoryCloud, account: str) -> None:
    """One AP row per approved line, one record of each step, no FAILED, the chain and the book whole."""
    case = mem.case(account)
    assert case["status"] == "REFUND_ISSUED", (case["status"], mem.history.records(case["case_id"])[-1])
    actions = mem.actions(case["case_id"])
    assert [actions.count(a) for a in ("DETECTED", "DECIDED", "ISSUED", "FAILED")] == [1, 1, 1, 0], actions
    assert [(i.instruction_id, f"{i.amount}") for i in mem.refund_book.of_case(case["case_id"])] == [
        (f"{case['case_id']}#0", "50.00")]
    assert [r["instruction_id"] for r in mem.bucket.ap_rows() if r["case_id"] == case["case_id"]] == [
        f"{case['case_id']}#0"]
    assert audit.verify(mem.cases, mem.history, case["case_id"], mem.trusted.refund_book).breaks == []


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("error", [Crash, TransientError])
def test_a_crash_or_a_throttle_at_any_call_of_any_step_is_finished_by_its_retry(step, error):
    """The k-th port call of `step` fails once, for every k until the step makes no more calls; each time
    the case is paid exactly once, with one record of each step."""
    calls = paid_once_at_every_call(step, error, "CS-K")
    assert calls > 2, f"{step} made {calls} calls: a fault that never fires would be a broken harness"


def paid_once_at_every_call(step: str, error: type[Exception], account: str) -> int:
    """A fault of `error` at the k-th port call of `step`, for every k until the step makes no more calls; each
    time a fresh cloud's case of `account` is paid exactly once. The calls the step made."""
    k = 0
    while True:
        k += 1
        mem = MemoryCloud()
        mem.ports.fault = fault = Fault(at=k, step=step, error=error)
        mem.drop(patient_credit(account))
        if mem.case(account)["status"] == "AWAITING_APPROVAL":
            approve_the_waiting_link(mem, account)
        assert_paid_once(mem, account)
        if not fault.fired:
            return k - 1


def test_a_step_failing_until_its_retries_run_out_is_failed_then_retried_by_an_operator(mem: MemoryCloud):
    mem.ports.fault = review = Fault(at=1, step="ReviewFunction", times=1000)
    mem.drop(patient_credit("CS-RETRY"))
    mem.ports.fault = None
    failed = mem.case("CS-RETRY")
    assert failed["status"] == "FAILED" and review.fired == 5  # the first attempt and the ASL's four retries
    [told] = [m for m in mem.mailer.to(OPERATORS) if failed["case_id"] in m.subject]
    assert "Sandbox.Timedout" in told.text
    done = operations.retry(mem.ports, failed["case_id"], "operator@example.org", mem.now)
    assert (done["resume"], done["status"]) == ("REVIEW", "OPEN")
    mem.run()
    approve_the_waiting_link(mem, "CS-RETRY")
    assert mem.case("CS-RETRY")["status"] == "REFUND_ISSUED"
    retried = [r for r in mem.history.records(failed["case_id"]) if r["action"] == "RETRIED"]
    assert [(r["actor"], r["status_before"], r["status_after"]) for r in retried] == [
        ("operator@example.org", "FAILED", "OPEN")]
    with pytest.raises(operations.NotRetryable, match="only a FAILED case"):
        operations.retry(mem.ports, failed["case_id"], "operator@example.org", mem.now)


def test_money_out_then_a_crash_is_found_by_the_sweeper_and_finished_by_a_retry(mem: MemoryCloud):
    """IssueRefund dies after the instruction is written, every attempt: the case is FAILED with its money
    out. The sweeper writes the missing ISSUED record; the operator's retry finishes the issue step."""
    mem.drop(patient_credit("CS-ISSUED"))
    mem.ports.fault = issue = Fault(at=1, step="IssueRefundFunction", call="events.publish", times=1000)
    approve_the_waiting_link(mem, "CS-ISSUED")
    mem.ports.fault = None
    failed = mem.case("CS-ISSUED")
    assert failed["status"] == "FAILED" and issue.fired == 5 and len(mem.refund_book.of_case(failed["case_id"])) == 1
    mem.tick(minutes=10)  # past the sweeper's grace
    problems = [s.problem for s in operations.find_stuck(mem.ports, mem.now, GRACE) if s.case_id == failed["case_id"]]
    assert any("no ISSUED record tells of it" in p for p in problems), problems
    operations.sweep(mem.ports, OPERATORS, mem.now, GRACE)
    issued = [r for r in mem.history.records(failed["case_id"]) if r["action"] == "ISSUED"]
    assert [(r["actor"], r["status_before"], r["status_after"], r["instruction_id"]) for r in issued] == [
        ("system:sweeper", "FAILED", "REFUND_ISSUED", f"{failed['case_id']}#0")]
    done = operations.retry(mem.ports, failed["case_id"], "operator@example.org", mem.now)
    assert done["resume"] == "ISSUE"
    mem.run()
    assert mem.case("CS-ISSUED")["status"] == "REFUND_ISSUED"
    assert len(mem.refund_book.of_case(failed["case_id"])) == 1 and len(mem.bucket.ap_rows()) == 1
    assert audit.verify(mem.cases, mem.history, failed["case_id"], mem.trusted.refund_book).breaks == []


def test_a_case_whose_workflow_never_started_is_started_by_the_sweeper(mem: MemoryCloud):
    mem.ports.fault = start = Fault(at=1, step="IngestFunction", call="workflows.start_case", times=1000)
    mem.drop(patient_credit("CS-NOFLOW"))
    mem.ports.fault = None
    assert start.fired == 3  # the first delivery and Lambda's two retries
    case = mem.case("CS-NOFLOW")
    assert case["status"] == "OPEN" and mem.workflows.state(case["case_id"]) is None
    [kept, reason] = mem.keys_rejected()  # the file and its reason, under its upload
    assert kept.startswith("rejected/ledger-1.csv/") and kept.endswith("/ledger-1.csv")
    assert reason == kept.rsplit("/", 1)[0] + "/reason.txt"
    mem.tick(minutes=10)
    operations.sweep(mem.ports, OPERATORS, mem.now, GRACE)
    mem.run()
    approve_the_waiting_link(mem, "CS-NOFLOW")
    assert mem.case("CS-NOFLOW")["status"] == "REFUND_ISSUED"
    assert "WORKFLOW_STARTED" in mem.actions(case["case_id"])


def test_a_case_whose_workflow_ended_while_it_was_worked_is_failed_for_operators(mem: MemoryCloud):
    """A case still APPROVED whose run has ended (its last write lost, or a run ended by hand): no step will
    ever move it. The sweeper records it FAILED, and operators hear of it."""
    mem.drop(patient_credit("CS-ENDED"))
    approve_the_waiting_link(mem, "CS-ENDED")
    case = mem.case("CS-ENDED")
    mem.cases.set_status(case["case_id"], Status.APPROVED)
    mem.tick(minutes=10)
    [stuck] = operations.find_stuck(mem.ports, mem.now, GRACE)
    assert (stuck.case_id, stuck.status, stuck.problem) == (
        case["case_id"], "APPROVED", "its workflow run ended SUCCEEDED while the case was APPROVED")
    operations.sweep(mem.ports, OPERATORS, mem.now, GRACE)
    assert mem.case("CS-ENDED")["status"] == "FAILED"
    [told] = [m for m in mem.mailer.to(OPERATORS) if case["case_id"] in m.subject]
    assert "WorkflowEnded" in told.text


def test_a_decision_that_could_not_reach_the_workflow_is_told_and_the_case_moves_on(mem: MemoryCloud):
    """The page's answer to Step Functions fails on the way: whether it landed is known only there, so the
    link stays DECIDING. It did not land: when the wait runs out, the escalation makes the link LATE, says so
    in the history, and the next tier is asked; that approval pays once."""
    mem.drop(patient_credit("CS-PAGE"))
    case = mem.case("CS-PAGE")
    [link] = mem.links(TIER1, "CS-PAGE")
    mem.ports.fault = throttle = Fault(at=1, call="workflows.answer", error=TransientError)
    with pytest.raises(TransientError):  # the page's handler answers 5xx: "Decision recorded" is never shown
        mem.decide(link)
    mem.ports.fault = None
    assert throttle.fired == 1
    mem.time_out(case["case_id"])
    actions = mem.actions(case["case_id"])
    assert "DECISION_LATE" in actions and "DECIDED" not in actions
    assert mem.approvals.by_key(link_key(link.rsplit("/", 1)[-1])).state is LinkState.LATE
    approve_the_waiting_link(mem, "CS-PAGE", approver=TIER2)
    assert_paid_once(mem, "CS-PAGE")


def test_a_case_failed_after_review_is_listed_for_a_person_and_the_sweeper_leaves_it(mem: MemoryCloud):
    """RequestApproval fails every attempt: the case is FAILED after REVIEWED, operators are told once.
    `refunds report stuck` lists it with its error; the sweeper repairs nothing and tells nobody again."""
    mem.ports.fault = ask = Fault(at=1, step="RequestApprovalFunction", call="mailer.send", times=1000)
    mem.drop(patient_credit("CS-ASKFAIL"))
    mem.ports.fault = None
    case = mem.case("CS-ASKFAIL")
    assert case["status"] == "FAILED" and ask.fired > 1
    assert [a for a in mem.actions(case["case_id"]) if a in ("REVIEWED", "FAILED")] == ["REVIEWED", "FAILED"]
    told = len(mem.mailer.to(OPERATORS))
    mem.tick(minutes=10)
    assert operations.find_stuck(mem.ports, mem.now, GRACE) == []  # nothing the sweeper repairs
    [listed] = operations.find_stuck(mem.ports, mem.now, GRACE, failed=True)
    assert (listed.case_id, listed.status, listed.repair) == (case["case_id"], "FAILED", operations.FOR_A_PERSON)
    assert listed.problem.startswith("FAILED: "), listed.problem
    assert operations.sweep(mem.ports, OPERATORS, mem.now, GRACE)["stuck"] == []
    assert len(mem.mailer.to(OPERATORS)) == told and mem.case("CS-ASKFAIL")["status"] == "FAILED"
