"""Trends from the deployed history (DOMAIN §11): the roll-up that keeps the monthly counters as cases change,
and the report read from them (no scan of cases or history when it runs).

The roll-up runs on a schedule, one at a time. It reads the cases whose history moved since its cursor (the
month index, as the seal does; every case's id on its first run) and counts each case's identification and its
close once (domain/rollups.py). Cases are taken in id order: a run short of time keeps how far it got, and the
next run goes on from there before it moves the cursor. A case that cannot be counted (its ledger rows fail
their check, a figure DynamoDB refuses) is left out and named, and the others are counted; a throttle or a
service's failure fails the run, to be retried.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from creditrefunds.domain.patterns import counted_spikes
from creditrefunds.domain.rollups import Counted, Progress, closed, credit_of, figures, identified
from creditrefunds.domain.settings import Settings
from creditrefunds.domain.trends import months_from
from creditrefunds.usecases.ports import Ports, Rollups

logger = logging.getLogger(__name__)
LOOK_BACK = timedelta(minutes=20)  # a record stamped before the last run's end may land after it (as the seal)
MARGIN_SECONDS = 60.0  # stop taking cases when less than this is left of the run's time


def roll_up(ports: Ports, now: datetime, seconds_left: Callable[[], float],
            transient: Callable[[Exception], bool]) -> dict[str, Any]:
    """Count what changed since the last run: how many cases were read and moments counted, the cases left out,
    and whether the pass is complete (False: the next run goes on)."""
    progress = ports.rollups.cursor()
    until = progress.until or now
    ids = ports.history.changed(progress.at - LOOK_BACK, until) if progress.at else set(ports.cases.ids())
    todo = sorted(case_id for case_id in ids if progress.after is None or case_id > progress.after)
    counted, read = 0, 0
    refused: list[str] = []  # the cases left out
    for case_id in todo:
        if seconds_left() < MARGIN_SECONDS:
            ports.rollups.move_cursor(Progress(progress.at, until, todo[read - 1] if read else progress.after))
            logger.warning("trends: out of time, the next run goes on", extra={"cases": read, "left": len(todo) - read})
            return {"cases": read, "counted": counted, "refused": refused, "complete": False}
        try:
            counted += count_case(ports, case_id)
        except Exception as error:
            if transient(error):
                raise
            refused.append(case_id)  # named in the log and the run's answer; the others go on
            logger.error("trends: a case could not be counted", extra={"case_id": case_id,
                                                                       "error": type(error).__name__})
        read += 1
    ports.rollups.move_cursor(Progress(until))
    logger.info("trends rolled up", extra={"cases": read, "counted": counted, "refused": len(refused)})
    return {"cases": read, "counted": counted, "refused": refused, "complete": True}


def count_case(ports: Ports, case_id: str) -> int:
    """Count the case's identification and its close, each once; how many were counted now."""
    done = ports.rollups.markers(case_id)
    if "identified" in done and "closed" in done:
        return 0  # (read nothing more: counted whole)
    stored = ports.cases.get(case_id, strict=False)
    if stored is None:
        return 0
    credit = credit_of(stored, ports.history.records(case_id), _facility(ports, stored.case.account_id))
    counted = 0
    if "identified" not in done:
        fresh = Counted.of(credit)
        counted += ports.rollups.apply(case_id, "identified", fresh.to_json(), identified(fresh))
        done = ports.rollups.markers(case_id)  # what was counted, by this run or by one at the same time
    as_counted = Counted.from_json(done["identified"])
    if credit.closed is not None and "closed" not in done:
        counted += ports.rollups.apply(case_id, "closed", {"on": credit.closed.isoformat(),
                                                          "refunded": credit.refunded},
                                       closed(as_counted, credit.closed, credit.refunded, credit.due))
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
