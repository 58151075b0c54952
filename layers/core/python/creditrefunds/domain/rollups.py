"""Trends from the deployed history (DOMAIN §11): monthly counters kept as cases change. Pure.

A case counts at two moments at most. It counts once when it is identified: its figures as the roll-up first
reads them (its `identified_on` is the day detection found it). It counts again when it closes: the first
history record that moves it to REFUND_ISSUED, RECONCILED or RESOLVED_NO_REFUND. It was refunded when that
record is REFUND_ISSUED. Each moment is a set of increments to (key, month) counters, where the key is `all`
or `<dimension>#<value>`.

What is a stock at a month's end (open, overdue) is kept as flows in and out, and summed up to the month
when the report runs. Days to refund are kept as a histogram (`days_N`). A case's close takes away exactly
what its identification added: the amounts counted then are kept with its marker (`Counted`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from creditrefunds.domain.cases import StoredCase
from creditrefunds.domain.trends import (
    DIMENSIONS,
    FIGURES,
    NONE,
    Credit,
    Sum,
    month_end,
    month_of,
    month_row,
    parts_of,
    shifted,
)

CLOSING = ("REFUND_ISSUED", "RECONCILED", "RESOLVED_NO_REFUND")
LONGEST_VALUE = 200  # a ledger value longer than this names its counter by its start and a digest
DAYS_KEPT = 730  # a refund later than this counts as this many days in the histogram
ALL = "all"
Increments = dict[tuple[str, str], dict[str, Any]]


@dataclass(frozen=True)
class Progress:
    """How far the roll-up has counted the history: up to `at`; a pass up to `until` under way has counted the
    cases up to `after` (by id), and the next run goes on from there."""

    at: datetime | None = None
    until: datetime | None = None
    after: str | None = None


def credit_of(stored: StoredCase, records: Iterable[Mapping[str, Any]], facility: str | None) -> Credit:
    """A stored case and its history as a credit: identified on its `identified_on`, closed by the record that
    began its last stretch of closing statuses (a case issued in parts and then FAILED is not closed)."""
    case = stored.case
    closing = None
    for record in sorted(records, key=lambda r: int(r["seq"])):
        status = record.get("status_after")
        if status in CLOSING:
            closing = closing or record
        elif status:
            closing = None
    return Credit(case.case_id, case.account_id, case.guarantor_id, facility or NONE, case.identified_on,
                  month_of(case.identified_on), case.credit, parts_of(case.lines), case.due_date,
                  date.fromisoformat(str(closing["at"])[:10]) if closing else None,
                  closing is not None and closing["status_after"] == "REFUND_ISSUED")


@dataclass(frozen=True)
class Counted:
    """What a case's identification added, kept with its marker so that its close takes away the same."""

    month: str
    overdue_from: str | None  # the first month at whose end it is past due
    due: date | None
    began: date
    amounts: dict[str, Decimal]  # key -> amount counted under it

    @classmethod
    def of(cls, credit: Credit) -> Counted:
        amounts = {ALL: credit.amount}
        for dimension in DIMENSIONS:
            amounts.update({counter_key(dimension, value): amount
                            for value, amount in credit.values(dimension).items()})
        for part in credit.parts:  # a payer's double postings: what repeat_posting is judged on
            if part.reason == "DUPLICATE_POSTING":
                key = counter_key("duplicate_posting", part.payer)
                amounts[key] = amounts.get(key, Decimal(0)) + part.amount
        overdue_from = None
        if credit.due is not None:
            due_month = month_of(credit.due)
            overdue_from = max(credit.month, due_month if credit.due < month_end(due_month) else shifted(due_month, 1))
        return cls(credit.month, overdue_from, credit.due, credit.began, amounts)

    def to_json(self) -> dict[str, Any]:
        return {"month": self.month, "overdue_from": self.overdue_from, "began": self.began.isoformat(),
                "due": self.due.isoformat() if self.due else None,
                "amounts": {key: f"{amount:.2f}" for key, amount in self.amounts.items()}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Counted:
        due = date.fromisoformat(data["due"]) if data.get("due") else None
        return cls(data["month"], data.get("overdue_from"), due, date.fromisoformat(data["began"]),
                   {k: Decimal(v) for k, v in data["amounts"].items()})


def counter_key(dimension: str, value: str) -> str:
    """The counter of a dimension's value; a value too long for a key (a ledger's id can be any length) is named
    by its start and a digest of the whole."""
    if len(value) > LONGEST_VALUE:
        value = f"{value[:LONGEST_VALUE - 17]}~{hashlib.sha256(value.encode()).hexdigest()[:16]}"
    return f"{dimension}#{value}"


def _add(increments: Increments, key: str, month: str, name: str, amount: Decimal) -> None:
    counters = increments.setdefault((key, month), {})
    counters[f"{name}_count"] = counters.get(f"{name}_count", 0) + 1
    counters[f"{name}_amount"] = counters.get(f"{name}_amount", Decimal(0)) + amount


def identified(counted: Counted) -> Increments:
    increments: Increments = {}
    for key, amount in counted.amounts.items():
        _add(increments, key, counted.month, "identified", amount)
        _add(increments, key, counted.month, "open_in", amount)
        if counted.overdue_from is not None:
            _add(increments, key, counted.overdue_from, "overdue_in", amount)
    return increments


def closed(counted: Counted, on: date, refunded: bool, due: date | None = None) -> Increments:
    """What closing on `on` takes away (and, refunded, counts as refunded that month, on time against `due`, the
    case's due date as it closed: an investigation may have moved it)."""
    increments: Increments = {}
    month = max(month_of(on), counted.month)
    days = min(max((on - counted.began).days, 0), DAYS_KEPT)
    due = due or counted.due
    on_time = due is None or on <= due
    for key, amount in counted.amounts.items():
        _add(increments, key, month, "open_out", amount)
        if counted.overdue_from is not None:
            _add(increments, key, max(month, counted.overdue_from), "overdue_out", amount)
        if refunded:
            _add(increments, key, month, "refunded", amount)
            counters = increments[(key, month)]
            counters[f"days_{days}"] = counters.get(f"days_{days}", 0) + 1
            counters["on_time_count"] = counters.get("on_time_count", 0) + int(on_time)
    return increments


def _month_rows(by_month: Mapping[str, Mapping[str, Any]], months: list[str]) -> list[dict[str, object]]:
    """The months' figures of one key from its counters (every month up to the last, from its first)."""
    rows, opened, overdue = [], Sum(), Sum()
    wanted = set(months)
    for month in sorted(set(by_month) | wanted):
        if month > months[-1]:
            break
        c = by_month.get(month, {})
        for stock, name in ((opened, "open"), (overdue, "overdue")):
            stock.count += int(c.get(f"{name}_in_count", 0)) - int(c.get(f"{name}_out_count", 0))
            stock.amount += Decimal(str(c.get(f"{name}_in_amount", 0))) - Decimal(str(c.get(f"{name}_out_amount", 0)))
        if month not in wanted:
            continue
        sums = {name: Sum(int(c.get(f"{name}_count", 0)), Decimal(str(c.get(f"{name}_amount", 0))))
                for name in ("identified", "refunded")}
        sums.update(open=Sum(opened.count, opened.amount), overdue=Sum(overdue.count, overdue.amount))
        days = [int(name[5:]) for name, n in sorted(c.items()) if name.startswith("days_") for _ in range(int(n))]
        rows.append(month_row(month, {name: sums[name] for name in FIGURES}, days, int(c.get("on_time_count", 0))))
    return rows


def figures(counters: Mapping[str, Mapping[str, Mapping[str, Any]]], months: list[str]) -> dict[str, object]:
    """The trends JSON's months and series from the counters (key -> month -> counter): the same shape as the
    offline report's."""
    series: dict[str, dict[str, list[dict[str, object]]]] = {dimension: {} for dimension in DIMENSIONS}
    for key in sorted(counters):
        dimension, _, value = key.partition("#")
        if dimension in DIMENSIONS:
            series[dimension][value] = _month_rows(counters[key], months)
    return {"months": _month_rows(counters.get(ALL, {}), months), "series": series}


def identified_counts(counters: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> dict[str, dict[str, int]]:
    """key -> month -> credits identified (what spikes are judged on)."""
    return {key: {month: int(c.get("identified_count", 0)) for month, c in by_month.items()}
            for key, by_month in counters.items()}
