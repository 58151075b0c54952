"""Failures a person must see: a case whose workflow step failed lands in FAILED, with the error
in its history and a mail to operators. Never silent."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from creditrefunds.domain.history import Entry
from creditrefunds.domain.mail import case_failed
from creditrefunds.domain.status import Status
from creditrefunds.usecases.ports import Ports

logger = logging.getLogger(__name__)


def step_error(error: dict[str, Any] | None, limit: int) -> tuple[str, str]:
    """(error name, cause) of a state machine's caught error; a function's error gives its type and
    message, not its stack."""
    error = error or {}
    cause = str(error.get("Cause") or "")
    try:
        cause = json.loads(cause)["errorMessage"]
    except (ValueError, KeyError, TypeError):
        pass
    return str(error.get("Error")), cause[:limit]


def record_failure(ports: Ports, case_id: str, error: dict[str, Any] | None, operators: str,
                   now: datetime) -> dict[str, Any]:
    """The step's error made visible: FAILED, a history record with the error, operators told."""
    name, cause = step_error(error, 1000)
    stored = ports.cases.get(case_id, strict=False)
    if stored is not None:
        ports.cases.set_status(case_id, Status.FAILED)
        ports.history.append(stored.case, Entry("system:workflow", "FAILED", stored.status, Status.FAILED,
                                                f"{name}: {cause}"), now)
    ports.mailer.send(case_failed(operators, case_id, name, cause), now)
    logger.error("case failed", extra={"case_id": case_id, "error": name, "cause": cause[:500]})
    return {"case_id": case_id, "status": Status.FAILED, "error": name}
