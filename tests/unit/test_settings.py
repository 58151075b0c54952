"""Settings reach the functions from the template's RuleSettings parameter (issue 3), read once as
each function's typed config."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from creditrefunds.adapters.config import ConfigError, FunctionConfig, WaitConfig, read_config
from localcloud.template import load_template
from pydantic_settings import InitSettingsSource

from tests.conftest import ROOT

GLOBALS = {name: "x" for name in ("LEDGER_BUCKET", "ORIGINALS_BUCKET", "TRANSACTIONS_TABLE", "CASES_TABLE",
                                  "HISTORY_TABLE",
                                  "APPROVALS_TABLE", "REFUNDS_TABLE", "REMITTANCES_TABLE", "EVIDENCE_KEY_ID",
                                  "LEDGER_KEY_ID", "MATCH_KEY_ID", "LINK_KEY_ID", "DECISION_KEY_ID",
                                  "INSTRUCTION_KEY_ID",
                                  "TASK_TOKENS_TABLE", "TOKEN_KEY_ID",
                                  "SENDER_EMAIL", "OPERATORS_EMAIL", "COMPLIANCE_OFFICER_EMAIL", "EVENT_SOURCE",
                                  "USER_POOL_ID", "WORK_ITEMS_TABLE", "TRENDS_TABLE", "UNCLAIMED_TABLE")}
GLOBALS |= {"SECONDS_PER_DAY": "86400", "INVESTIGATION_PAUSE_SECONDS": "600", "RULE_SETTINGS": "{}"}


def given(kind: type[FunctionConfig], environ: dict[str, str]) -> FunctionConfig:
    """`read_config(kind)` with `environ` as the function's whole environment (the process's own may
    change under the test: the local cloud sets each function's while its handler runs)."""

    class Isolated(kind):  # type: ignore[valid-type, misc]
        @classmethod
        def settings_customise_sources(cls, settings_cls: Any, **_: Any) -> tuple[Any, ...]:
            return (InitSettingsSource(settings_cls, {k.lower(): v for k, v in environ.items()}),)

    return read_config(Isolated)


def test_the_functions_take_their_rules_settings_from_the_template():
    template = load_template(ROOT / "template.yaml")
    assert template["Parameters"]["RuleSettings"]["Default"] == "{}"
    assert "RULE_SETTINGS" in template["Globals"]["Function"]["Environment"]["Variables"]
    rules = '{"tier2_threshold": "500.00", "patient_state_refund_days": {"NY": 45}}'
    settings = given(FunctionConfig, {**GLOBALS, "RULE_SETTINGS": rules}).rule_settings
    assert settings.tier_for(Decimal("600.00")) == 2
    assert settings.patient_days("NY") == 45
    assert settings.patient_days("TX") == 30  # a table setting adds to DOMAIN.md's table, never drops from it


def test_every_global_variable_of_the_template_is_read_and_nothing_more():
    template = load_template(ROOT / "template.yaml")
    given = set(template["Globals"]["Function"]["Environment"]["Variables"])
    read = {name.upper() for name in FunctionConfig.model_fields}
    assert read <= given, read - given


def test_defaults_when_the_parameter_is_empty():
    assert given(FunctionConfig, GLOBALS).rule_settings.tier_for(Decimal("600.00")) == 1


def test_a_bad_rule_setting_is_refused_naming_the_key():
    with pytest.raises(ConfigError, match=r"RULE_SETTINGS.*RuleSettings.*small_balance_floor_default"):
        given(FunctionConfig, {**GLOBALS, "RULE_SETTINGS": '{"small_balance_floor_default": "-1"}'})


def test_a_missing_variable_stops_the_function_naming_it():
    with pytest.raises(ConfigError, match=r"APPROVAL_WAIT_TIER2_SECONDS: Field required"):
        given(WaitConfig, {**GLOBALS, "APPROVAL_WAIT_TIER1_SECONDS": "5", "APPROVAL_WAIT_TIER3_SECONDS": "5",
                                 "ESCALATION_LEAD_SECONDS": "5"})
