"""Seal the history: every case's chain head, signed and chained to the seal before it."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from creditrefunds.domain.mail import seal_refused
from creditrefunds.domain.seals import extension_breaks, seal_content, seal_key
from creditrefunds.domain.status import Status
from creditrefunds.usecases.ports import Ports

logger = logging.getLogger(__name__)


def seal_history(ports: Ports, at: datetime, operators: str) -> dict[str, Any]:
    """Sign every case's head where its chain is whole and extends the previous seal's head for it. A chain
    rewritten, truncated or deleted since is refused: the previous head is carried, the refusal is signed
    into the seal, and operators are told once (the next seal refuses it again, silently)."""
    previous = ports.seals.latest()
    before = previous.heads if previous else {}
    told = previous.refused if previous else {}
    cases = {stored.case.case_id: stored for stored in ports.cases.in_status(tuple(Status))}
    heads: list[tuple[str, int, str]] = []
    refused: list[tuple[str, str]] = []
    for case_id in sorted(set(cases) | set(before)):
        stored = cases.get(case_id)
        records = ports.history.records(case_id)
        breaks = extension_breaks(case_id, records, stored.head if stored else None, before.get(case_id),
                                  stored is not None)
        if breaks:
            refused.append((case_id, "; ".join(str(b).removeprefix(f"case {case_id}: ") for b in breaks)))
            if case_id in before:
                heads.append((case_id, *before[case_id]))
        elif records:
            heads.append((case_id, int(records[-1]["seq"]), str(records[-1]["hash"])))
    sealed = ports.seals.put(seal_key(at), seal_content(heads, (previous.key, previous.body) if previous else None,
                                                       at, refused))
    new = [(case_id, why) for case_id, why in refused if case_id not in told]
    if new:
        logger.error("chains refused by the seal", extra={"key": sealed.key, "cases": [c for c, _ in new]})
        ports.mailer.send(seal_refused(operators, sealed.key, new), at)
    logger.info("history sealed", extra={"key": sealed.key, "cases": len(heads), "refused": len(refused)})
    return {"key": sealed.key, "cases": len(heads), "refused": [case_id for case_id, _ in refused]}
