"""What leaves the system: mail (SES), events (EventBridge), work items and refund instructions (S3).

Refund instructions are issued exactly once per line: each is a conditional put keyed by the
case and line, whatever retries or duplicate deliveries happen. The day's accounts-payable
file `outbound/refunds/<date>.csv` is rendered from those items and re-rendered until it holds
every instruction of the day, so concurrent issuers converge on one complete file.
"""

from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import dataclass
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from creditrefunds.cases import Case, Line
from creditrefunds.ledger import Transaction
from creditrefunds.money import money_text

REFUND_COLUMNS = ("instruction_id", "issued_on", "case_id", "account_id", "payee_type", "payee_id", "amount",
                  "method", "reason", "claim_id", "target_account_id", "due_date")


def send_mail(ses: Any, sender: str, to: list[str], subject: str, text: str, html_body: str, now: datetime) -> str:
    """One message, plain text and HTML, through SES; returns its Message-ID header."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1])
    message.set_content(text)
    message.add_alternative(html_body, subtype="html")
    ses.send_raw_email(Source=sender, Destinations=to, RawMessage={"Data": message.as_bytes()})
    return str(message["Message-ID"])


def publish(events: Any, source: str, detail_type: str, detail: dict[str, Any]) -> None:
    """An event on the default bus, for whoever subscribes (accounts payable, dashboards)."""
    answer = events.put_events(Entries=[{"Source": source, "DetailType": detail_type,
                                         "Detail": json.dumps(detail), "EventBusName": "default"}])
    if answer.get("FailedEntryCount"):
        raise RuntimeError(f"EventBridge refused the {detail_type} event: {answer['Entries']}")


def write_work_item(s3: Any, bucket: str, case: Case, instruction: str, now: datetime) -> str:
    """An instruction to billing staff for a case with no refund to make (or a rejected one)."""
    key = f"outbound/work-items/{case.case_id}.json"
    body = {"case_id": case.case_id, "account_id": case.account_id, "credit": money_text(case.credit),
            "instruction": instruction, "written_at": now.isoformat(),
            "lines": [line.to_json() for line in case.lines]}
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(body, indent=2).encode(),
                  ContentType="application/json")
    return key


def method_for(line: Line, claim_id: str | None) -> str:
    """Checks for patients; payers get a refund or answer a recoupment; Medicare by claim adjustment."""
    if line.action == "OFFSET":
        return f"transfer to account {line.target_account_id}"
    if line.payee_type == "PATIENT":
        return "check"
    if line.payee_type == "MEDICARE" and claim_id:
        return "claim adjustment"
    return "refund or recoupment request"


def payer_claim(transactions: list[Transaction], line: Line) -> str | None:
    """The claim the payer paid on this account (the latest of its payments carrying one)."""
    claims = [t.claim_id for t in sorted(transactions, key=lambda t: (t.posting_date, t.txn_id))
              if t.txn_type == "PAYMENT" and t.payer_type == line.payee_type and t.payer_id == line.payee_id
              and t.claim_id]
    return claims[-1] if claims else None


@dataclass(frozen=True)
class Issued:
    instruction_id: str
    new: bool
    row: dict[str, str]


class RefundBook:
    """Refund instructions, one item per case line, never issued twice."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def issue(self, case: Case, index: int, line: Line, claim_id: str | None, day: date) -> Issued:
        instruction_id = f"{case.case_id}#{index}"
        row = {
            "instruction_id": instruction_id, "issued_on": day.isoformat(), "case_id": case.case_id,
            "account_id": case.account_id, "payee_type": line.payee_type or "", "payee_id": line.payee_id or "",
            "amount": money_text(line.amount), "method": method_for(line, claim_id), "reason": line.reason,
            "claim_id": claim_id or "", "target_account_id": line.target_account_id or "",
            "due_date": line.due_date.isoformat() if line.due_date else "",
        }  # fmt: skip
        try:
            self._table.put_item(Item=row, ConditionExpression="attribute_not_exists(instruction_id)")
            return Issued(instruction_id, True, row)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
        stored = self._table.get_item(Key={"instruction_id": instruction_id}, ConsistentRead=True)["Item"]
        return Issued(instruction_id, False, {k: str(v) for k, v in stored.items()})

    def of_day(self, day: date) -> list[dict[str, str]]:
        rows: list[dict[str, str]] = []
        kwargs: dict[str, Any] = {"IndexName": "by-day", "KeyConditionExpression": Key("issued_on").eq(day.isoformat())}
        while True:
            page = self._table.query(**kwargs)
            rows += [{k: str(v) for k, v in item.items()} for item in page["Items"]]
            if "LastEvaluatedKey" not in page:
                return sorted(rows, key=lambda r: r["instruction_id"])
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def render_day(self, s3: Any, bucket: str, day: date, must_hold: set[str]) -> str:
        """Write the day's CSV until it holds `must_hold` and every instruction seen; returns its key."""
        key = f"outbound/refunds/{day.isoformat()}.csv"
        written: list[str] = []
        for _ in range(10):
            rows = self.of_day(day)
            ids = [r["instruction_id"] for r in rows]
            if ids == written and must_hold <= set(ids):
                return key
            if not must_hold <= set(ids):
                time.sleep(0.2)  # the day index is eventually consistent: wait for our own rows
            out = io.StringIO()
            writer = csv.DictWriter(out, fieldnames=REFUND_COLUMNS, lineterminator="\n", extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
            s3.put_object(Bucket=bucket, Key=key, Body=out.getvalue().encode(), ContentType="text/csv")
            written = ids
        return key
