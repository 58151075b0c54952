"""The cases in DynamoDB. Table names come from the caller."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from creditrefunds.cases import Case, Line
from creditrefunds.money import money


class CaseNotFound(Exception):
    """The workflow names a case that is not stored."""


def _line_item(line: Line) -> dict[str, Any]:
    return {k: v for k, v in line.to_json().items() if v is not None}


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
        lines=[
            Line(
                action=li["action"], reason=li["reason"], payee_type=li.get("payee_type"),
                payee_id=li.get("payee_id"), amount=money(str(li["amount"])),
                due_date=date.fromisoformat(li["due_date"]) if li.get("due_date") else None,
                target_account_id=li.get("target_account_id"),
            )
            for li in item.get("lines", [])
        ],
    )  # fmt: skip


class CaseStore:
    """Cases by id, with their status beside the detected figures."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def get(self, case_id: str) -> dict[str, Any] | None:
        return self._table.get_item(Key={"case_id": case_id}, ConsistentRead=True).get("Item")

    def require(self, case_id: str) -> dict[str, Any]:
        """The stored case a workflow step names; CaseNotFound (a function error) when it is not there."""
        item = self.get(case_id)
        if item is None:
            raise CaseNotFound(f"case {case_id} is not stored")
        return item

    def of_account(self, account_id: str) -> list[dict[str, Any]]:
        """The account's cases (by-account index)."""
        from boto3.dynamodb.conditions import Key  # here: a CLI that needs no table starts faster

        answer = self._table.query(IndexName="by-account", KeyConditionExpression=Key("account_id").eq(account_id))
        return list(answer["Items"])

    def open_new(self, case: Case, status: str = "OPEN") -> bool:
        """Store a newly detected case; False when the case id is already there."""
        item = self._item(case)
        item["status"] = status
        item["escalation_level"] = 0
        item["overdue"] = False
        try:
            self._table.put_item(Item=item, ConditionExpression="attribute_not_exists(case_id)")
            return True
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise

    def update_figures(self, case: Case) -> None:
        """A re-detected case: new credit, lines, due date and tier; status untouched."""
        item = self._item(case)
        self._table.update_item(
            Key={"case_id": case.case_id},
            UpdateExpression="SET #credit = :c, #lines = :l, #due = :d, #tier = :t",
            ExpressionAttributeNames={"#credit": "credit", "#lines": "lines", "#due": "due_date", "#tier": "tier"},
            ExpressionAttributeValues={":c": item["credit"], ":l": item["lines"], ":d": item["due_date"],
                                       ":t": item["tier"]},
        )  # fmt: skip

    def set_status(self, case_id: str, status: str | None = None, **fields: Any) -> None:
        """Set the status and/or other workflow fields (tier, escalation_level, overdue, approval_id...)."""
        values = dict(fields)
        if status is not None:
            values["status"] = status
        names = {f"#f{i}": name for i, name in enumerate(values)}
        self._table.update_item(
            Key={"case_id": case_id},
            UpdateExpression="SET " + ", ".join(f"{alias} = :v{i}" for i, alias in enumerate(names)),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={f":v{i}": value for i, value in enumerate(values.values())},
        )

    def _item(self, case: Case) -> dict[str, Any]:
        data = case.to_json()
        data["credit"] = Decimal(data["credit"])
        data["lines"] = [_line_item(line) for line in case.lines]
        # The by-status index sorts on due_date; a case with only HOLD lines sorts last.
        data["due_date"] = data["due_date"] or "9999-12-31"
        return data
