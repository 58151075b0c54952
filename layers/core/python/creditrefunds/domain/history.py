"""The case history (DOMAIN.md section 7): what a record holds, its hash chain, how it is searched.

Every change of a case appends one record. Each record carries a SHA-256 over its content
and the previous record's hash for the same case; the case item keeps the chain's head (its
last seq and hash), so a removed last record is caught too.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from creditrefunds.domain.cases import Case
from creditrefunds.domain.money import money_text

GENESIS = "0" * 64
# Every stored field but the hash itself is inside the hash.
# What a step records beside its prose (`reason`, for people): the typed fields that code and auditors read.
TYPED = ("instruction_id", "link", "decision", "tier", "evidence")
HASHED = (
    "case_id", "seq", "at", "month", "actor", "action", "status_before", "status_after", "reason", "amount",
    "account_id", "patient_id", "guarantor_id", "payer_id", *TYPED, "prev_hash",
)  # fmt: skip
PUBLIC = ("seq", "at", "actor", "action", "status_before", "status_after", "reason", "amount", *TYPED, "hash",
          "prev_hash")
INDEX_FOR = {  # search filter -> (index, attribute), most selective first
    "account": ("by-account", "account_id"),
    "patient": ("by-patient", "patient_id"),
    "guarantor": ("by-guarantor", "guarantor_id"),
    "payer": ("by-payer", "payer_id"),
    "status": ("by-status", "status_after"),
}


@dataclass(frozen=True)
class Entry:
    """What happened to a case, as a step tells it: `reason` for people; the typed fields for whoever
    must find a record again (a retried step, the audit): the instruction it issued, the approval link
    it asked or took (the SHA-256 of the link's id: reading it decides nothing), the decision, the tier,
    and the remittance evidence it acted on."""

    actor: str
    action: str
    status_before: str | None
    status_after: str | None
    reason: str | None = None
    amount: Decimal | None = None
    instruction_id: str | None = None
    link: str | None = None
    decision: str | None = None
    tier: int | None = None
    evidence: str | None = None


def main_payer(case: Case) -> str | None:
    """The insurer a case is indexed under: the one with the most money in its lines."""
    totals: dict[str, Decimal] = {}
    for line in case.lines:
        if line.payee_type not in (None, "PATIENT") and line.payee_id:
            totals[line.payee_id] = totals.get(line.payee_id, Decimal(0)) + line.amount
    return max(sorted(totals), key=lambda payer: totals[payer]) if totals else None


def next_record(case: Case, entry: Entry, at: datetime, last: dict[str, Any] | None) -> dict[str, Any]:
    """The record that follows `last` (None: the chain's first) in the case's chain, hashed.

    Empty values are left out, as the table stores them (an index key cannot be empty)."""
    record = {
        "case_id": case.case_id,
        "seq": int(last["seq"]) + 1 if last else 1,
        "at": stamp(at),
        "actor": entry.actor,
        "action": entry.action,
        "status_before": entry.status_before,
        "status_after": entry.status_after,
        "reason": entry.reason,
        "amount": money_text(entry.amount) if entry.amount is not None else None,
        "account_id": case.account_id,
        "patient_id": case.patient_id,
        "guarantor_id": case.guarantor_id,
        "payer_id": main_payer(case),
        "instruction_id": entry.instruction_id,
        "link": entry.link,
        "decision": entry.decision,
        "tier": entry.tier,
        "evidence": entry.evidence,
        "prev_hash": last["hash"] if last else GENESIS,
    }
    record = {k: v for k, v in record.items() if v not in (None, "")}
    record["month"] = str(record["at"])[:7]
    record["hash"] = record_hash(record)
    return record


def record_hash(record: dict[str, Any]) -> str:
    """SHA-256 over the record's content and the previous hash, in one canonical JSON form."""
    content = {name: _plain(record.get(name)) for name in HASHED}
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    return value


@dataclass(frozen=True)
class Break:
    """Where a chain is not whole."""

    case_id: str
    seq: int | None
    problem: str

    def __str__(self) -> str:
        where = f"record {self.seq}" if self.seq is not None else "the chain"
        return f"case {self.case_id}: {where}: {self.problem}"


def verify_chain(case_id: str, records: list[dict[str, Any]], head: tuple[int, str] | None) -> list[Break]:
    """Every way the stored records differ from a whole chain ending at `head`."""
    breaks: list[Break] = []
    previous = GENESIS
    for expected_seq, record in enumerate(records, start=1):
        seq = int(record["seq"])
        if seq != expected_seq:
            breaks.append(Break(case_id, seq, f"expected record {expected_seq} here: one is missing or moved"))
        if record.get("prev_hash") != previous:
            breaks.append(Break(case_id, seq, "does not follow the record before it (prev_hash differs)"))
        if record_hash(record) != record.get("hash"):
            breaks.append(Break(case_id, seq, "its content does not match its hash: altered"))
        previous = record.get("hash", "")
    if head is not None:  # records appended after the head was read are fine; fewer are not
        by_seq = {int(r["seq"]): r for r in records}
        last = max(by_seq, default=0)
        if last < head[0]:
            breaks.append(Break(case_id, None, f"ends at record {last} but the case's head is record {head[0]}: "
                                               "records after it were removed"))
        elif by_seq.get(head[0], {}).get("hash") != head[1]:
            breaks.append(Break(case_id, head[0], "is not the record the case's head names: replaced"))
    return breaks


@dataclass(frozen=True)
class SearchPlan:
    """How a history search is answered from keys: one index per key value, the rest as filters.

    `keys` lists (index, attribute, value) queries whose answers are joined; `filters` the
    (attribute, value) pairs every record must also match; `low`/`high` bound `at`."""

    keys: list[tuple[str, str, str]]
    filters: list[tuple[str, str]]
    low: str
    high: str


def plan_search(filters: dict[str, str], start: date | None = None, end: date | None = None) -> SearchPlan:
    """The most selective filter picks the index; the others narrow its answer. With no filter
    the month index answers the date range. Never a scan."""
    given = {k: v for k, v in filters.items() if v}
    unknown = set(given) - set(INDEX_FOR)
    if unknown:
        raise ValueError(f"cannot search history by {', '.join(sorted(unknown))}")
    low = f"{start.isoformat()}T" if start else "0000"
    high = f"{end.isoformat()}T99" if end else "9999"
    if not given:
        if start is None or end is None:
            raise ValueError("a search needs a filter or a date range (--from and --to)")
        return SearchPlan([("by-month", "month", month) for month in months_between(start, end)], [], low, high)
    first = next(name for name in INDEX_FOR if name in given)
    index, attribute = INDEX_FOR[first]
    rest = [(INDEX_FOR[name][1], value) for name, value in given.items() if name != first]
    return SearchPlan([(index, attribute, given[first])], rest, low, high)


def in_order(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Search results as auditors read them: by time, then case and seq."""
    return sorted(records, key=lambda r: (r["at"], r["case_id"], int(r["seq"])))


def stamp(at: datetime) -> str:
    """A record's `at` as stored: UTC, to the microsecond, sorting as time does."""
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def months_between(start: date, end: date) -> list[str]:
    months, day = [], start.replace(day=1)
    while day <= end:
        months.append(day.strftime("%Y-%m"))
        day = (day + timedelta(days=32)).replace(day=1)
    return months


def public(record: dict[str, Any]) -> dict[str, Any]:
    """A record as auditors get it (`refunds audit case --json`)."""
    out = {name: record.get(name) for name in PUBLIC}
    out["seq"] = int(record["seq"])
    out["tier"] = int(record["tier"]) if record.get("tier") is not None else None
    return out
