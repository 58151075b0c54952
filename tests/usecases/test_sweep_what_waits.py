"""Issue 32: the sweep reads a sparse index of the cases that moved or wait, never every case: a case
whose refund went out whole is looked at once and then left until its history moves again; a waiting
approval is looked at again after the recheck. (What the sweep repairs when it looks: test_crash_safe.)"""

from __future__ import annotations

from datetime import timedelta

from creditrefunds.domain.status import Status
from creditrefunds.usecases import operations

from tests.memory.cloud import OPERATORS, MemoryCloud

from .test_insiders import TIER1, credit

GRACE, RECHECK = timedelta(minutes=15), timedelta(hours=1)


def sweep(mem: MemoryCloud) -> dict:
    return operations.sweep(mem.ports, OPERATORS, mem.now, GRACE, RECHECK)


def test_issued_cases_leave_the_index_and_waiting_ones_come_back_after_the_recheck(mem: MemoryCloud):
    for account in ("SW-PAID-1", "SW-PAID-2", "SW-WAIT"):
        credit(mem, account)
    for account in ("SW-PAID-1", "SW-PAID-2"):
        [link] = mem.links(TIER1, account)
        assert mem.decide(link).status == 200
        assert mem.case(account)["status"] == "REFUND_ISSUED"
    assert sweep(mem)["looked"] == 0  # nothing is a grace old yet
    mem.tick(minutes=20)
    assert sweep(mem) == {"looked": 3, "stuck": []}
    mem.tick(minutes=20)
    assert sweep(mem)["looked"] == 0  # the issued ones have left; the waiting one is not due again yet
    mem.tick(hours=1)
    assert sweep(mem)["looked"] == 1  # the waiting approval, again
    assert "check_at" not in mem.case("SW-PAID-1") and "check_at" in mem.case("SW-WAIT")

    [link] = mem.links(TIER1, "SW-WAIT")  # its history moves: it is back, and leaves once issued
    assert mem.decide(link).status == 200
    mem.tick(minutes=20)
    assert sweep(mem)["looked"] == 1
    mem.tick(hours=2)
    assert sweep(mem)["looked"] == 0



def test_a_case_taken_out_of_the_index_is_found_by_the_daily_whole_sweep_and_put_back(mem: MemoryCloud):
    """A writer of the tables removes an approved case's check_at (or it was opened before the index) and its
    workflow has ended: the quarter-hourly sweep never sees it; the daily whole sweep reads it by status,
    records it FAILED for operators, and a case whose workflow still waits is put back in the index."""
    for account in ("SW-GONE", "SW-AWAY"):
        credit(mem, account)
    [link] = mem.links(TIER1, "SW-GONE")
    assert mem.decide(link).status == 200
    hidden, waits = mem.case("SW-GONE")["case_id"], mem.case("SW-AWAY")["case_id"]
    mem.cases.set_status(hidden, Status.APPROVED)  # its run has ended: no step will move it
    for case_id in (hidden, waits):  # out of the index, as a writer of the tables could take it
        mem.cases.items[case_id].pop("check_at")
        mem.cases.items[case_id].pop("check_shard")
    mem.tick(minutes=20)
    assert sweep(mem) == {"looked": 0, "stuck": []}
    assert mem.case("SW-GONE")["status"] == "APPROVED"

    whole = operations.sweep(mem.ports, OPERATORS, mem.now, GRACE, RECHECK, whole=True)
    assert whole["looked"] == 2
    assert [(s["case_id"], s["problem"]) for s in whole["stuck"]] == [
        (hidden, "its workflow run ended SUCCEEDED while the case was APPROVED")]
    assert mem.case("SW-GONE")["status"] == "FAILED"
    assert [m for m in mem.mailer.to(OPERATORS) if hidden in m.subject]
    assert "check_at" in mem.case("SW-AWAY")  # its approval still waits: back in the index
    mem.tick(hours=2)
    assert sweep(mem)["looked"] == 2  # both held again (the FAILED one by its new record), looked at once more
