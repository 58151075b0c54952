"""request approval: approval by email (issue 4/5 builds it; the template already wires it)."""

from __future__ import annotations

from typing import Any

from creditrefunds.workflow import StepNotBuilt


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    raise StepNotBuilt("approval by email is not built yet")
