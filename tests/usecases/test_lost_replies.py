"""A write that landed is a write that landed (issue 30), over the real use-cases: a call whose answer is lost
after it landed, and that the client makes again (`LostReply`, tests/memory/cloud.py: one conditional write
sent twice), changes nothing a user would notice. No case fails, no step is recorded twice, the approver is
told the truth, and the money goes out once."""

from __future__ import annotations

import pytest
from creditrefunds.domain.approvals import LinkState
from creditrefunds.usecases import operations

from tests.memory.cloud import LOSABLE, Fault, MemoryCloud
from tests.memory.workflow import Crash, LostReply

from .test_crash_safe import STEPS, approve_the_waiting_link, assert_paid_once, paid_once_at_every_call
from .test_workflow_paths import TIER1, TIER2, patient_credit


@pytest.mark.parametrize("step", [*STEPS, "ApprovalWebFunction"])
def test_a_lost_reply_at_any_call_of_any_step_changes_nothing(step):
    """The k-th call of `step` lands, its answer is lost and the call is made again, for every k; each time the
    case is paid exactly once, with one record of each step and no FAILED."""
    assert paid_once_at_every_call(step, LostReply, "LR-K") > 2, step


def test_the_approver_whose_click_landed_is_told_it_was_recorded_not_already_used(mem: MemoryCloud):
    mem.drop(patient_credit("LR-TAKE"))
    [link] = mem.links(TIER1, "LR-TAKE")
    mem.ports.fault = Fault(at=1, call="approvals.take", error=LostReply)
    page = mem.decide(link)
    assert (page.status, "already used" in page.html) == (200, False)
    assert_paid_once(mem, "LR-TAKE")


def test_a_lost_answer_to_the_workflow_is_not_told_as_no_longer_waiting(mem: MemoryCloud):
    mem.drop(patient_credit("LR-ANSWER"))
    [link] = mem.links(TIER1, "LR-ANSWER")
    mem.ports.fault = Fault(at=1, call="workflows.answer", error=LostReply)
    with mem.paused():  # the page answers before the workflow's next step has run
        page = mem.decide(link)
    assert page.status == 202 and "Decision received" in page.html
    mem.run()
    assert_paid_once(mem, "LR-ANSWER")
    assert mem.approvals.by_key(mem.case("LR-ANSWER")["approval_key"]).state is LinkState.USED


def test_an_escalation_retried_after_its_record_is_recorded_once(mem: MemoryCloud):
    """Escalate dies at each of its calls in turn (the state machine retries it): one ESCALATED record for the
    timeout, and the tier-2 approver asked once."""
    k = 0
    while True:
        k += 1
        mem = MemoryCloud()
        mem.drop(patient_credit("LR-ESC"))
        mem.ports.fault = fault = Fault(at=k, step="EscalateFunction", error=Crash)
        mem.time_out(mem.case("LR-ESC")["case_id"])
        actions = mem.actions(mem.case("LR-ESC")["case_id"])
        assert actions.count("ESCALATED") == 1 and "FAILED" not in actions, (k, actions)
        assert len(mem.links(TIER2, "LR-ESC")) == 1
        if not fault.fired:
            break
    assert k > 3


def test_an_operator_s_retry_whose_move_landed_restarts_the_case_once(mem: MemoryCloud):
    mem.ports.fault = Fault(at=1, step="ReviewFunction", times=1000)
    mem.drop(patient_credit("LR-RETRY"))
    case_id = mem.case("LR-RETRY")["case_id"]
    mem.ports.fault = Fault(at=1, call="cases.transition", error=LostReply)
    done = operations.retry(mem.ports, case_id, "operator@example.org", mem.now)
    assert (done["resume"], done["status"]) == ("REVIEW", "OPEN")
    mem.run()
    approve_the_waiting_link(mem, "LR-RETRY")
    assert [r["actor"] for r in mem.history.records(case_id) if r["action"] == "RETRIED"] == ["operator@example.org"]
    assert mem.case("LR-RETRY")["status"] == "REFUND_ISSUED"


def test_every_losable_call_is_a_port_method():
    mem = MemoryCloud()
    for call in LOSABLE:
        port, method = call.split(".")
        assert callable(getattr(getattr(mem.ports, port), method)), call


def test_an_escalation_run_again_after_it_finished_changes_nothing(mem: MemoryCloud):
    """The state machine runs Escalate again when its answer is lost after the function finished (a timeout at
    the very end, Lambda's service error): the second run finds its own ESCALATED record and does nothing."""
    from creditrefunds.usecases.escalate import escalate_case

    from tests.memory.cloud import COMPLIANCE

    mem.drop(patient_credit("LR-ESC-AGAIN"))
    case_id = mem.case("LR-ESC-AGAIN")["case_id"]
    timing = mem.config.timing
    first = escalate_case(mem.ports, case_id, 1, timing, COMPLIANCE, mem.now)
    again = escalate_case(mem.ports, case_id, 1, timing, COMPLIANCE, mem.now)
    assert first == again and first["tier"] == 2
    assert mem.actions(case_id).count("ESCALATED") == 1
    assert mem.case("LR-ESC-AGAIN")["escalation_level"] == 1


def test_a_withdrawal_whose_reply_was_lost_still_ends_the_wait_and_tells_the_approver(mem: MemoryCloud):
    """A second file changes the lines awaiting approval; the link's move to SUPERSEDED lands and its answer is
    lost. The move sent again is this one's (its nonce): the wait ends at once, the approver is told, and the
    lines as they are now are asked at once (not after the approval's wait ran out)."""
    mem.drop(patient_credit("LR-WITHDRAW"))
    [first] = mem.links(TIER1, "LR-WITHDRAW")
    mem.ports.fault = Fault(at=1, step="IngestFunction", call="approvals.supersede", error=LostReply)
    mem.drop(["LR-WITHDRAW-3,LR-WITHDRAW,P-LR-WITHDRAW,G-LR-WITHDRAW,PAYMENT,-20.00,2026-11-10,PATIENT,,,CHK-2,,"
              "\"Rivera, Ana\",TX"])
    mem.ports.fault = None
    assert [m.subject for m in mem.mailer.to(TIER1) if m.subject.startswith("Approval withdrawn")] == [
        "Approval withdrawn: account LR-WITHDRAW"]
    [_, again] = mem.links(TIER1, "LR-WITHDRAW")
    assert mem.approvals.get(first.rsplit("/", 1)[-1]).state is LinkState.SUPERSEDED
    assert mem.case("LR-WITHDRAW")["credit"] == "70.00"
    assert mem.decide(again).status == 200
    assert mem.case("LR-WITHDRAW")["status"] == "REFUND_ISSUED"


@pytest.mark.parametrize("fault", [
    Fault(at=1, step="EscalateFunction", call="approvals.mark_late", error=LostReply),  # its answer lost
    Fault(at=1, step="EscalateFunction", call="history.append", error=Crash),  # died after the move, before its record
    Fault(at=2, step="EscalateFunction", call="history.append", error=Crash),  # died after the record
], ids=["lost-reply", "crash-before-record", "crash-after-record"])
def test_a_late_decision_is_recorded_late_once_whatever_stopped_the_escalation(mem: MemoryCloud, fault: Fault):
    """The approver's click landed (DECIDING) but never reached the wait; Escalate marks it LATE (a move named
    after the link) and is stopped around it: the DECISION_LATE record is written, once."""
    mem.drop(patient_credit("LR-LATE"))
    [link] = mem.links(TIER1, "LR-LATE")
    mem.ports.fault = Fault(at=1, call="workflows.answer", times=1000)  # the page dies before the wait hears
    with pytest.raises(Crash):
        mem.decide(link)
    mem.ports.fault = fault
    mem.time_out(mem.case("LR-LATE")["case_id"])
    mem.ports.fault = None
    actions = mem.actions(mem.case("LR-LATE")["case_id"])
    assert fault.fired and actions.count("DECISION_LATE") == 1 and actions.count("ESCALATED") == 1, actions
