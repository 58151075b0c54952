"""The case history (DOMAIN.md section 7): append-only, hash-chained, queried by keys and indexes.

Every change of a case appends one record. Each record carries a SHA-256 over its content
and the previous record's hash for the same case; the case item keeps the chain's head (its
last seq and hash), so a removed last record is caught too. Records are written with a
conditional put on a new seq and never updated or deleted.

Table: key (case_id, seq). Indexes, each sorted by `at`: by-account, by-patient, by-guarantor,
by-payer, by-status (status after the change) and by-month (YYYY-MM of `at`, for date ranges).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from creditrefunds.cases import Case
from creditrefunds.money import money_text

GENESIS = "0" * 64
HASHED = (
    "case_id", "seq", "at", "actor", "action", "status_before", "status_after", "reason", "amount",
    "account_id", "patient_id", "guarantor_id", "payer_id", "prev_hash",
)  # fmt: skip
PUBLIC = ("seq", "at", "actor", "action", "status_before", "status_after", "reason", "amount", "hash", "prev_hash")
INDEX_FOR = {  # search filter -> (index, attribute), most selective first
    "account": ("by-account", "account_id"),
    "patient": ("by-patient", "patient_id"),
    "guarantor": ("by-guarantor", "guarantor_id"),
    "payer": ("by-payer", "payer_id"),
    "status": ("by-status", "status_after"),
}


@dataclass(frozen=True)
class Entry:
    """What happened to a case, as a step tells it."""

    actor: str
    action: str
    status_before: str | None
    status_after: str | None
    reason: str | None = None
    amount: Decimal | None = None


def main_payer(case: Case) -> str | None:
    """The insurer a case is indexed under: the one with the most money in its lines."""
    totals: dict[str, Decimal] = {}
    for line in case.lines:
        if line.payee_type not in (None, "PATIENT") and line.payee_id:
            totals[line.payee_id] = totals.get(line.payee_id, Decimal(0)) + line.amount
    return max(sorted(totals), key=lambda payer: totals[payer]) if totals else None


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


class History:
    """The history table, and the chain head kept on each case item."""

    def __init__(self, table: Any, cases_table: Any | None = None) -> None:
        self._table = table
        self._cases = cases_table

    def append(self, case: Case, entry: Entry, at: datetime) -> dict[str, Any]:
        """Append one record to the case's chain; retried when another writer took the seq."""
        for attempt in range(8):
            last = self._last(case.case_id)
            record = {
                "case_id": case.case_id,
                "seq": int(last["seq"]) + 1 if last else 1,
                "at": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
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
                "prev_hash": last["hash"] if last else GENESIS,
            }
            record = {k: (None if v == "" else v) for k, v in record.items()}  # stored as absent, read as None
            record["hash"] = record_hash(record)
            record["month"] = record["at"][:7]
            item = {k: v for k, v in record.items() if v is not None}  # index keys cannot be empty
            try:
                self._table.put_item(Item=item, ConditionExpression="attribute_not_exists(case_id)")
            except ClientError as error:
                if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
                time.sleep(0.02 * 2**attempt)
                continue
            if self._cases is not None:
                self._cases.update_item(
                    Key={"case_id": case.case_id},
                    UpdateExpression="SET history_seq = :s, history_hash = :h",
                    ExpressionAttributeValues={":s": record["seq"], ":h": record["hash"]},
                )
            return record
        raise RuntimeError(f"could not append to the history of {case.case_id}: other writers kept taking the seq")

    def _last(self, case_id: str) -> dict[str, Any] | None:
        from boto3.dynamodb.conditions import Key  # here: a CLI that needs no table starts faster

        page = self._table.query(KeyConditionExpression=Key("case_id").eq(case_id), ScanIndexForward=False,
                                 Limit=1, ConsistentRead=True)
        return page["Items"][0] if page["Items"] else None

    def records(self, case_id: str) -> list[dict[str, Any]]:
        """A case's records in order."""
        from boto3.dynamodb.conditions import Key

        return list(self._pages(KeyConditionExpression=Key("case_id").eq(case_id), ConsistentRead=True))

    def search(
        self,
        filters: dict[str, str],
        start: date | None = None,
        end: date | None = None,
    ) -> list[dict[str, Any]]:
        """Records matching every filter (account, patient, guarantor, payer, status) in [start, end].

        The most selective filter picks the index; the others narrow its answer. With no filter
        the month index answers the date range. Never a scan.
        """
        from boto3.dynamodb.conditions import Attr, Key

        given = {k: v for k, v in filters.items() if v}
        unknown = set(given) - set(INDEX_FOR)
        if unknown:
            raise ValueError(f"cannot search history by {', '.join(sorted(unknown))}")
        low = f"{start.isoformat()}T" if start else "0000"
        high = f"{end.isoformat()}T99" if end else "9999"
        if not given:
            if start is None or end is None:
                raise ValueError("a search needs a filter or a date range (--from and --to)")
            found = []
            for month in _months(start, end):
                found += self._pages(IndexName="by-month",
                                     KeyConditionExpression=Key("month").eq(month) & Key("at").between(low, high))
            return sorted(found, key=lambda r: (r["at"], r["case_id"], int(r["seq"])))
        first = next(name for name in INDEX_FOR if name in given)
        index, attribute = INDEX_FOR[first]
        kwargs: dict[str, Any] = {
            "IndexName": index,
            "KeyConditionExpression": Key(attribute).eq(given[first]) & Key("at").between(low, high),
        }
        rest = [Attr(INDEX_FOR[name][1]).eq(value) for name, value in given.items() if name != first]
        if rest:
            condition = rest[0]
            for more in rest[1:]:
                condition = condition & more
            kwargs["FilterExpression"] = condition
        return sorted(self._pages(**kwargs), key=lambda r: (r["at"], r["case_id"], int(r["seq"])))

    def _pages(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        while True:
            page = self._table.query(**kwargs)
            yield from page["Items"]
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _months(start: date, end: date) -> list[str]:
    months, day = [], start.replace(day=1)
    while day <= end:
        months.append(day.strftime("%Y-%m"))
        day = (day + timedelta(days=32)).replace(day=1)
    return months


def public(record: dict[str, Any]) -> dict[str, Any]:
    """A record as auditors get it (`refunds audit case --json`)."""
    out = {name: record.get(name) for name in PUBLIC}
    out["seq"] = int(out["seq"])
    return out
