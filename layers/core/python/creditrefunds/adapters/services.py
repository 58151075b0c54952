"""The adapters one function uses, built from its config once per container.

A handler keeps one `Services` for the life of its container: boto3 clients and tables are
made on first use and reused by every later invocation, never at import.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, cached_property
from typing import Any, Generic

import boto3

from creditrefunds.adapters.approval_store import ApprovalStore
from creditrefunds.adapters.case_store import CaseStore
from creditrefunds.adapters.config import (
    Config,
    DetectConfig,
    FunctionConfig,
    IngestConfig,
    SealConfig,
    StoreConfig,
    SweepConfig,
    read_config,
)
from creditrefunds.adapters.history_store import HistoryStore
from creditrefunds.adapters.ledger_bucket import LedgerBucket
from creditrefunds.adapters.messaging import EventBus, Mailer
from creditrefunds.adapters.refund_book import RefundBook
from creditrefunds.adapters.seal_store import SealStore
from creditrefunds.adapters.transactions import TransactionStore
from creditrefunds.adapters.transient import CLIENT_CONFIG
from creditrefunds.adapters.workflows import Workflows
from creditrefunds.domain.settings import Settings


class Services(Generic[Config]):
    def __init__(self, config: Config) -> None:
        self.config = config

    @property
    def settings(self) -> Settings:
        if not isinstance(self.config, FunctionConfig):
            raise RuntimeError("this function does not apply the rules (see its config in its handler)")
        return self.config.rule_settings

    def _client(self, service: str) -> Any:
        return boto3.client(service, config=CLIENT_CONFIG)

    @cached_property
    def _dynamodb(self) -> Any:
        return boto3.resource("dynamodb", config=CLIENT_CONFIG)

    @cached_property
    def transactions(self) -> TransactionStore:
        writers = self.config.store_writers if isinstance(self.config, StoreConfig) else 1
        return TransactionStore(self._dynamodb.Table(self.config.transactions_table), writers)

    @cached_property
    def cases(self) -> CaseStore:
        return CaseStore(self._dynamodb.Table(self.config.cases_table))

    @cached_property
    def history(self) -> HistoryStore:
        return HistoryStore(self._dynamodb.Table(self.config.history_table), self.cases)

    @cached_property
    def approvals(self) -> ApprovalStore:
        return ApprovalStore(self._dynamodb.Table(self.config.approvals_table))

    @cached_property
    def refund_book(self) -> RefundBook:
        return RefundBook(self._dynamodb.Table(self.config.refunds_table))

    @cached_property
    def bucket(self) -> LedgerBucket:
        return LedgerBucket(self._client("s3"), self.config.ledger_bucket)

    @cached_property
    def mailer(self) -> Mailer:
        return Mailer(self._client("ses"), self.config.sender_email)

    @cached_property
    def events(self) -> EventBus:
        return EventBus(self._client("events"), self.config.event_source)

    @cached_property
    def seals(self) -> SealStore:
        config = self.config
        if not isinstance(config, SealConfig):
            raise RuntimeError("this function does not seal the history (see its environment in template.yaml)")
        return SealStore(self._client("s3"), config.seal_bucket, self._client("kms"), config.seal_key_id)

    @cached_property
    def workflows(self) -> Workflows:
        config = self.config
        return Workflows(self._client("stepfunctions"),
                         config.state_machine_arn if isinstance(config, DetectConfig | SweepConfig) else None,
                         config.fanout_state_machine_arn if isinstance(config, IngestConfig) else None)


def lazy_services(kind: type[Config]) -> Callable[[], Services[Config]]:
    """For a handler module: its function's Services, built on the first invocation (the config
    read and checked then) and kept for the life of the container."""
    return cache(lambda: Services(read_config(kind)))
