"""The refunds table: one instruction per case line, written once whatever retries happen.

Each instruction is a conditional put keyed by the case and line; a repeat finds it and adds
nothing. The day's accounts-payable file is rendered from the day's items (index by-day).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from creditrefunds.adapters.dynamo import is_condition_failure, put_if_absent, query_all
from creditrefunds.domain.authentic import Tampered
from creditrefunds.domain.instructions import Instruction, Issued

logger = logging.getLogger(__name__)


def parsed(item: dict[str, Any]) -> Instruction:
    """The instruction an item holds; `Tampered` for an item no issue step wrote (it cannot be read)."""
    try:
        return Instruction.from_item(item)
    except (KeyError, ValueError, TypeError, ArithmeticError) as error:
        raise Tampered(f"refund book item {item.get('instruction_id')!r} is not an instruction the issue step "
                       f"wrote ({type(error).__name__})") from None


def readable(items: Iterable[dict[str, Any]]) -> list[Instruction]:
    """The instructions of `items`; one that cannot be read is left out and logged by id (the checked book
    leaves out what fails its MAC the same way)."""
    found = []
    for item in items:
        try:
            found.append(parsed(item))
        except Tampered:
            logger.warning("an unreadable refund book item is left out", extra={"key": str(item.get("instruction_id"))})
    return found


class RefundBook:
    def __init__(self, table: Any) -> None:
        self._table = table

    def issue(self, instruction: Instruction) -> Issued:
        """Write the instruction unless its id is there; either way, the instruction as stored."""
        if put_if_absent(self._table, instruction.to_item(), "instruction_id"):
            return Issued(instruction, True)
        stored = self.get(instruction.instruction_id)
        assert stored is not None  # a put refused for its key: the item is there
        return Issued(stored, False)

    def get(self, instruction_id: str) -> Instruction | None:
        """One instruction, read consistently (the indexes may lag a write of a moment ago)."""
        item = self._table.get_item(Key={"instruction_id": instruction_id}, ConsistentRead=True).get("Item")
        return parsed(item) if item else None

    def mark_returned(self, instruction_id: str, txn_id: str, posted_on: date, mac: str, over: str | None) -> bool:
        """Keep the ledger row that posted the instruction back, with the match's MAC, where no match is kept
        (or, `over`, where the one kept is that one: a match with no valid MAC); False when another was."""
        condition = "attribute_exists(instruction_id) AND " + (
            "returned_by = :over" if over else "attribute_not_exists(returned_by)")
        values = {":t": txn_id, ":d": posted_on.isoformat(), ":m": mac, **({":over": over} if over else {})}
        try:
            self._table.update_item(
                Key={"instruction_id": instruction_id},
                UpdateExpression="SET returned_by = :t, returned_on = :d, return_mac = :m",
                ConditionExpression=condition, ExpressionAttributeValues=values)
            return True
        except ClientError as error:
            if is_condition_failure(error):
                return False
            raise

    def every(self) -> list[Instruction]:
        """Every instruction in the book (a scan: for the audit, never for a step)."""
        answer = self._table.scan(ConsistentRead=True)
        items = list(answer["Items"])
        while "LastEvaluatedKey" in answer:
            answer = self._table.scan(ConsistentRead=True, ExclusiveStartKey=answer["LastEvaluatedKey"])
            items += answer["Items"]
        return readable(items)

    def of_account(self, account_id: str) -> list[Instruction]:
        """Every instruction issued on the account, by any of its cases (index by-account)."""
        return self._query("by-account", "account_id", account_id)

    def of_case(self, case_id: str) -> list[Instruction]:
        """The case's instructions (index by-case)."""
        return self._query("by-case", "case_id", case_id)

    def _query(self, index: str, attribute: str, value: str) -> list[Instruction]:
        return readable(query_all(self._table, IndexName=index, KeyConditionExpression=Key(attribute).eq(value)))
