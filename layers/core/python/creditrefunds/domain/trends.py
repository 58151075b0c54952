"""Trends: the credits a ledger made, month by month (DOMAIN §11). Pure: transactions and settings in.

A credit is identified in month M when detection as of M's last day finds an episode (an account's run of days
below zero, named by the day it began) that detection as of the month before did not: an episode that opened and
closed within one month is never identified, as monthly detection would never have seen it. Its figures are
those detection gives as of that month end (amount, lines, due date); its days are counted from the day the
episode began, the day a daily detection (what the product runs) would have identified it, and so is its due
date. It closes when the balance is back at zero or above; it was refunded when what closed it was money paid
back (a REFUND, or a payer's RECOUPMENT) that was not reversed later.
"""

from __future__ import annotations

import bisect
import functools
import operator
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from creditrefunds.domain.cases import Line
from creditrefunds.domain.detection import build_case, summarize
from creditrefunds.domain.ledger import Transaction
from creditrefunds.domain.money import ZERO
from creditrefunds.domain.settings import Settings

_IN_ORDER = operator.attrgetter("posting_date", "txn_id")
PAID_BACK = frozenset({"REFUND", "RECOUPMENT"})
NONE = "(none)"  # a dimension a credit does not name (no facility on its rows)


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


@functools.cache
def month_end(month: str) -> date:
    year, number = int(month[:4]), int(month[5:7])
    return date(year + number // 12, number % 12 + 1, 1) - timedelta(days=1)


def months_from(first: str, last: str) -> list[str]:
    """Every month from `first` to `last`, both included."""
    months, year, number = [], int(first[:4]), int(first[5:7])
    while (month := f"{year:04d}-{number:02d}") <= last:
        months.append(month)
        year, number = (year + 1, 1) if number == 12 else (year, number + 1)
    return months


def shifted(month: str, by: int) -> str:
    index = int(month[:4]) * 12 + int(month[5:7]) - 1 + by
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


@dataclass(frozen=True, slots=True)
class Part:
    """What part of a credit one line says: why, whose money (payer type and payer), how much."""

    reason: str
    payer_type: str
    payer: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Credit:
    """One credit as monthly detection identified it, and how it ended."""

    case_id: str
    account_id: str
    guarantor_id: str
    facility: str
    began: date
    month: str  # the month it was identified in
    amount: Decimal
    parts: tuple[Part, ...]
    due: date | None
    closed: date | None
    refunded: bool

    def open_at(self, day: date) -> bool:
        return self.began <= day and (self.closed is None or self.closed > day)

    @property
    def on_time(self) -> bool:
        return self.refunded and self.closed is not None and (self.due is None or self.closed <= self.due)

    @property
    def days_to_close(self) -> int | None:
        return None if self.closed is None else (self.closed - self.began).days

    def values(self, dimension: str) -> dict[str, Decimal]:
        """The values of `dimension` this credit counts under, with the amount under each."""
        if dimension == "facility":
            return {self.facility: self.amount}
        amounts: dict[str, Decimal] = {}
        for part in self.parts:
            value = {"reason": part.reason, "payer": part.payer, "payer_type": part.payer_type}[dimension]
            amounts[value] = amounts.get(value, ZERO) + part.amount
        return amounts


def parts_of(lines: Iterable[Line]) -> tuple[Part, ...]:
    parts = []
    for line in lines:
        payer_type = line.payee_type or NONE
        payer = "PATIENT" if payer_type == "PATIENT" else (line.payee_id or NONE)
        parts.append(Part(line.reason, payer_type, payer, line.amount))
    return tuple(parts)


def account_credits(txns: list[Transaction], last_month: str, settings: Settings) -> Iterator[Credit]:
    """The credits of one account's transactions identified by the end of `last_month`."""
    txns = sorted(txns, key=_IN_ORDER)
    dates = [t.posting_date for t in txns]
    reversed_ids = {t.reversal_of for t in txns if t.txn_type == "REVERSAL"}
    last_day = month_end(last_month)
    running, began = ZERO, None
    for n, t in enumerate(txns):
        was_below = running < 0
        running += t.amount
        if running < 0 and not was_below:
            began = t.posting_date
        if began is None or (running < 0 and n + 1 < len(txns)):
            continue
        # The episode that began on `began` ends here: closed by this row, or still open at the file's end.
        closed, closer = (t.posting_date, t) if running >= 0 else (None, None)
        episode_began, began = began, None
        identified_at = month_end(month_of(episode_began))
        if identified_at > last_day or (closed is not None and closed <= identified_at):
            continue  # not seen at any month end in range
        seen = txns[:bisect.bisect_right(dates, identified_at)]
        summary = summarize(seen)[t.account_id]
        case = build_case(summary, seen, episode_began, settings)  # (no offsets: who is owed, not what is paid)
        last_facility = next((s.facility_id for s in reversed(seen) if s.facility_id), None)
        yield Credit(case.case_id, t.account_id, summary.guarantor_id, last_facility or NONE, episode_began,
                     month_of(episode_began), case.credit, parts_of(case.lines), case.due_date, closed,
                     closer is not None and closer.txn_type in PAID_BACK and closer.txn_id not in reversed_ids)


def ledger_credits(transactions: Iterable[Transaction], last_month: str, settings: Settings) -> list[Credit]:
    """Every credit of the ledger identified by the end of `last_month`, by month, then account."""
    by_account: dict[str, list[Transaction]] = {}
    for t in transactions:
        by_account.setdefault(t.account_id, []).append(t)
    credits = [c for txns in by_account.values() for c in account_credits(txns, last_month, settings)]
    return sorted(credits, key=lambda c: (c.began, c.account_id))


DIMENSIONS = ("reason", "payer", "payer_type", "facility")


def _percentile(days: list[int], share: float) -> int | None:
    """The nearest-rank percentile: the smallest day count at least `share` of them reach."""
    if not days:
        return None
    ordered = sorted(days)
    return ordered[max(0, -(-len(ordered) * int(share * 100) // 100) - 1)]


def _median(days: list[int]) -> float | None:
    if not days:
        return None
    ordered, middle = sorted(days), len(days) // 2
    return float(ordered[middle]) if len(days) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


FIGURES = ("identified", "open", "overdue", "refunded")


@dataclass(slots=True)
class Sum:
    count: int = 0
    amount: Decimal = ZERO

    def figure(self) -> dict[str, object]:
        return {"count": self.count, "amount": f"{self.amount:.2f}"}


class _Tally:
    """The months' figures of (credit, the amount counted of it) pairs: identified in a month, open and overdue
    at its end, refunded in it (with days from the credit's beginning to its refund, and how many on time)."""

    def __init__(self, months: list[str]) -> None:
        self.months, self.ends = months, [month_end(m) for m in months]
        self.figures = {name: [Sum() for _ in months] for name in FIGURES}
        self.days: list[list[int]] = [[] for _ in months]
        self.on_time = [0] * len(months)

    def _add(self, name: str, index: int, amount: Decimal) -> None:
        figure = self.figures[name][index]
        figure.count += 1
        figure.amount += amount

    def add(self, credit: Credit, amount: Decimal) -> None:
        months = self.months
        first = bisect.bisect_left(months, credit.month)
        if first < len(months) and months[first] == credit.month:
            self._add("identified", first, amount)
        closed_month = month_of(credit.closed) if credit.closed else None
        last = len(months) if closed_month is None else bisect.bisect_left(months, closed_month)
        for index in range(first, last):  # open at the end of each month from its own to the one it closed in
            self._add("open", index, amount)
            if credit.due is not None and credit.due < self.ends[index]:
                self._add("overdue", index, amount)
        if credit.refunded and last < len(months) and months[last] == closed_month:
            self._add("refunded", last, amount)
            self.days[last].append(credit.days_to_close or 0)
            self.on_time[last] += credit.on_time

    def result(self) -> list[dict[str, object]]:
        return [month_row(name, {key: self.figures[key][index] for key in self.figures}, self.days[index],
                          self.on_time[index]) for index, name in enumerate(self.months)]


def month_row(month: str, sums: dict[str, Sum], days: list[int], on_time: int) -> dict[str, object]:
    """One month's figures as the trends JSON gives them (docs/trends.md)."""
    figures = {key: sums[key].figure() for key in FIGURES}
    refunded = sums["refunded"].count
    figures["refunded"].update(days_median=_median(days), days_p90=_percentile(days, 0.9))
    return {"month": month, **figures,
            "on_time": {"count": on_time, "share": None if not refunded else round(on_time / refunded, 4)}}


def trends(credits: list[Credit], months: list[str]) -> dict[str, object]:
    """The months' figures, overall and per value of each dimension (an empty month is zeros, not a gap)."""
    whole = _Tally(months)
    series: dict[str, dict[str, _Tally]] = {dimension: {} for dimension in DIMENSIONS}
    for credit in credits:
        whole.add(credit, credit.amount)
        for dimension in DIMENSIONS:
            for value, amount in credit.values(dimension).items():
                tally = series[dimension].get(value)
                if tally is None:
                    tally = series[dimension][value] = _Tally(months)
                tally.add(credit, amount)
    return {"months": whole.result(),
            "series": {d: {v: t.result() for v, t in sorted(by.items())} for d, by in series.items()}}
