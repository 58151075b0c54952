"""Every number a hospital may want different, with DOMAIN.md's defaults.

A settings file (JSON) overrides any of them (a table, such as days by state, adds to the
default table); unknown keys and bad values are refused with a message that names the key.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from creditrefunds.domain.ledger import ID_MAX_LENGTH
from creditrefunds.domain.money import money
from creditrefunds.domain.unclaimed import Unclaimed


class SettingsError(Exception):
    """The settings file is not usable; the message says which key and why."""


class Settings(BaseModel):
    """Rules settings (DOMAIN.md sections 4 to 6, 9 to 11)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tier2_threshold: Decimal = Field(default=Decimal("1000.00"), gt=0)
    tier3_threshold: Decimal = Field(default=Decimal("10000.00"), gt=0)
    payer_type_refund_days: dict[str, int] = Field(
        default_factory=lambda: {"MEDICARE": 60, "MEDICAID": 60, "COMMERCIAL": 60, "OTHER": 60}
    )
    payer_refund_days: dict[str, int] = Field(default_factory=dict, description="by payer_id; wins over the type")
    patient_state_refund_days: dict[str, int] = Field(default_factory=lambda: {"TX": 30, "CA": 30})
    patient_default_refund_days: int = Field(default=60, gt=0)
    false_credit_days: int = Field(default=30, gt=0)
    small_balance_floor: dict[str, Decimal] = Field(default_factory=lambda: {"CA": Decimal("5.00")})
    small_balance_floor_default: Decimal = Field(default=Decimal("0.00"), ge=0)
    offset_patient_credits: bool = True
    investigation_max_days: int = Field(default=180, gt=0)
    # From this approval tier, two different approvers must approve the same lines (4: never).
    dual_control_tier: int = Field(default=3, ge=1, le=4)
    # Trends (§11): a month's credits of one reason, payer, payer type or facility are a spike from this multiple
    # of its trailing six-month mean and this many cases; a credit within this many days of a refund recurs.
    trend_spike_multiple: Decimal = Field(default=Decimal("2"), gt=1)
    trend_spike_min_count: int = Field(default=5, gt=0)
    trend_recurring_days: int = Field(default=90, gt=0)
    # Unclaimed property and letters (§9, §10): stale checks, dormancy, due diligence, reports, the holder.
    unclaimed: Unclaimed = Field(default_factory=Unclaimed)
    # Ledger ids (txn_id, account_id, ...): printable, and at most this long (a DynamoDB key holds 1 KiB).
    id_max_length: int = Field(default=ID_MAX_LENGTH, gt=0, le=255)

    @model_validator(mode="before")
    @classmethod
    def _merge_tables(cls, data: Any) -> Any:
        """A table setting (days by state, floors by state...) adds to DOMAIN.md's table: giving
        New York's days must not silently drop Texas's 30."""
        if not isinstance(data, dict):
            return data
        merged = dict(data)
        for name, spec in cls.model_fields.items():
            if isinstance(merged.get(name), dict) and spec.default_factory is not None:
                default = spec.default_factory()  # type: ignore[call-arg]
                if isinstance(default, dict):  # a table (a nested block merges its own)
                    merged[name] = {**default, **merged[name]}
        return merged

    @field_validator("tier2_threshold", "tier3_threshold", "small_balance_floor_default", mode="after")
    @classmethod
    def _two_places(cls, value: Decimal) -> Decimal:
        return money(value)

    @field_validator("small_balance_floor", mode="after")
    @classmethod
    def _floors(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        if any(v < 0 for v in value.values()):
            raise ValueError("a floor cannot be negative")
        return {state.upper(): money(v) for state, v in value.items()}

    @field_validator("payer_type_refund_days", "payer_refund_days", "patient_state_refund_days", mode="after")
    @classmethod
    def _positive_days(cls, value: dict[str, int]) -> dict[str, int]:
        if any(days <= 0 for days in value.values()):
            raise ValueError("days must be positive")
        return value

    def tier_for(self, refund_total: Decimal) -> int:
        """Approval tier by the case's refund total; 0 when nothing is refunded."""
        if refund_total <= 0:
            return 0
        if refund_total < self.tier2_threshold:
            return 1
        if refund_total < self.tier3_threshold:
            return 2
        return 3

    def payer_days(self, payer_type: str, payer_id: str) -> int:
        if payer_id in self.payer_refund_days:
            return self.payer_refund_days[payer_id]
        return self.payer_type_refund_days.get(payer_type, 60)

    def patient_days(self, state: str | None) -> int:
        return self.patient_state_refund_days.get((state or "").upper(), self.patient_default_refund_days)

    def floor_for(self, state: str | None) -> Decimal:
        return self.small_balance_floor.get((state or "").upper(), self.small_balance_floor_default)


def parse_settings(text: str, source: str) -> Settings:
    """Settings from JSON text; `source` names where it came from in the error."""
    try:
        data = json.loads(text or "{}", parse_float=Decimal)
    except json.JSONDecodeError as error:
        raise SettingsError(f"{source} is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise SettingsError(f"{source} must hold a JSON object")
    try:
        return Settings.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(file)'}: {e['msg']}" for e in error.errors()
        )
        raise SettingsError(f"{source} refused: {problems}") from None
