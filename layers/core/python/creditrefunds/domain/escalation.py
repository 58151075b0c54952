"""Escalation (DOMAIN.md section 6): an approval that waited too long moves up a tier.

The waiting approver is told and their link stops working; the compliance officer is told
once per piece of news (the due date is near, it is past, no tier is left above the top
one), not at every repeat of a wait; past the due date the case is flagged overdue for good.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from creditrefunds.domain.cases import Case
from creditrefunds.domain.review import Timing

TOP_TIER = 3
NEWS = ("told_near", "told_overdue", "told_top")  # what the case item remembers having told


@dataclass(frozen=True)
class Escalation:
    """What one timeout does to a case."""

    old_tier: int
    tier: int
    level: int
    overdue: bool
    fresh: frozenset[str]  # news the compliance officer is told now (flags to keep on the case)
    why: str | None  # the compliance notice's reason; None when there is no news

    @property
    def reason(self) -> str:
        """The history record's reason."""
        reason = f"approval waited past its time at tier {self.old_tier}; asked tier {self.tier}"
        if self.overdue:
            reason += "; past the due date: flagged overdue"
        if self.why is not None:
            reason += "; compliance officer told"
        return reason


def escalate(case: Case, old_tier: int, level: int, overdue: bool, told: set[str], today: date,
             timing: Timing) -> Escalation:
    """The escalation of `case`, waiting at `old_tier` after `level` earlier ones; `overdue` and
    `told` are what the case already carries."""
    due = case.due_date
    past = due is not None and due < today
    news = {"told_overdue": past, "told_near": due is not None and timing.near_due(due, today),
            "told_top": old_tier == TOP_TIER}
    fresh = {flag for flag, happened in news.items() if happened and flag not in told}
    if "told_overdue" in fresh:
        fresh.add("told_near")  # past due says more than near
    why = None
    if fresh:
        why = ("past its due date" if "told_overdue" in fresh else
               f"due {due.isoformat()}" if "told_near" in fresh and due is not None else "still waiting")
        if "told_top" in fresh:
            why += f", and no approver tier is left above tier {TOP_TIER}"
    return Escalation(old_tier, min(TOP_TIER, old_tier + 1), level + 1, overdue or past, frozenset(fresh), why)
