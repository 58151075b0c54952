"""The history table: records appended with a conditional put on the next seq, never changed.

Table: key (case_id, seq). Indexes, each sorted by `at`: by-account, by-patient, by-guarantor,
by-payer, by-status (status after the change) and by-month (YYYY-MM of `at`, for date ranges).
"""

from __future__ import annotations

import time
from datetime import date, datetime
from functools import reduce
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from creditrefunds.adapters.case_store import CaseStore
from creditrefunds.adapters.dynamo import is_condition_failure, query_all
from creditrefunds.adapters.transient import Throttled
from creditrefunds.domain.cases import Case
from creditrefunds.domain.history import Entry, in_order, months_between, next_record, plan_search, stamp

APPEND_ATTEMPTS = 8


class HistoryStore:
    """Each case's chain of records; the chain's head is kept on the case item when `cases` is given."""

    def __init__(self, table: Any, cases: CaseStore | None = None) -> None:
        self._table = table
        self._cases = cases

    def append(self, case: Case, entry: Entry, at: datetime) -> dict[str, Any]:
        """Append one record to the case's chain; retried when another writer took the seq."""
        for attempt in range(APPEND_ATTEMPTS):
            record = next_record(case, entry, at, self.last(case.case_id))
            try:
                self._table.put_item(Item=record, ConditionExpression="attribute_not_exists(case_id)")
            except ClientError as error:
                if not is_condition_failure(error):
                    raise
                if not self._landed(record):  # not our own put whose answer was lost and retried
                    time.sleep(0.02 * 2**attempt)
                    continue
            if self._cases is not None:
                self._cases.set_head(case.case_id, record["seq"], record["hash"], record["at"])
            return record
        raise Throttled(f"could not append to the history of {case.case_id}: other writers kept taking the seq")

    def _landed(self, record: dict[str, Any]) -> bool:
        """The record at this seq is this very one (the client retried a put that had landed)."""
        found = self._table.query(KeyConditionExpression=Key("case_id").eq(record["case_id"]) & Key("seq").eq(
            record["seq"]), ConsistentRead=True)["Items"]
        return bool(found) and found[0].get("hash") == record["hash"]

    def append_first(self, case: Case, entry: Entry, at: datetime) -> bool:
        """Write the case's first record; False when it has one already (a repeat, or a writer at once)."""
        record = next_record(case, entry, at, None)
        try:
            self._table.put_item(Item=record, ConditionExpression="attribute_not_exists(case_id)")
        except ClientError as error:
            if not is_condition_failure(error):
                raise
            if not self._landed(record):
                return False
        if self._cases is not None:
            self._cases.set_head(case.case_id, record["seq"], record["hash"], record["at"])
        return True

    def last(self, case_id: str) -> dict[str, Any] | None:
        """The case's latest record: its chain's head."""
        page = self._table.query(KeyConditionExpression=Key("case_id").eq(case_id), ScanIndexForward=False,
                                 Limit=1, ConsistentRead=True)
        return page["Items"][0] if page["Items"] else None

    def records(self, case_id: str) -> list[dict[str, Any]]:
        """A case's records in order."""
        return list(query_all(self._table, KeyConditionExpression=Key("case_id").eq(case_id), ConsistentRead=True))

    def changed(self, after: datetime, until: datetime) -> set[str]:
        """The cases with a record stamped in [after, until]: key queries on the month index (only its keys
        read back), in proportion to the records of that stretch, never to the history's size."""
        low, high = stamp(after), stamp(until)
        found: set[str] = set()
        for month in months_between(after.date(), until.date()):
            found.update(item["case_id"] for item in query_all(
                self._table, IndexName="by-month", ProjectionExpression="case_id",
                KeyConditionExpression=Key("month").eq(month) & Key("at").between(low, high)))
        return found

    def search(self, filters: dict[str, str], start: date | None = None,
               end: date | None = None) -> list[dict[str, Any]]:
        """Records matching every filter (account, patient, guarantor, payer, status) in [start, end]:
        key queries on the index `plan_search` picks, never a scan."""
        plan = plan_search(filters, start, end)
        narrow = [Attr(attribute).eq(value) for attribute, value in plan.filters]
        found: list[dict[str, Any]] = []
        for index, attribute, value in plan.keys:
            keys = Key(attribute).eq(value) & Key("at").between(plan.low, plan.high)
            kwargs: dict[str, Any] = {"IndexName": index, "KeyConditionExpression": keys}
            if narrow:
                kwargs["FilterExpression"] = reduce(lambda a, b: a & b, narrow)
            found += query_all(self._table, **kwargs)
        return in_order(found)
