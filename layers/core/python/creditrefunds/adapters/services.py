"""The adapters one function uses, built from its config once per container.

A handler keeps one `Services` for the life of its container: boto3 clients and tables are
made on first use and reused by every later invocation, never at import. Made one at a time: the
threads of one invocation (detection works guarantors in parallel) share each adapter, and boto3's
session is not safe to make clients from at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import cache
from typing import Any, Generic, TypeVar

import boto3

from creditrefunds.adapters.approval_store import ApprovalStore
from creditrefunds.adapters.case_store import CaseStore
from creditrefunds.adapters.config import (
    Config,
    ConsoleConfig,
    DetectConfig,
    FunctionConfig,
    IngestConfig,
    MailSenderConfig,
    SealConfig,
    StoreConfig,
    SweepConfig,
    read_config,
)
from creditrefunds.adapters.handoff import Handoff
from creditrefunds.adapters.history_store import HistoryStore
from creditrefunds.adapters.hosted_signin import HostedSignIn
from creditrefunds.adapters.ledger_bucket import LedgerBucket
from creditrefunds.adapters.letters_pdf import LetterStore
from creditrefunds.adapters.messaging import EventBus, Mailer, MailQueueBack, QueuedMailer, SendingRate
from creditrefunds.adapters.people import CognitoPeople, TokenVerifier
from creditrefunds.adapters.pool_signin import PoolSignIn
from creditrefunds.adapters.record_keys import RecordKeys
from creditrefunds.adapters.refund_book import RefundBook
from creditrefunds.adapters.remittance_store import RemittanceStore
from creditrefunds.adapters.rollup_store import RollupStore
from creditrefunds.adapters.seal_store import SealStore
from creditrefunds.adapters.sessions import SessionStore
from creditrefunds.adapters.transactions import TransactionStore
from creditrefunds.adapters.transient import CLIENT_CONFIG
from creditrefunds.adapters.trusted import TrustedApprovals, TrustedLedger, TrustedRefundBook
from creditrefunds.adapters.unclaimed_store import UnclaimedStore
from creditrefunds.adapters.workflows import Workflows
from creditrefunds.adapters.worklist_store import WorklistStore
from creditrefunds.domain.settings import Settings

T = TypeVar("T")


class _once(Generic[T]):  # noqa: N801 (used as a decorator, like functools.cached_property)
    """A cached property made under its object's lock, once whichever thread asks first."""

    def __init__(self, make: Callable[[Any], T]) -> None:
        self._make = make
        self.__doc__ = make.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    def __get__(self, instance: Any, owner: type | None = None) -> T:
        with instance._lock:  # later reads find the value in the instance's __dict__, past this
            if self._name not in instance.__dict__:
                instance.__dict__[self._name] = self._make(instance)
            value: T = instance.__dict__[self._name]
            return value


class Services(Generic[Config]):
    def __init__(self, config: Config) -> None:
        self.config = config
        self._lock = threading.RLock()  # an adapter may be made of another (history of cases)

    @property
    def settings(self) -> Settings:
        if not isinstance(self.config, FunctionConfig):
            raise RuntimeError("this function does not apply the rules (see its config in its handler)")
        return self.config.rule_settings

    def _client(self, service: str) -> Any:
        return boto3.client(service, config=CLIENT_CONFIG)

    @_once
    def _dynamodb(self) -> Any:
        return boto3.resource("dynamodb", config=CLIENT_CONFIG)

    @_once
    def transactions(self) -> TrustedLedger:
        writers = self.config.store_writers if isinstance(self.config, StoreConfig) else 1
        return TrustedLedger(TransactionStore(self._dynamodb.Table(self.config.transactions_table), writers), self.keys)

    @_once
    def cases(self) -> CaseStore:
        return CaseStore(self._dynamodb.Table(self.config.cases_table))

    @_once
    def history(self) -> HistoryStore:
        return HistoryStore(self._dynamodb.Table(self.config.history_table), self.cases)

    @_once
    def approvals(self) -> TrustedApprovals:
        config = self.config
        return TrustedApprovals(ApprovalStore(self._dynamodb.Table(config.approvals_table),
                                              self._dynamodb.Table(config.task_tokens_table), self._client("kms"),
                                              config.token_key_id), self.keys)

    @_once
    def refund_book(self) -> TrustedRefundBook:
        return TrustedRefundBook(RefundBook(self._dynamodb.Table(self.config.refunds_table)), self.keys)

    @_once
    def keys(self) -> RecordKeys:
        config = self.config
        return RecordKeys(self._client("kms"), config.ledger_key_id, config.match_key_id, config.link_key_id,
                          config.decision_key_id, config.instruction_key_id)

    @_once
    def handoff(self) -> Handoff:
        config = self.config
        return Handoff(self._client("lambda"), config.ledger_bucket,
                       config.remit_function_name if isinstance(config, IngestConfig) else None)

    @_once
    def remittances(self) -> RemittanceStore:
        return RemittanceStore(self._dynamodb.Table(self.config.remittances_table), self._client("kms"),
                               self.config.evidence_key_id)

    @_once
    def bucket(self) -> LedgerBucket:
        return LedgerBucket(self._client("s3"), self.config.ledger_bucket, self.config.originals_bucket)

    @_once
    def mailer(self) -> Mailer | QueuedMailer:
        """SES, or the mail queue where the function's mail waits for the sender's rate (MAIL_QUEUE_URL)."""
        if self.config.mail_queue_url:
            return QueuedMailer(self._client("sqs"), self.config.mail_queue_url)
        return Mailer(self._client("ses"), self.config.sender_email)

    @_once
    def sending_rate(self) -> SendingRate:
        return SendingRate(self._client("ses"), time.monotonic)

    @_once
    def mail_queue(self) -> MailQueueBack:
        if not isinstance(self.config, MailSenderConfig):
            raise RuntimeError("only the mail sender takes mail off the queue (see its config in its handler)")
        return MailQueueBack(self._client("sqs"), self.config.sender_queue_url)

    @_once
    def events(self) -> EventBus:
        return EventBus(self._client("events"), self.config.event_source)

    @_once
    def seals(self) -> SealStore:
        config = self.config
        if not isinstance(config, SealConfig):
            raise RuntimeError("this function does not seal the history (see its environment in template.yaml)")
        return SealStore(self._client("s3"), config.seal_bucket, self._client("kms"), config.seal_key_id)

    @_once
    def people(self) -> CognitoPeople:
        return CognitoPeople(self._client("cognito-idp"), self.config.user_pool_id)

    @_once
    def worklist(self) -> WorklistStore:
        return WorklistStore(self._dynamodb.Table(self.config.work_items_table))

    @_once
    def rollups(self) -> RollupStore:
        return RollupStore(self._dynamodb.Table(self.config.trends_table))

    @_once
    def unclaimed(self) -> UnclaimedStore:
        return UnclaimedStore(self._dynamodb.Table(self.config.unclaimed_table))

    @_once
    def letters(self) -> LetterStore:
        return LetterStore(self._client("s3"), self.config.ledger_bucket)

    @_once
    def cognito(self) -> Any:
        """The pool's client, for the console's sign-out."""
        return self._client("cognito-idp")

    @_once
    def pool_signin(self) -> PoolSignIn:
        return PoolSignIn(self.cognito, self._console().console_client_id)

    @_once
    def tokens(self) -> TokenVerifier:
        config = self._console()
        return TokenVerifier(boto3.session.Session().region_name or "us-east-1", config.user_pool_id,
                             config.console_client_id)

    @_once
    def sessions(self) -> SessionStore:
        config = self._console()
        return SessionStore(self._dynamodb.Table(config.sessions_table), self._client("kms"), config.token_key_id,
                            config.session_idle_seconds)

    @_once
    def hosted_signin(self) -> HostedSignIn:
        config = self._console()
        return HostedSignIn(config.auth_domain_url, config.console_client_id, config.console_callback_url,
                            config.federation_provider)

    def _console(self) -> ConsoleConfig:
        if not isinstance(self.config, ConsoleConfig):
            raise RuntimeError("only the console signs people in (see its config in its handler)")
        return self.config

    @_once
    def workflows(self) -> Workflows:
        config = self.config
        return Workflows(self._client("stepfunctions"),
                         config.state_machine_arn if isinstance(config, DetectConfig | SweepConfig | ConsoleConfig)
                         else None,
                         config.fanout_state_machine_arn if isinstance(config, IngestConfig) else None)


def lazy_services(kind: type[Config]) -> Callable[[], Services[Config]]:
    """For a handler module: its function's Services, built on the first invocation (the config
    read and checked then) and kept for the life of the container."""
    return cache(lambda: Services(read_config(kind)))
