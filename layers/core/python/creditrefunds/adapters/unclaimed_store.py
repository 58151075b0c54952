"""The unclaimed-property table (DOMAIN.md section 9): one item per refund instruction whose check the
register told of: its case, where it stood when last looked at, and a corrected address (asked by one person,
confirmed by another). The facts themselves are history records; this table says which refunds to look at."""

from __future__ import annotations

from datetime import date
from typing import Any

from botocore.exceptions import ClientError

from creditrefunds.adapters.dynamo import is_condition_failure


class UnclaimedStore:
    def __init__(self, table: Any) -> None:
        self._table = table

    def track(self, instruction_id: str, case_id: str) -> None:
        try:
            self._table.put_item(Item={"instruction_id": instruction_id, "case_id": case_id},
                                 ConditionExpression="attribute_not_exists(instruction_id)")
        except ClientError as error:
            if not is_condition_failure(error):
                raise

    def tracked(self) -> list[str]:
        """Every tracked instruction (a scan of ids: the refunds whose checks went astray are few)."""
        found: list[str] = []
        kwargs: dict[str, Any] = {"ProjectionExpression": "instruction_id", "ConsistentRead": True}
        while True:
            answer = self._table.scan(**kwargs)
            found += [str(item["instruction_id"]) for item in answer["Items"]]
            if "LastEvaluatedKey" not in answer:
                return sorted(found)
            kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def note(self, instruction_id: str, stage: str, next_date: date | None) -> None:
        self._table.update_item(Key={"instruction_id": instruction_id},
                                UpdateExpression="SET stage = :s, next_date = :d",
                                ConditionExpression="attribute_exists(instruction_id)",
                                ExpressionAttributeValues={":s": stage, ":d": next_date.isoformat() if next_date
                                                           else "-"})

    def _item(self, instruction_id: str) -> dict[str, Any]:
        return self._table.get_item(Key={"instruction_id": instruction_id}, ConsistentRead=True).get("Item") or {}

    def address(self, instruction_id: str) -> dict[str, str]:
        return {k: str(v) for k, v in (self._item(instruction_id).get("address") or {}).items()}

    def ask_address(self, instruction_id: str, address: dict[str, str], by: str) -> None:
        self._table.update_item(Key={"instruction_id": instruction_id},
                                UpdateExpression="SET asked = :a, asked_by = :b",
                                ConditionExpression="attribute_exists(instruction_id)",
                                ExpressionAttributeValues={":a": address, ":b": by})

    def asked(self, instruction_id: str) -> tuple[dict[str, str], str] | None:
        item = self._item(instruction_id)
        if not item.get("asked"):
            return None
        return {k: str(v) for k, v in item["asked"].items()}, str(item["asked_by"])

    def confirm_address(self, instruction_id: str, address: dict[str, str]) -> bool:
        """The asked address becomes the address, only while it is the one confirmed (False: it changed)."""
        try:
            self._table.update_item(Key={"instruction_id": instruction_id},
                                    UpdateExpression="SET address = :a REMOVE asked, asked_by",
                                    ConditionExpression="asked = :a", ExpressionAttributeValues={":a": address})
            return True
        except ClientError as error:
            if is_condition_failure(error):
                return False
            raise
