"""The trends table: monthly counters (domain/rollups.py), each case's moments counted once.

Table: key (`key`, `month`). A counter is (`all` or `<dimension>#<value>`, YYYY-MM). A case's moment is marked
at (`case#<case_id>`, `identified` or `closed`) in the same transaction as its increments, so that a moment
read twice (a run retried, two runs overlapping in time) is counted once. `keys` (at (`keys`, `-`)) lists the
counters' keys, so that the report reads them with one query each and no scan; `cursor` says how far the
history has been counted.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from creditrefunds.adapters.dynamo import query_all
from creditrefunds.domain.rollups import Increments, Progress

EXAMPLES = 5  # case ids kept per counter as examples of what it counted


class RollupStore:
    def __init__(self, table: Any) -> None:
        self._table = table
        self._client = table.meta.client

    def markers(self, case_id: str) -> dict[str, dict[str, Any]]:
        items = self._table.query(KeyConditionExpression=Key("key").eq(f"case#{case_id}"),
                                  ConsistentRead=True)["Items"]
        return {item["month"]: item.get("counted", {}) for item in items}

    def apply(self, case_id: str, moment: str, counted: dict[str, Any], increments: Increments) -> bool:
        keys = sorted({key for key, _ in increments})
        writes: list[dict[str, Any]] = [
            {"Put": {"TableName": self._table.name, "Item": {"key": f"case#{case_id}", "month": moment,
                                                              "counted": counted},
                     "ConditionExpression": "attribute_not_exists(#k)", "ExpressionAttributeNames": {"#k": "key"}}},
            {"Update": {"TableName": self._table.name, "Key": {"key": "keys", "month": "-"},
                        "UpdateExpression": "ADD #keys :keys", "ExpressionAttributeNames": {"#keys": "keys"},
                        "ExpressionAttributeValues": {":keys": set(keys)}}},
        ]
        for (key, month), counters in sorted(increments.items()):
            names = {f"#a{n}": name for n, name in enumerate(sorted(counters))}
            writes.append({"Update": {
                "TableName": self._table.name, "Key": {"key": key, "month": month},
                "UpdateExpression": "ADD " + ", ".join(f"{alias} :v{alias[2:]}" for alias in names),
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": {f":v{alias[2:]}": _number(counters[name])
                                              for alias, name in names.items()}}})
        try:
            self._client.transact_write_items(TransactItems=writes)  # (the table's client serializes as the table)
        except ClientError as error:
            reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
            if error.response["Error"]["Code"] == "TransactionCanceledException" and reasons[:1] == [
                    "ConditionalCheckFailed"]:
                return False  # counted already
            raise
        if moment == "identified":
            self._keep_example(case_id, [(key, month) for (key, month), c in increments.items()
                                         if "identified_count" in c])
        return True

    def _keep_example(self, case_id: str, counters: list[tuple[str, str]]) -> None:
        for key, month in counters:  # best effort: a counter keeps its first few cases, no more
            try:
                self._table.update_item(
                    Key={"key": key, "month": month},
                    UpdateExpression="SET examples = list_append(if_not_exists(examples, :none), :case)",
                    ConditionExpression="attribute_not_exists(examples) OR size(examples) < :most",
                    ExpressionAttributeValues={":none": [], ":case": [case_id], ":most": EXAMPLES})
            except ClientError as error:
                if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise

    def counters(self, last_month: str) -> dict[str, dict[str, dict[str, Any]]]:
        listed = self._table.get_item(Key={"key": "keys", "month": "-"}, ConsistentRead=True).get("Item", {})
        found: dict[str, dict[str, dict[str, Any]]] = {}
        for key in sorted(listed.get("keys", set())):
            items = query_all(self._table, KeyConditionExpression=Key("key").eq(key) & Key("month").lte(last_month))
            found[key] = {item["month"]: item for item in items}
        return found

    def cursor(self) -> Progress:
        item = self._table.get_item(Key={"key": "cursor", "month": "-"}, ConsistentRead=True).get("Item") or {}
        at, until = (datetime.fromisoformat(item[name]) if item.get(name) else None for name in ("at", "until"))
        return Progress(at, until, item.get("after"))

    def move_cursor(self, to: Progress) -> None:
        self._table.put_item(Item={"key": "cursor", "month": "-", "at": to.at.isoformat() if to.at else None,
                                   "until": to.until.isoformat() if to.until else None, "after": to.after})


def _number(value: Any) -> Decimal | int:
    return value if isinstance(value, int) else Decimal(str(value))

