"""The cases table: each case's detected figures beside where its workflow stands."""

from __future__ import annotations

import zlib
from datetime import date, datetime
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from creditrefunds.adapters.dynamo import get_all, is_condition_failure, put_if_absent, query_all
from creditrefunds.domain.cases import Case, Line, StoredCase
from creditrefunds.domain.escalation import NEWS
from creditrefunds.domain.history import stamp
from creditrefunds.domain.money import ZERO, money
from creditrefunds.domain.status import Status

CHECK_SHARDS = 16  # the to-check and to-seal indexes' partitions: a burst of history writes spreads over them
NO_DUE_DATE = "9999-12-31"  # the by-status index sorts on due_date; a case with only HOLD lines sorts last
HOLD = "account#"  # the key prefix of an account's hold: the one case open on it (in no index)


def check_shard(case_id: str) -> str:
    """The to-check index partition a case is kept in."""
    return f"{zlib.crc32(case_id.encode()) % CHECK_SHARDS:02d}"


class CaseNotFound(Exception):
    """The workflow names a case that is not stored."""


def case_from_item(item: dict[str, Any]) -> Case:
    """A stored case back as the domain object."""
    return Case(
        case_id=item["case_id"],
        account_id=item["account_id"],
        patient_id=item["patient_id"],
        guarantor_id=item["guarantor_id"],
        credit=money(item["credit"]),
        identified_on=date.fromisoformat(item["identified_on"]),
        tier=int(item["tier"]),
        lines=[Line.from_json(li) for li in item.get("lines", [])],
    )


def stored_from_item(item: dict[str, Any], strict: bool = True) -> StoredCase:
    """A case item as the domain sees it. `strict=False` reads what it can of a damaged item
    (its figures unreadable): a failure must still reach the history when the stored case is
    what is broken."""
    try:
        case = case_from_item(item)
    except (KeyError, ValueError, TypeError, ArithmeticError):
        if strict:
            raise
        case = Case(item["case_id"], str(item.get("account_id", "")), str(item.get("patient_id", "")),
                    str(item.get("guarantor_id", "")), ZERO, date.min)
    return StoredCase(
        case, Status(item["status"]), int(item.get("escalation_level", 0)), bool(item.get("overdue", False)),
        frozenset(flag for flag in NEWS if item.get(flag)), item.get("approval_key"), int(item.get("paused_days", 0)),
        (int(item["history_seq"]), item["history_hash"]) if "history_seq" in item else None, int(item.get("runs", 0)))


def to_check(case_id: str, at: str) -> dict[str, str]:
    """The attributes that put a case in the sparse to-check index, as of `at` (a record's stamp)."""
    return {"check_shard": check_shard(case_id), "check_at": at}


def _figures(case: Case) -> dict[str, Any]:
    """What the table keeps of a case's figures: its wire form (every amount two-place text, as its lines')."""
    data = case.to_json()
    data["lines"] = [{k: v for k, v in line.to_json().items() if v is not None} for line in case.lines]
    data["due_date"] = data["due_date"] or NO_DUE_DATE
    return data


class CaseStore:
    """Cases by id; by account and by status through the table's indexes."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def item(self, case_id: str) -> dict[str, Any] | None:
        """The case's item as stored (listings show fields the domain does not model)."""
        return self._table.get_item(Key={"case_id": case_id}, ConsistentRead=True).get("Item")

    def get(self, case_id: str, strict: bool = True) -> StoredCase | None:
        item = self.item(case_id)
        return stored_from_item(item, strict) if item is not None else None

    def require(self, case_id: str) -> StoredCase:
        """The stored case a workflow step names; CaseNotFound (a function error) when it is not there."""
        stored = self.get(case_id)
        if stored is None:
            raise CaseNotFound(f"case {case_id} is not stored")
        return stored

    def of_account(self, account_id: str) -> list[StoredCase]:
        """The account's cases (by-account index); a damaged one as far as it can be read, so that it
        cannot keep the account's other cases from reconciling."""
        items = query_all(self._table, IndexName="by-account", KeyConditionExpression=Key("account_id").eq(account_id))
        return [stored_from_item(item, strict=False) for item in items]

    def holder(self, account_id: str) -> str | None:
        """The case that holds the account (the one case open on it, or the last one that was)."""
        item = self._table.get_item(Key={"case_id": HOLD + account_id}, ConsistentRead=True).get("Item")
        return item.get("open_case_id") if item else None

    def holders(self, accounts: list[str]) -> dict[str, str | None]:
        """`holder` of many accounts, 100 to a request."""
        items = get_all(self._table, [{"case_id": HOLD + account} for account in accounts])
        held = {item["case_id"].removeprefix(HOLD): item.get("open_case_id") for item in items}
        return {account: held.get(account) for account in accounts}

    def claim(self, account_id: str, case_id: str, after: str | None) -> bool:
        """Make `case_id` the account's one open case: only while no case holds the account, or it holds
        it already, or `after` does (a case found closed, or named but never stored). False when another
        case holds the account: the database keeps one case open per account, whoever detects at once."""
        condition = "attribute_not_exists(open_case_id) OR open_case_id = :me"
        values = {":me": case_id}
        if after is not None:
            condition += " OR open_case_id = :after"
            values[":after"] = after
        try:
            self._table.update_item(Key={"case_id": HOLD + account_id}, UpdateExpression="SET open_case_id = :me",
                                    ConditionExpression=condition, ExpressionAttributeValues=values)
            return True
        except ClientError as error:
            if is_condition_failure(error):
                return False
            raise

    def items_in(self, statuses: tuple[str, ...]) -> list[dict[str, Any]]:
        """Every case item in `statuses`, by the by-status index one status at a time (never a scan)."""
        items = [item for status in statuses for item in
                 query_all(self._table, IndexName="by-status", KeyConditionExpression=Key("status").eq(status))]
        return sorted(items, key=lambda item: item["case_id"])

    def in_status(self, statuses: tuple[str, ...]) -> list[StoredCase]:
        """Every case in `statuses`, as far as each can be read."""
        return [stored_from_item(item, strict=False) for item in self.items_in(statuses)]

    def ids(self) -> list[str]:
        """Every case's id (by-status index, one status at a time; only the ids read back)."""
        return sorted(item["case_id"] for status in Status for item in query_all(
            self._table, IndexName="by-status", KeyConditionExpression=Key("status").eq(status),
            ProjectionExpression="case_id"))

    def open_new(self, case: Case, status: Status = Status.OPEN, at: datetime | None = None) -> bool:
        """Store a newly detected case; False when the case id is already there."""
        item = {**_figures(case), "status": status, "escalation_level": 0, "overdue": False,
                **({"opened_at": at.isoformat(), **to_check(case.case_id, stamp(at))} if at else {})}
        return put_if_absent(self._table, item, "case_id")

    def update_figures(self, case: Case, expected: Status | None = None) -> bool:
        """A re-detected case: new credit, lines, due date and tier; status untouched. With `expected`,
        only while the case is still in that status (False when it moved on meanwhile)."""
        item = _figures(case)
        figures = {name: item[name] for name in ("credit", "lines", "due_date", "tier")}
        if expected is None:
            return self._set(case.case_id, figures)
        return self._set(case.case_id, figures, "#status = :expected", {":expected": expected})

    def set_status(self, case_id: str, status: Status | None = None, **fields: Any) -> None:
        """Set the status and/or other workflow fields (tier, escalation_level, overdue, approval_id...)."""
        self._set(case_id, {**fields, **({"status": status} if status is not None else {})})

    def transition(self, case_id: str, expected: Status, status: Status, **fields: Any) -> bool:
        """Move the case from `expected` to `status`; False when it is no longer in `expected`."""
        return self._set(case_id, {"status": status, **fields}, "#status = :expected", {":expected": expected})

    def decide(self, case_id: str, approval_key: str, status: Status, **fields: Any) -> bool:
        """Record a decision: the status (and fields) set only while the case waits for exactly that link;
        False when the case has moved on (escalated, changed, decided)."""
        return self._set(case_id, {"status": status, **fields}, "approval_key = :key AND #status = :waiting",
                         {":key": approval_key, ":waiting": Status.AWAITING_APPROVAL})

    def _set(self, case_id: str, values: dict[str, Any], condition: str | None = None,
             condition_values: dict[str, Any] | None = None) -> bool:
        """SET `values` on the case, under `condition` when given: False when the condition does not hold, unless
        the case already holds those values (this write landed before)."""
        names = {f"#f{i}": name for i, name in enumerate(values)}
        request: dict[str, Any] = {
            "Key": {"case_id": case_id},
            "UpdateExpression": "SET " + ", ".join(f"{alias} = :v{i}" for i, alias in enumerate(names)),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": {f":v{i}": value for i, value in enumerate(values.values())},
        }
        if condition is not None:
            request["ConditionExpression"] = condition
            request["ExpressionAttributeNames"]["#status"] = "status"
            request["ExpressionAttributeValues"].update(condition_values or {})
        try:
            self._table.update_item(**request)
            return True
        except ClientError as error:
            if condition is not None and is_condition_failure(error):  # a move (a status) may be its own landed
                return "status" in values and self._landed(case_id, values)
            raise

    def _landed(self, case_id: str, values: dict[str, Any]) -> bool:
        """The case already holds every value the refused move meant to set: this very move landed and its answer
        was lost (the client sent it again). Another actor's move sets other values. (A write that moves no
        status is sent again under a condition that still holds.)"""
        item = self._table.get_item(Key={"case_id": case_id}, ConsistentRead=True).get("Item")
        return item is not None and all(item.get(name) == value for name, value in values.items())

    def mark_sealed(self, case_id: str, seal_key: str, seq: int) -> None:
        """Name on the case the seal that signed its head at `seq` (where the next seal finds what it extends),
        and take the case out of the to-seal index unless its history has moved on since."""
        try:
            self._table.update_item(Key={"case_id": case_id}, ConditionExpression="history_seq = :seq",
                                    UpdateExpression="SET sealed_in = :key REMOVE seal_shard",
                                    ExpressionAttributeValues={":key": seal_key, ":seq": seq})
            return
        except ClientError as error:
            if not is_condition_failure(error):
                raise
        try:  # moved on (it stays to be sealed), or gone
            self._table.update_item(Key={"case_id": case_id}, UpdateExpression="SET sealed_in = :key",
                                    ConditionExpression="attribute_exists(case_id)",
                                    ExpressionAttributeValues={":key": seal_key})
        except ClientError as error:
            if not is_condition_failure(error):
                raise

    def to_seal(self) -> set[str]:
        """The cases whose history moved since a seal last signed them: a key query per shard of the sparse
        to-seal index."""
        return {item["case_id"] for shard in range(CHECK_SHARDS) for item in query_all(
            self._table, IndexName="to-seal", KeyConditionExpression=Key("seal_shard").eq(f"{shard:02d}"))}

    def set_head(self, case_id: str, seq: int, record_hash: str, at: str) -> None:
        """Keep the head of the case's history chain on the case (a removed last record is then caught); put
        the case in the to-seal index, and in the to-check index as of the record's moment (the sweep looks at
        it once the grace after its last move has passed)."""
        self.set_status(case_id, None, history_seq=seq, history_hash=record_hash, **to_check(case_id, at),
                        seal_shard=check_shard(case_id))

    def due(self, until: datetime) -> list[tuple[str, str]]:
        """(case id, check_at) of every case to look at by `until`: a key query per shard of the sparse to-check
        index, in proportion to the cases that moved or wait, never to every case ever."""
        return [(item["case_id"], item["check_at"]) for shard in range(CHECK_SHARDS) for item in query_all(
            self._table, IndexName="to-check", KeyConditionExpression=Key("check_shard").eq(f"{shard:02d}") &
            Key("check_at").lte(stamp(until)))]

    def checked(self, case_id: str, seen: str | None, again: datetime | None) -> None:
        """The sweep has looked at the case as it was at `seen`: look again at `again`, or never, until its
        history moves (a move since keeps its own, later, time). `seen` None: a case the index did not hold
        (the whole sweep's), put in it for `again` unless a move has put it there since."""
        if seen is None and again is None:
            return
        if again is None:
            update, values = "REMOVE check_shard, check_at", {":seen": seen}
        else:
            update, values = "SET check_at = :again, check_shard = :shard", {
                ":again": stamp(again), ":shard": check_shard(case_id), **({":seen": seen} if seen else {})}
        unheld = "attribute_exists(case_id) AND (attribute_not_exists(check_at) OR attribute_not_exists(check_shard))"
        condition = "check_at = :seen" if seen is not None else unheld
        try:
            self._table.update_item(Key={"case_id": case_id}, UpdateExpression=update,
                                    ConditionExpression=condition, ExpressionAttributeValues=values)
        except ClientError as error:
            if not is_condition_failure(error):
                raise

