"""Trends from the deployed history (DOMAIN §11): the roll-up that keeps the monthly counters as cases change,
and the report read from them (no scan of cases or history when it runs).

The roll-up runs on a schedule, one at a time. It reads the cases whose history moved since its cursor (the
month index, as the seal does; every case on its first run), counts each case's identification and its close
once (domain/rollups.py), and moves its cursor. A run that fails part way is run again: what it counted is
marked, and is not counted twice.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from creditrefunds.domain.patterns import counted_spikes
from creditrefunds.domain.rollups import Counted, closed, credit_of, figures, identified
from creditrefunds.domain.settings import Settings
from creditrefunds.domain.trends import months_from
from creditrefunds.usecases.ports import Ports, Rollups

logger = logging.getLogger(__name__)
LOOK_BACK = timedelta(minutes=20)  # a record stamped before the last run's end may land after it (as the seal)


def roll_up(ports: Ports, now: datetime) -> dict[str, int]:
    """Count what changed since the last run; how many cases were read and moments counted."""
    since = ports.rollups.cursor()
    changed = ports.history.changed(since - LOOK_BACK, now) if since else set(ports.cases.ids())
    counted = 0
    for case_id in sorted(changed):
        counted += count_case(ports, case_id)
    ports.rollups.move_cursor(now)
    logger.info("trends rolled up", extra={"cases": len(changed), "counted": counted})
    return {"cases": len(changed), "counted": counted}


def count_case(ports: Ports, case_id: str) -> int:
    """Count the case's identification and its close, each once; how many were counted now."""
    stored = ports.cases.get(case_id, strict=False)
    if stored is None:
        return 0
    done = ports.rollups.markers(case_id)
    records = ports.history.records(case_id)
    facility = _facility(ports, stored.case.account_id)
    credit = credit_of(stored, records, facility)
    counted = 0
    if "identified" in done:
        as_counted = Counted.from_json(done["identified"])
    else:
        as_counted = Counted.of(credit)
        counted += ports.rollups.apply(case_id, "identified", as_counted.to_json(), identified(as_counted))
    if credit.closed is not None and "closed" not in done:
        counted += ports.rollups.apply(case_id, "closed", {"on": credit.closed.isoformat(),
                                                          "refunded": credit.refunded},
                                       closed(as_counted, credit.closed, credit.refunded))
    return counted


def _facility(ports: Ports, account_id: str) -> str | None:
    """The account's facility: the latest of its rows that names one."""
    rows = sorted(ports.transactions.account_transactions(account_id), key=lambda t: (t.posting_date, t.txn_id))
    return next((t.facility_id for t in reversed(rows) if t.facility_id), None)


def report(rollups: Rollups, first: str, last: str, settings: Settings) -> dict[str, Any]:
    """The trends JSON (docs/trends.md) from the counters: the months, the series, the spikes."""
    months = months_from(first, last)
    counters = rollups.counters(last)
    return {"from": first, "to": last, **figures(counters, months),
            "patterns": counted_spikes(counters, months, settings)}
