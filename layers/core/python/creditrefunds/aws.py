"""The AWS resources a function uses, from the environment the template gives it.

Clients are made when a handler asks, never at import, so that tests and the local cloud
need no module reloading.
"""

from __future__ import annotations

import os
from datetime import datetime
from functools import cached_property
from typing import Any

import boto3

from creditrefunds.approvals import ApprovalStore
from creditrefunds.history import History
from creditrefunds.ledger_store import WRITERS, TransactionStore
from creditrefunds.outbound import RefundBook, publish, send_mail
from creditrefunds.settings import Settings, parse_settings
from creditrefunds.stores import CaseStore


class Aws:
    """Clients and stores for one invocation."""

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        self.env = dict(os.environ if environ is None else environ)

    def client(self, service: str) -> Any:
        return boto3.client(service)

    @cached_property
    def dynamodb(self) -> Any:
        return boto3.resource("dynamodb")

    @cached_property
    def settings(self) -> Settings:
        """The rules' settings from the template's RuleSettings (JSON); refused loudly when bad."""
        return parse_settings(self.env.get("RULE_SETTINGS", "{}"), "the RuleSettings parameter (RULE_SETTINGS)")

    @cached_property
    def transactions(self) -> TransactionStore:
        writers = int(self.env.get("STORE_WRITERS", WRITERS))
        return TransactionStore(self.dynamodb.Table(self.env["TRANSACTIONS_TABLE"]), writers)

    @cached_property
    def approvals(self) -> ApprovalStore:
        return ApprovalStore(self.dynamodb.Table(self.env["APPROVALS_TABLE"]))

    @cached_property
    def refunds(self) -> RefundBook:
        return RefundBook(self.dynamodb.Table(self.env["REFUNDS_TABLE"]))

    def mail(self, to: list[str], subject: str, text: str, html_body: str, now: datetime) -> str:
        return send_mail(self.client("ses"), self.env["SENDER_EMAIL"], to, subject, text, html_body, now)

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        publish(self.client("events"), self.env.get("EVENT_SOURCE", "credit-refunds"), detail_type, detail)

    def int_env(self, name: str, default: int) -> int:
        return int(self.env.get(name) or default)

    @cached_property
    def history(self) -> History:
        return History(self.dynamodb.Table(self.env["HISTORY_TABLE"]), self.dynamodb.Table(self.env["CASES_TABLE"]))

    @cached_property
    def cases(self) -> CaseStore:
        return CaseStore(self.dynamodb.Table(self.env["CASES_TABLE"]))
