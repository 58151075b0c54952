"""Seal the history: the chain heads of the cases that changed since the last seal, signed and chained to
it. A seal costs what changed in its hour, however many cases there have ever been; `audit verify` folds
every seal to check every case on demand.

A case that never moves again is not among what changed: each seal also re-checks, against the cases as
stored now, as many heads of earlier seals as it seals (and `RECHECK_MORE` besides), walking the seals
from the first and starting again at the end. A chain a writer of the tables truncated or deleted since a
seal signed it is refused within a pass, even if nothing moves it again."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from creditrefunds.domain.mail import seal_refused
from creditrefunds.domain.seals import Sealed, extension_breaks, seal_content, seal_key
from creditrefunds.usecases.ports import Ports, Seals

logger = logging.getLogger(__name__)

# A record is stamped with its step's clock when the step began, and written up to a Lambda's 15 minutes
# later; the month index lags by seconds. Each seal looks this far behind the last one's moment.
LOOK_BACK = timedelta(minutes=20)
RECHECK_MORE = 50  # heads of earlier seals re-checked per seal beyond as many as it seals (so the walk gains)


def seal_history(ports: Ports, at: datetime, operators: str) -> dict[str, Any]:
    """Sign the head of every case changed since the last seal (every case, the first time) where its chain is
    whole and extends what the seal that last signed it says. A chain rewritten, truncated or deleted since
    is refused: the refusal is signed into the seal (and into every later one) and
    operators are told once."""
    previous = ports.seals.latest(at)
    told = previous.refused if previous else {}
    since = datetime.fromisoformat(previous.content["sealed_at"]) - LOOK_BACK if previous else None
    # What moved: the cases the to-seal index holds, and (should a writer of the tables have taken one out of
    # it) those with a record stamped since the last seal.
    changed = ports.cases.to_seal() | ports.history.changed(since, at) if since else set(ports.cases.ids())
    seals: dict[str, Sealed | None] = {previous.key: previous} if previous else {}
    heads: list[tuple[str, int, str]] = []
    refused: list[tuple[str, str]] = []
    for case_id in sorted(changed | set(told)):
        if case_id in told:  # refused once, refused in every later seal: never signed again whatever its pointer
            refused.append((case_id, told[case_id]))
            continue
        stored = ports.cases.get(case_id, strict=False)
        records = ports.history.records(case_id)
        last, unfound = _last_sealed(case_id, ports.cases.item(case_id) if stored else None, seals, ports.seals,
                                     previous)
        breaks = extension_breaks(case_id, records, stored.head if stored else None, last, stored is not None)
        if stored is None and records and not breaks:
            unfound = f"has {len(records)} record(s) but the case is gone: deleted"
        if breaks or unfound:
            why = [unfound] if unfound else []
            refused.append((case_id, "; ".join(why + [str(b).removeprefix(f"case {case_id}: ") for b in breaks])))
        elif records:
            heads.append((case_id, int(records[-1]["seq"]), str(records[-1]["hash"])))
    rechecked: tuple[str, str] | None = None
    if previous:
        found, rechecked = _recheck(ports, previous, {c for c, _ in refused}, len(changed) + RECHECK_MORE)
        refused += found
        walked_out = {case_id for case_id, _ in found}  # a chain the walk refuses is not signed in this seal
        heads = [head for head in heads if head[0] not in walked_out]
    sealed = ports.seals.put(seal_key(at), seal_content(heads, (previous.key, previous.body) if previous else None,
                                                       at, refused, since, rechecked))
    for case_id, seq, _ in heads:
        ports.cases.mark_sealed(case_id, sealed.key, seq)
    new = [(case_id, why) for case_id, why in refused if case_id not in told]
    if new:
        logger.error("chains refused by the seal", extra={"key": sealed.key, "cases": [c for c, _ in new]})
        ports.mailer.send(seal_refused(operators, sealed.key, new), at)
    logger.info("history sealed", extra={"key": sealed.key, "cases": len(heads), "refused": len(refused)})
    age = (at - datetime.fromisoformat(previous.content["sealed_at"])).total_seconds() if previous else None
    return {"key": sealed.key, "cases": len(heads), "refused": [case_id for case_id, _ in refused],
            "since_previous": age}


def _last_sealed(case_id: str, item: dict[str, Any] | None, seals: dict[str, Sealed | None], store: Seals,
                 previous: Sealed | None) -> tuple[tuple[int, str] | None, str | None]:
    """The head that the seal named on the case item signed for it (each seal read once), and what is wrong
    when that seal is not there or does not sign the case; for a case never sealed or whose item is gone, the
    last seal's head of it, if any. A writer of the tables who points the case at an older seal that signed it
    too, or takes the pointer away, gets past this check, not past the re-check of earlier seals' heads (nor
    `audit verify`, which folds every seal)."""
    key = (item or {}).get("sealed_in")
    if key is None:
        return (previous.heads.get(case_id) if previous else None), None
    if key not in seals:
        seals[key] = store.read(str(key))
    seal = seals[key]
    if seal is None or case_id not in seal.heads:
        return None, f"the case names seal {key}, which does not sign it: its item was altered"
    return seal.heads[case_id], None


def _recheck(ports: Ports, previous: Sealed, checked: set[str], budget: int) -> tuple[list[tuple[str, str]],
                                                                                     tuple[str, str] | None]:
    """Re-check up to `budget` heads signed by earlier seals (each seal read counts as one too), from where the
    previous seal's walk stopped (at the start, or past the last seal: from the first), a case at most once a
    run: each case's chain as stored must still be whole and extend the head that seal signed, whatever its
    item points at. What is refused (with why), and where the walk stops now: (a seal's key, the last case of
    it re-checked; "" once the whole seal is)."""
    key, last = previous.content.get("rechecked") or ("", "")
    refused: list[tuple[str, str]] = []
    wrapped, done = False, 0
    while done < budget:
        if last:  # part-way through seal `key`
            seal = ports.seals.read(key)
        else:
            following = ports.seals.after(key, 1)
            seal = following[0] if following else None
        if seal is None:  # past the last seal: from the first again, once a seal
            if wrapped or not key:
                break
            wrapped, key, last = True, "", ""
            continue
        done += 1  # reading a seal costs as a head does: a walk over empty seals is bounded too
        for case_id, head in sorted(seal.heads.items()):
            if case_id <= last or case_id in checked:
                continue
            stored = ports.cases.get(case_id, strict=False)
            records = ports.history.records(case_id)
            breaks = extension_breaks(case_id, records, stored.head if stored else None, head, stored is not None)
            if breaks or stored is None:
                why = [] if stored else ["the case is gone: deleted"]
                refused.append((case_id, "; ".join(why + [f"since seal {seal.key}: " +
                                                          str(b).removeprefix(f"case {case_id}: ") for b in breaks])))
            checked.add(case_id)
            last, done = case_id, done + 1
            if done >= budget:
                return refused, (seal.key, last)
        key, last = seal.key, ""
    return refused, ((key, last) if key else None)
