"""DynamoDB adapters: the stored ledger and the cases. Table names come from the caller."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from creditrefunds.cases import Case, Line
from creditrefunds.detection import AccountSummary, DebitPool
from creditrefunds.ledger import Transaction, parse_row


def content_hash(txn: Transaction) -> str:
    return hashlib.sha256(json.dumps(txn.to_record(), sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class StoreOutcome:
    """What storing one transaction did: 'new', 'same' (a no-op) or 'conflict'."""

    result: str
    stored_account: str | None = None


class TransactionStore:
    """Transactions by id (globally unique) and by account.

    Items: TXN#<txn_id>/TXN marks an id as taken (with the content hash); ACCT#<account>/TXN#<id>
    holds the row for detection; GUAR#<guarantor>/ACCT#<account> lists a guarantor's accounts.
    """

    def __init__(self, table: Any) -> None:
        self._table = table

    def put(self, txn: Transaction) -> StoreOutcome:
        """Store one transaction once. The id marker is written conditionally first; the
        account rows are idempotent puts written after it, and written again on a repeat, so a
        write cut short between the two is healed by the next delivery of the same file."""
        digest = content_hash(txn)
        try:
            self._table.put_item(
                Item={"pk": f"TXN#{txn.txn_id}", "sk": "TXN", "hash": digest, "account_id": txn.account_id},
                ConditionExpression="attribute_not_exists(pk)",
            )
            result = "new"
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            stored = self._table.get_item(Key={"pk": f"TXN#{txn.txn_id}", "sk": "TXN"}, ConsistentRead=True)["Item"]
            if stored["hash"] != digest:
                return StoreOutcome("conflict", stored["account_id"])
            result = "same"
        with self._table.batch_writer() as batch:
            batch.put_item(Item={"pk": f"ACCT#{txn.account_id}", "sk": f"TXN#{txn.txn_id}", **txn.to_record()})
            batch.put_item(Item={"pk": f"GUAR#{txn.guarantor_id}", "sk": f"ACCT#{txn.account_id}"})
        return StoreOutcome(result)

    def account_transactions(self, account_id: str) -> list[Transaction]:
        return [parse_row({k: str(v) for k, v in item.items() if k not in ("pk", "sk")})
                for item in self._query(f"ACCT#{account_id}")]

    def guarantor_accounts(self, guarantor_id: str) -> list[str]:
        return [item["sk"].removeprefix("ACCT#") for item in self._query(f"GUAR#{guarantor_id}")]

    def summary(self, account_id: str) -> tuple[AccountSummary, list[Transaction]]:
        txns = self.account_transactions(account_id)
        summary = AccountSummary(account_id)
        for t in txns:
            summary.add(t)
        return summary, txns

    def _query(self, pk: str) -> Iterator[dict[str, Any]]:
        kwargs: dict[str, Any] = {"KeyConditionExpression": Key("pk").eq(pk), "ConsistentRead": True}
        while True:
            page = self._table.query(**kwargs)
            yield from page["Items"]
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def guarantor_debits(
    summary: AccountSummary, store: TransactionStore, known: dict[str, AccountSummary] | None = None
) -> DebitPool:
    """The guarantor's other accounts that owe money, from the stored ledger, for offsets."""
    known = known or {}
    others = [
        known[account_id] if account_id in known else store.summary(account_id)[0]
        for account_id in store.guarantor_accounts(summary.guarantor_id)
        if account_id != summary.account_id
    ]
    return DebitPool.from_summaries(others).get(summary.guarantor_id, DebitPool())


def _line_item(line: Line) -> dict[str, Any]:
    return {k: v for k, v in line.to_json().items() if v is not None}


def case_from_item(item: dict[str, Any]) -> Case:
    """A stored case back as the domain object."""
    return Case(
        case_id=item["case_id"],
        account_id=item["account_id"],
        patient_id=item["patient_id"],
        guarantor_id=item["guarantor_id"],
        credit=Decimal(str(item["credit"])),
        identified_on=date.fromisoformat(item["identified_on"]),
        tier=int(item["tier"]),
        lines=[
            Line(
                action=li["action"], reason=li["reason"], payee_type=li.get("payee_type"),
                payee_id=li.get("payee_id"), amount=Decimal(str(li["amount"])),
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

    def set_status(self, case_id: str, status: str) -> None:
        self._table.update_item(
            Key={"case_id": case_id},
            UpdateExpression="SET #s = :s",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":s": status},
        )

    def _item(self, case: Case) -> dict[str, Any]:
        data = case.to_json()
        data["credit"] = Decimal(data["credit"])
        data["lines"] = [_line_item(line) for line in case.lines]
        # The by-status index sorts on due_date; a case with only HOLD lines sorts last.
        data["due_date"] = data["due_date"] or "9999-12-31"
        return data
