"""Each function's settings, read once from the environment the template gives it.

One class per kind of function: a function reads only what it declares, and a missing or
bad value stops it at once, naming the variable (no default here repeats the template's).
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from creditrefunds.domain.review import Timing
from creditrefunds.domain.settings import Settings, SettingsError, parse_settings


class ConfigError(Exception):
    """The function's environment is not usable; the message names each variable and why."""


class BaseConfig(BaseSettings):
    """What every function gets (the template's Globals), but the rules' settings: the functions
    that report failures read only this, so that a bad rule setting cannot silence them."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    ledger_bucket: str
    originals_bucket: str  # where a read file is kept unchanged (S3 Object Lock) for the records' retention
    transactions_table: str
    cases_table: str
    history_table: str
    approvals_table: str
    task_tokens_table: str  # approval key -> task token; never readable by the approval page
    token_key_id: str  # the KMS key a link's task token is sealed with, under the link id (adapters/approval_store.py)
    refunds_table: str
    remittances_table: str
    evidence_key_id: str  # the KMS HMAC key remittance items are signed with
    ledger_key_id: str  # KMS HMAC keys of the records that move money or decide (adapters/record_keys.py)
    match_key_id: str
    link_key_id: str
    decision_key_id: str
    instruction_key_id: str
    sender_email: str
    mail_queue_url: str | None = None  # set: this function's mail goes by the mail queue (the sender's rate)
    operators_email: str
    compliance_officer_email: str
    event_source: str
    work_items_table: str  # billing staff's worklist (domain/worklist.py)
    trends_table: str  # trends' monthly counters (domain/rollups.py)
    unclaimed_table: str  # the refunds whose checks the register told of (adapters/unclaimed_store.py)
    user_pool_id: str  # the Cognito user pool of the people who work credits (their groups are their roles)
    seconds_per_day: int
    investigation_pause_seconds: int


class FunctionConfig(BaseConfig):
    """A function that applies the rules: their settings too (RULE_SETTINGS, JSON)."""

    rule_settings: Annotated[Settings, NoDecode]

    @field_validator("rule_settings", mode="before")
    @classmethod
    def _rules(cls, value: Any) -> Any:
        if isinstance(value, Settings):
            return value
        try:
            return parse_settings(str(value), "the RuleSettings parameter (RULE_SETTINGS)")
        except SettingsError as error:
            raise ValueError(str(error)) from None


class StoreConfig(FunctionConfig):
    """Functions that store ledger rows."""

    store_writers: int


class DetectConfig(StoreConfig):
    """Functions that detect credits and start a workflow per new case."""

    state_machine_arn: str


class IngestConfig(DetectConfig):
    """The function a dropped file reaches."""

    fanout_state_machine_arn: str
    split_threshold_bytes: int
    rows_per_part: int
    remit_function_name: str


class RemitConfig(StoreConfig):
    """The function an X12 835 reaches (from the ingest function): it re-checks cases, and starts no workflow."""


class PlanConfig(FunctionConfig):
    detect_batch_accounts: int


class WaitConfig(FunctionConfig):
    """Functions that set how long an approval waits."""

    approval_wait_tier1_seconds: int
    approval_wait_tier2_seconds: int
    approval_wait_tier3_seconds: int
    escalation_lead_seconds: int

    @property
    def timing(self) -> Timing:
        waits = {1: self.approval_wait_tier1_seconds, 2: self.approval_wait_tier2_seconds,
                 3: self.approval_wait_tier3_seconds}
        return Timing(waits, self.escalation_lead_seconds, self.seconds_per_day)


class ApprovalConfig(FunctionConfig):
    """The function that mails approval links."""

    approver_tier1_email: str
    approver_tier2_email: str
    approver_tier3_email: str
    approval_link_ttl_seconds: int
    approval_site_url: str

    @property
    def approvers(self) -> dict[int, list[str]]:
        """The directory: each tier's approvers, in the order they are asked (comma-separated lists)."""
        lists = {1: self.approver_tier1_email, 2: self.approver_tier2_email, 3: self.approver_tier3_email}
        return {tier: [a.strip() for a in text.split(",") if a.strip()] for tier, text in lists.items()}


class ConsoleConfig(FunctionConfig):
    """The console: sign-in, the worklist, the approval pages."""

    console_client_id: str
    sessions_table: str
    state_machine_arn: str  # an operator's retry starts the case's workflow again
    session_idle_seconds: int = 900
    decision_factor_seconds: int = 300  # a decision needs a sign-in with the TOTP code this recent
    federation_provider: str = ""  # single sign-on through the pool's hosted sign-in (docs/console.md)
    auth_domain_url: str = ""
    console_callback_url: str = ""


class SweepConfig(BaseConfig):
    """The sweeper: it reads no rules, so that a bad rule setting cannot stop it."""

    state_machine_arn: str
    sweep_grace_seconds: int
    sweep_recheck_seconds: int = 3600  # a case whose workflow runs is looked at again this much later


class MailSenderConfig(BaseConfig):
    """The mail sender: it sends through SES itself (no MAIL_QUEUE_URL) and hands back what it did not."""

    sender_queue_url: str
    mail_senders: int = Field(default=1, ge=1)  # senders at once (its reserved concurrency): each takes its share


class SealConfig(BaseConfig):
    """The function that seals the history."""

    seal_bucket: str
    seal_key_id: str


Config = TypeVar("Config", bound=BaseConfig)


def read_config(kind: type[Config]) -> Config:
    """`kind` from the environment; ConfigError naming every variable that is wrong."""
    try:
        return kind()  # type: ignore[call-arg]
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in error.errors())
        raise ConfigError(f"the function's environment is not usable: {problems}") from None
