"""The refunds table: one instruction per case line, written once whatever retries happen.

Each instruction is a conditional put keyed by the case and line; a repeat finds it and adds
nothing. The day's accounts-payable file is rendered from the day's items (index by-day).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from creditrefunds.adapters.dynamo import is_condition_failure, put_if_absent, query_all
from creditrefunds.domain.refunds import Issued


class RefundBook:
    def __init__(self, table: Any) -> None:
        self._table = table

    def issue(self, row: dict[str, str]) -> Issued:
        """Write the instruction unless its id is there; either way, the instruction as stored."""
        if put_if_absent(self._table, row, "instruction_id"):
            return Issued(row["instruction_id"], True, row)
        stored = self._table.get_item(Key={"instruction_id": row["instruction_id"]}, ConsistentRead=True)["Item"]
        return Issued(row["instruction_id"], False, {k: str(v) for k, v in stored.items()})

    def get(self, instruction_id: str) -> dict[str, str] | None:
        """One instruction, read consistently (the indexes may lag a write of a moment ago)."""
        item = self._table.get_item(Key={"instruction_id": instruction_id}, ConsistentRead=True).get("Item")
        return {k: str(v) for k, v in item.items()} if item else None

    def mark_returned(self, instruction_id: str, txn_id: str, posted_on: str) -> bool:
        """Keep the ledger row that posted the instruction back; False when one was kept before."""
        try:
            self._table.update_item(
                Key={"instruction_id": instruction_id}, UpdateExpression="SET returned_by = :t, returned_on = :d",
                ConditionExpression="attribute_exists(instruction_id) AND attribute_not_exists(returned_by)",
                ExpressionAttributeValues={":t": txn_id, ":d": posted_on})
            return True
        except ClientError as error:
            if is_condition_failure(error):
                return False
            raise

    def of_day(self, day: date) -> list[dict[str, str]]:
        """The day's instructions (the by-day index is eventually consistent)."""
        items = query_all(self._table, IndexName="by-day", KeyConditionExpression=Key("issued_on").eq(day.isoformat()))
        return [{k: str(v) for k, v in item.items()} for item in items]

    def of_account(self, account_id: str) -> list[dict[str, str]]:
        """Every instruction issued on the account, by any of its cases (index by-account)."""
        items = query_all(self._table, IndexName="by-account",
                          KeyConditionExpression=Key("account_id").eq(account_id))
        return [{k: str(v) for k, v in item.items()} for item in items]

    def of_case(self, case_id: str) -> list[dict[str, str]]:
        """The case's instructions (index by-case)."""
        items = query_all(self._table, IndexName="by-case", KeyConditionExpression=Key("case_id").eq(case_id))
        return [{k: str(v) for k, v in item.items()} for item in items]
