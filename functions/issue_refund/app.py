"""issue refund: refund issuance (issue 4/5 builds it; the template already wires it)."""

from __future__ import annotations

from typing import Any

from creditrefunds.workflow import StepNotBuilt


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    raise StepNotBuilt("refund issuance is not built yet")
