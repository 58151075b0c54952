"""Trends from the deployed history (issue 33): the monthly counters kept as cases change give the figures the
offline report gives, and the roll-up counts each case's identification and close once."""

from __future__ import annotations

import sys
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from creditrefunds.domain.ledger import Transaction
from creditrefunds.domain.rollups import Counted, closed, figures, identified
from creditrefunds.domain.settings import Settings
from creditrefunds.domain.trends import ledger_credits, months_from, trends
from creditrefunds.usecases.trends import report
from creditrefunds.usecases.trends import roll_up as rolled_up

from tests.memory.cloud import MemoryCloud
from tests.memory.rollups import MemoryRollups

from .test_one_refund import approve_and_issue, rows

sys.path.insert(0, str(Path(__file__).parents[2] / "bench"))
import trend_ledger

MONTHS = months_from("2025-01", "2026-12")


def roll_up(ports, now, seconds_left=lambda: 900.0):
    return rolled_up(ports, now, seconds_left, lambda error: False)


def counted(credits: list) -> MemoryRollups:
    store = MemoryRollups()
    for credit in credits:
        as_counted = Counted.of(credit)
        store.apply(credit.case_id, "identified", as_counted.to_json(), identified(as_counted))
        if credit.closed is not None:
            store.apply(credit.case_id, "closed", {}, closed(as_counted, credit.closed, credit.refunded))
    return store


def test_the_counters_give_the_figures_of_the_credits_they_counted():
    import io

    from creditrefunds.domain.ledger_files import read_ledger

    text = io.StringIO()
    trend_ledger.write_csv(text, 24, 10, 5, planted=True)
    txns = [t for t in read_ledger(io.BytesIO(text.getvalue().encode()), "csv") if isinstance(t, Transaction)]
    credits = ledger_credits(txns, "2026-12", Settings())
    assert len(credits) > 3000 and sum(c.refunded for c in credits) > 2000
    from_counters = figures(counted(credits).counters("2026-12"), MONTHS)
    assert from_counters == trends(credits, MONTHS)  # every month, overall and per value of every dimension


def test_a_moment_is_counted_once_however_often_it_is_read():
    mem = MemoryCloud()
    mem.drop(rows("TR-1", ("1", "CHARGE", "100.00", "2026-11-01"), ("2", "PAYMENT", "-150.00", "2026-11-05")))
    first = roll_up(mem.ports, mem.now)
    again = roll_up(mem.ports, mem.tick(minutes=5))
    assert (first["counted"], again["counted"]) == (1, 0)
    november = report(mem.ports.rollups, "2026-11", "2026-11", Settings())["months"][0]
    assert november["identified"] == {"count": 1, "amount": "50.00"} and november["open"]["count"] == 1


def test_the_report_follows_cases_from_identified_to_refunded():
    mem = MemoryCloud()
    for n in range(3):
        mem.drop(rows(f"TR-{n}", ("1", "CHARGE", "100.00", "2026-11-01"), ("2", "PAYMENT", "-150.00", "2026-11-05")))
    roll_up(mem.ports, mem.now)
    case = approve_and_issue(mem, "TR-0")
    mem.tick(days=12)
    roll_up(mem.ports, mem.now)
    result = report(mem.ports.rollups, "2026-11", "2026-12", Settings())
    november, december = result["months"]
    assert november["identified"] == {"count": 3, "amount": "150.00"}
    assert november["open"]["count"] == 2  # TR-0's refund was issued on 2026-11-20
    assert november["refunded"]["count"] == 1 and november["on_time"] == {"count": 1, "share": 1.0}
    assert december["identified"]["count"] == 0 and december["open"]["count"] == 2
    assert result["series"]["payer"]["PATIENT"][0]["refunded"]["amount"] == "50.00"
    issued_on = date.fromisoformat(case["identified_on"])
    assert november["refunded"]["days_median"] == float((mem.now - timedelta(days=12)).date().toordinal()
                                                        - issued_on.toordinal())


def test_compliance_and_auditors_read_the_trends_in_the_console_and_billing_staff_do_not():
    import pytest
    from creditrefunds.domain.identity import Forbidden
    from creditrefunds.usecases import console

    mem = MemoryCloud()
    mem.drop(rows("TC-1", ("1", "CHARGE", "100.00", "2026-11-01"), ("2", "PAYMENT", "-150.00", "2026-11-05")))
    roll_up(mem.ports, mem.now)
    view = console.trends(mem.ports, mem.signed_in("compliance@example.org"), mem.now.date())
    assert (view["from"], view["to"]) == ("2025-12", "2026-11") and len(view["months"]) == 12
    assert view["months"][-1]["identified"] == {"count": 1, "amount": "50.00"}
    assert console.trends(mem.ports, mem.signed_in("auditor@example.org"), mem.now.date())["months"] == view["months"]
    with pytest.raises(Forbidden):
        console.trends(mem.ports, mem.signed_in("billing@example.org"), mem.now.date())


def test_a_case_that_cannot_be_counted_is_named_and_the_others_are_counted():
    mem = MemoryCloud()
    for account in ("TB-1", "TB-2"):
        mem.drop(rows(account, ("1", "CHARGE", "100.00", "2026-11-01"), ("2", "PAYMENT", "-150.00", "2026-11-05")))
    bad = mem.case("TB-1")["case_id"]
    ledger = mem.ports.store["transactions"]
    [row] = [t for t in ledger.rows["TB-1"].values() if t.txn_type == "CHARGE"]
    ledger.rows["TB-1"][row.txn_id] = replace(row, amount=row.amount - 1)  # a table writer's change: check fails
    done = roll_up(mem.ports, mem.now)
    assert done["refused"] == [bad] and done["counted"] == 1 and done["complete"]
    assert report(mem.ports.rollups, "2026-11", "2026-11", Settings())["months"][0]["identified"]["count"] == 1


def test_a_run_short_of_time_keeps_its_place_and_the_next_goes_on():
    mem = MemoryCloud()
    for n in range(4):
        mem.drop(rows(f"TT-{n}", ("1", "CHARGE", "100.00", "2026-11-01"), ("2", "PAYMENT", "-150.00", "2026-11-05")))
    clock = iter([900.0, 900.0, 10.0])  # two cases, then the run is nearly out of time
    first = roll_up(mem.ports, mem.now, lambda: next(clock, 10.0))
    assert (first["cases"], first["complete"]) == (2, False)
    second = roll_up(mem.ports, mem.tick(minutes=60))
    assert (second["cases"], second["counted"], second["complete"]) == (2, 2, True)
    assert report(mem.ports.rollups, "2026-11", "2026-11", Settings())["months"][0]["identified"]["count"] == 4
    assert roll_up(mem.ports, mem.tick(minutes=60))["counted"] == 0


def test_a_case_issued_in_part_and_then_failed_is_not_closed():
    from creditrefunds.domain.cases import Case, Line, StoredCase
    from creditrefunds.domain.rollups import credit_of
    from creditrefunds.domain.status import Status

    case = Case("CB-1", "A1", "P1", "G1", Decimal("100.00"), date(2026, 11, 2),
                [Line("REFUND", "PATIENT_OVERPAYMENT", "PATIENT", "G1", Decimal("100.00"), date(2026, 12, 2))])
    history = [{"seq": 1, "at": "2026-11-02T09:00:00+00:00", "status_after": "OPEN"},
               {"seq": 2, "at": "2026-11-05T09:00:00+00:00", "status_after": "REFUND_ISSUED"},
               {"seq": 3, "at": "2026-11-05T09:01:00+00:00", "status_after": "FAILED"}]
    assert credit_of(StoredCase(case, Status.FAILED), history, None).closed is None
    issued = credit_of(StoredCase(case, Status.RECONCILED), [
        *history[:2], {"seq": 3, "at": "2026-11-20T09:00:00+00:00", "status_after": "RECONCILED"}], None)
    assert (issued.closed, issued.refunded) == (date(2026, 11, 5), True)
