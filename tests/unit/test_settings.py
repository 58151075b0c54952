"""Settings reach the functions from the template's RuleSettings parameter (issue 3)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from creditrefunds.aws import Aws
from creditrefunds.settings import SettingsError
from refunds_cli.localcloud.template import load_template

from tests.conftest import ROOT


def test_the_functions_take_their_rules_settings_from_the_template():
    template = load_template(ROOT / "template.yaml")
    assert template["Parameters"]["RuleSettings"]["Default"] == "{}"
    assert "RULE_SETTINGS" in template["Globals"]["Function"]["Environment"]["Variables"]
    settings = Aws({"RULE_SETTINGS": '{"tier2_threshold": "500.00", "patient_state_refund_days": {"NY": 45}}'}).settings
    assert settings.tier_for(Decimal("600.00")) == 2
    assert settings.patient_days("NY") == 45
    assert settings.patient_days("TX") == 30  # a table setting adds to DOMAIN.md's table, never drops from it


def test_defaults_when_the_parameter_is_empty():
    assert Aws({"RULE_SETTINGS": "{}"}).settings.tier_for(Decimal("600.00")) == 1
    assert Aws({}).settings.patient_days("TX") == 30


def test_a_bad_rule_setting_is_refused_naming_the_key():
    with pytest.raises(SettingsError, match=r"RuleSettings.*small_balance_floor_default"):
        _ = Aws({"RULE_SETTINGS": '{"small_balance_floor_default": "-1"}'}).settings
