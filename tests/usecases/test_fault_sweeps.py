"""Every call of the functions the crash-safe sweeps of the workflow steps leave out (issue 30): Escalate, the
fan-out's steps and the remittance function, each with a crash, a throttle the client gave up on, and a lost
reply at its k-th port call, for every k until it makes no more. Each time what a person would notice is as
without the fault: the money goes out once, each step is recorded once, each person told once, and the
dropped file leaves incoming/.

The counts of fault points are printed (`pytest -s`) for the closing note's figures.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.memory.cloud import COMPLIANCE, OPERATORS, Fault, MemoryCloud
from tests.memory.workflow import Crash, LostReply, TransientError
from tests.remittances import medicare_paid_twice, offset_of

from .test_crash_safe import approve_the_waiting_link, assert_paid_once
from .test_one_refund import drop_fanned_out
from .test_remittances import drop_835
from .test_workflow_paths import TIER1, TIER2, patient_credit

ERRORS = (Crash, TransientError, LostReply)
FAN_OUT_STEPS = ("StorePartFunction", "PlanDetectionFunction", "DetectBatchFunction", "FinishLedgerFunction")


def at_every_call(step: str, error: type[Exception], scenario: Callable[[MemoryCloud, Fault], None]) -> int:
    """`scenario` on a fresh cloud with a fault of `error` at the k-th call of `step`, for every k until the step
    makes no more calls. The calls the step made."""
    k = 0
    while True:
        k += 1
        mem = MemoryCloud()
        fault = Fault(at=k, step=step, error=error)
        try:
            scenario(mem, fault)
        except AssertionError as failed:
            raise AssertionError(f"{error.__name__} at call {k} of {step}: {failed}") from failed
        if not fault.fired:
            print(f"{step}: {k - 1} calls, {error.__name__} at each")
            return k - 1


def escalated_once(mem: MemoryCloud, fault: Fault) -> None:
    mem.drop(patient_credit("FS-ESC"))
    case_id = mem.case("FS-ESC")["case_id"]
    mem.ports.fault = fault
    mem.time_out(case_id)
    mem.ports.fault = None
    assert mem.actions(case_id).count("ESCALATED") == 1, mem.actions(case_id)
    # Told once; twice only when the function died between the mail and its mark on the link (SES sends no
    # mail once: a retry cannot know a mail whose record it never wrote).
    twice = fault.hit == "approvals.mark_moved_on" and fault.error is not LostReply
    assert [m.subject for m in mem.mailer.to(TIER1) if "moved on" in m.subject] == [
        "Approval moved on: account FS-ESC"] * (2 if twice else 1)
    assert len(mem.links(TIER2, "FS-ESC")) == 1
    approve_the_waiting_link(mem, "FS-ESC", TIER2)
    assert_paid_once(mem, "FS-ESC")


@pytest.mark.parametrize("error", ERRORS)
def test_escalate_at_every_call(error):
    assert at_every_call("EscalateFunction", error, escalated_once) > 3


def fanned_out_and_paid_once(mem: MemoryCloud, fault: Fault) -> None:
    filler = [f"FS-PAD-{n},FS-PAD-{n % 7},P-PAD,G-PAD-{n % 7},CHARGE,10.00,2026-11-20,,,,,,,TX" for n in range(160)]
    mem.ports.fault = fault
    payload = drop_fanned_out(mem, [*patient_credit("FS-FAN"), *filler], "fs-fan.csv")
    mem.ports.fault = None
    assert mem.bucket.keys("rejected/") == [], mem.bucket.keys("rejected/")  # no part refused
    assert mem.bucket.originals == {f"fs-fan.csv/{payload['upload']}/fs-fan.csv": mem.bucket.originals.get(
        f"fs-fan.csv/{payload['upload']}/fs-fan.csv")}
    assert sum(len(rows) for rows in mem.transactions.rows.values()) == 162  # every row stored once
    approve_the_waiting_link(mem, "FS-FAN")
    assert_paid_once(mem, "FS-FAN")


@pytest.mark.parametrize("step", FAN_OUT_STEPS)
@pytest.mark.parametrize("error", ERRORS)
def test_a_fan_out_step_at_every_call(step, error):
    assert at_every_call(step, error, fanned_out_and_paid_once) >= 2


def takeback_told_once(mem: MemoryCloud, fault: Fault) -> None:
    mem.drop(medicare_paid_twice("FS-RM"), "fs-rm.csv")
    approve_the_waiting_link(mem, "FS-RM")
    case_id = mem.case("FS-RM")["case_id"]
    [issued] = mem.refund_book.of_case(case_id)
    mem.ports.fault = fault
    drop_835(mem, "fs-rm-era.835", offset_of("FS-RM"))
    mem.ports.fault = None
    # A STOP alert is sent before its record: a function that died between the two sends it again (told
    # twice rather than never: the record is what a retry reads).
    twice = fault.hit == "history.append" and fault.error is not LostReply
    for to in (OPERATORS, COMPLIANCE):
        stops = [m.subject for m in mem.mailer.to(to) if m.subject.startswith("STOP")]
        assert stops == [f"STOP refund instruction {issued.instruction_id}: the payer already recouped "
                         "(account FS-RM)"] * (2 if twice else 1), stops
    assert mem.actions(case_id).count("TAKEBACK_ALERT") == 1
    assert mem.case("FS-RM")["status"] == "REFUND_ISSUED"
    assert mem.bucket.keys("incoming/") == [] and mem.bucket.keys("rejected/") == []
    assert len(mem.remittances.of_account("FS-RM", {"ICN-FS-RM"}).takebacks) == 1  # kept once


@pytest.mark.parametrize("error", ERRORS)
def test_the_remittance_function_at_every_call(error):
    assert at_every_call("RemitFunction", error, takeback_told_once) > 3
