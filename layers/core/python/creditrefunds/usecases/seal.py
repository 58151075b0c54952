"""Seal the history: every case's chain head, signed and chained to the seal before it."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from creditrefunds.domain.seals import seal_content, seal_key
from creditrefunds.usecases.ports import Ports

logger = logging.getLogger(__name__)


def seal_history(ports: Ports, at: datetime) -> dict[str, Any]:
    """Read every case's last record, and keep the signed seal of their heads."""
    heads = [(case_id, int(last["seq"]), str(last["hash"])) for case_id in ports.cases.ids()
             if (last := ports.history.last(case_id)) is not None]
    previous = ports.seals.latest()
    sealed = ports.seals.put(seal_key(at), seal_content(heads, (previous.key, previous.body) if previous else None,
                                                       at))
    logger.info("history sealed", extra={"key": sealed.key, "cases": len(heads)})
    return {"key": sealed.key, "cases": len(heads)}
