"""Escalation's rules, in milliseconds: the next tier, overdue for good, and the compliance officer
told once per piece of news however often an approval times out (DOMAIN.md section 6)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from creditrefunds.domain.cases import Case, Line
from creditrefunds.domain.escalation import escalate
from creditrefunds.domain.mail import compliance_notice
from creditrefunds.domain.review import Timing

TODAY = date(2026, 11, 27)
TOP = "still waiting, and no approver tier is left above tier 3"
DAY = Timing({1: 259200, 2: 259200, 3: 259200}, escalation_lead_seconds=10 * 86400, seconds_per_day=86400)


def case(due: date | None) -> Case:
    line = Line("REFUND", "MSP_OTHER_PRIMARY", "MEDICARE", "MAC-J1", Decimal("400.00"), due)
    return Case("CB-1", "ACC-1", "P1", "G1", Decimal("400.00"), TODAY, [line], tier=1)


def wait_out(due: date | None, timeouts: int) -> list:
    """Let the approval time out `timeouts` times, carrying what the case keeps from one to the next."""
    steps, tier, level, overdue, told = [], 1, 0, False, set()
    for _ in range(timeouts):
        step = escalate(case(due), tier, level, overdue, told, TODAY, DAY)
        steps.append(step)
        tier, level, overdue, told = step.tier, step.level, step.overdue, told | step.fresh
    return steps


def test_a_timeout_asks_the_next_tier_and_stops_at_the_top():
    steps = wait_out(date(2027, 3, 1), 4)
    assert [(s.old_tier, s.tier, s.level) for s in steps] == [(1, 2, 1), (2, 3, 2), (3, 3, 3), (3, 3, 4)]
    assert [s.why for s in steps] == [None, None, TOP, None]
    assert steps[0].reason == "approval waited past its time at tier 1; asked tier 2"


def test_a_due_date_within_the_lead_tells_compliance_once():
    steps = wait_out(date(2026, 12, 5), 3)
    assert [s.why for s in steps] == ["due 2026-12-05", None, TOP]
    assert not any(s.overdue for s in steps)
    assert steps[0].reason.endswith("; compliance officer told")


def test_past_due_is_overdue_for_good_and_told_once_however_long_the_wait():
    steps = wait_out(date(2026, 11, 1), 5)
    assert all(s.overdue for s in steps)
    assert [s.why for s in steps] == ["past its due date", None, TOP, None, None]
    assert steps[0].fresh == {"told_overdue", "told_near"}  # past due says more than near
    assert "past the due date: flagged overdue" in steps[0].reason
    notice = compliance_notice("compliance@example.org", case(date(2026, 11, 1)), steps[0].why, steps[0].tier)
    assert notice.subject == "Credit balance refund not yet approved, past its due date: account ACC-1"
    assert "400.00" in notice.text and "tier 2 approver" in notice.text


def test_an_overdue_flag_stays_even_when_the_due_date_moves_later():
    step = escalate(case(date(2027, 3, 1)), 2, 1, True, {"told_overdue", "told_near"}, TODAY, DAY)
    assert step.overdue and step.why is None


def test_no_due_date_only_the_top_tier_is_news():
    assert [s.why for s in wait_out(None, 3)] == [None, None, TOP]
