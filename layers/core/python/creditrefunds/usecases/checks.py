"""The check register (DOMAIN.md section 9) and what billing staff do for an unclaimed check: each register
row becomes a history record on its instruction's case, once; a reissue to a corrected address is asked by
one signed-in person and confirmed by another; an owner who answered takes the money off the path."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from creditrefunds.domain import escheat as e
from creditrefunds.domain import identity as roles
from creditrefunds.domain.checks import CheckEvent
from creditrefunds.domain.identity import Person
from creditrefunds.domain.instructions import Instruction
from creditrefunds.domain.ledger import RowError
from creditrefunds.usecases.escheat import evidence, property_of, record_step, records_of
from creditrefunds.usecases.ports import Ports

logger = logging.getLogger(__name__)
REGISTER = "system:check-register"
CONFIRMERS = (roles.COMPLIANCE, *(roles.approver_group(tier) for tier in (1, 2, 3)))


class NotAllowed(Exception):
    """The person may not do this (their role, or four eyes), or the refund is not there to act on."""


@dataclass
class Taken:
    recorded: int = 0
    repeated: int = 0
    rejects: list[RowError] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"recorded": self.recorded, "repeated": self.repeated, "rejected": len(self.rejects)}


def take_register(ports: Ports, events: list[CheckEvent], rejects: list[RowError], now: datetime) -> Taken:
    """Record each row on its instruction's case (a row seen before changes nothing) and track the instruction.
    A row naming no instruction, another amount than the instruction's, or a new check no confirmed reissue
    accounts for, is rejected with its reason."""
    taken = Taken(rejects=list(rejects))
    known: dict[str, _Checks] = {}
    for event in events:
        i = ports.refund_book.get(event.instruction_id)
        why = _refused(i, event)
        if why is None and i is not None:
            checks = known.setdefault(i.instruction_id, _Checks.of(records_of(ports, i.instruction_id, i.case_id)))
            why = checks.refused(event)
        if why or i is None:
            field_name, reason = why or ("instruction_id", "no such instruction")
            taken.rejects.append(RowError(event.line, event.instruction_id, field_name, reason))
            continue
        if event.key in checks.keys:
            taken.repeated += 1
            ports.unclaimed.track(i.instruction_id, i.case_id)  # (put if absent: a crash may have come between)
            continue
        record_step(ports, i, REGISTER, e.CHECK, f"check {event.check_number} {event.status} on {event.status_date}",
                    {**event.to_json(), "key": event.key}, now)
        checks.keys.add(event.key)
        checks.numbers.add(event.check_number)
        ports.unclaimed.track(i.instruction_id, i.case_id)
        taken.recorded += 1
    return taken


@dataclass
class _Checks:
    """What the history holds of one refund's checks: the rows recorded, the check numbers, the reissues."""

    keys: set[str]
    numbers: set[str]
    reissued: int

    @classmethod
    def of(cls, records: list[dict[str, Any]]) -> _Checks:
        rows = [evidence(r) for r in records if r.get("action") == e.CHECK]
        return cls({r.get("key", "") for r in rows}, {r.get("check_number", "") for r in rows},
                   sum(1 for r in records if r.get("action") == e.REISSUED))

    def refused(self, event: CheckEvent) -> tuple[str, str] | None:
        """A refund has one check, and one more for each confirmed reissue."""
        if event.check_number in self.numbers or len(self.numbers) < 1 + self.reissued:
            return None
        return "check_number", (f"{event.check_number} would be check {len(self.numbers) + 1} of this refund, which "
                                f"has {self.reissued} confirmed reissue(s)")


def _refused(i: Instruction | None, event: CheckEvent) -> tuple[str, str] | None:
    if i is None:
        return "instruction_id", "names no refund instruction in the refund book"
    if i.action != "REFUND":
        return "instruction_id", f"is an {i.action} (a transfer between accounts): no check is written for it"
    if i.amount != event.amount:
        return "amount", f"{event.amount} is not the instruction's amount ({i.amount})"
    if event.status_date < i.issued_on:
        return "status_date", f"{event.status_date} is before the refund was issued ({i.issued_on})"
    return None


def ask_reissue(ports: Ports, instruction_id: str, address: dict[str, str], by: Person, now: datetime) -> None:
    """Billing staff give a corrected address for a stale or returned check. Nothing is sent yet: another
    signed-in person confirms it (`confirm_reissue`): an address is where the money goes."""
    if roles.BILLING not in by.groups:
        raise NotAllowed("only billing staff give a corrected address")
    i, _, _ = _unclaimed(ports, instruction_id, now.date())
    clean = {k: " ".join(str(address.get(k, "")).split())[:80] for k in ("line1", "city", "state", "zip")}
    if not clean["line1"] or not clean["city"]:
        raise NotAllowed("a corrected address needs at least its street line and city")
    ports.unclaimed.ask_address(instruction_id, clean, by.user_id)
    record_step(ports, i, by.actor, e.REISSUE_ASKED, f"a corrected address was given by {by.email}; it waits "
                "for another person to confirm", {"by": by.user_id, "on": now.date().isoformat(),
                                                  "address": address_seen(clean)}, now)


def address_seen(address: dict[str, str]) -> str:
    """What the confirmer's form carries of the address they were shown: its digest."""
    return hashlib.sha256(json.dumps(address, sort_keys=True).encode()).hexdigest()[:32]


def confirm_reissue(ports: Ports, instruction_id: str, by: Person, now: datetime, seen: str = "") -> str:
    """A second person (the compliance officer or an approver, not the one who gave the address) confirms
    the corrected address they were shown (`seen`, its digest: an address changed since is refused): the
    reissue instruction goes to accounts payable (outbound/reissues/), with the payee, amount and instruction
    of the signed instruction, and the history says who asked and who confirmed. Returns the file's key."""
    if not set(CONFIRMERS) & set(by.groups):
        raise NotAllowed("a reissue is confirmed by the compliance officer or an approver")
    i, records, path = _unclaimed(ports, instruction_id, now.date())
    asked = ports.unclaimed.asked(instruction_id)
    if asked is None:
        raise NotAllowed(f"no corrected address waits for {instruction_id}")
    address, asker = asked
    if asker == by.user_id:
        raise NotAllowed("the person who gave the address cannot confirm it")
    if seen != address_seen(address):
        raise NotAllowed("the address is not the one you were shown: look at the page again")
    asks = [evidence(r) for r in records if r.get("action") == e.REISSUE_ASKED]
    if not asks or asks[-1].get("address") != seen or asks[-1].get("by") != asker:
        raise NotAllowed("the address waiting is not the one the history says billing staff gave")
    reissues = sum(1 for r in records if r.get("action") == e.REISSUED)
    if path.reissues_left <= 0:
        raise NotAllowed(f"{instruction_id} was reissued {reissues} time(s) already: it waits as unclaimed")
    if not ports.unclaimed.confirm_address(instruction_id, address):
        raise NotAllowed("the address changed while it was confirmed: look at the page again")
    key = ports.bucket.put_json(f"outbound/reissues/{instruction_id.replace('#', '-')}-{reissues + 1}.json", {
        "instruction_id": i.instruction_id, "case_id": i.case_id, "payee_type": i.payee_type,
        "payee_id": i.payee_id, "amount": str(i.amount), "address": address, "reissue": reissues + 1,
        "asked_by": asker, "confirmed_by": by.user_id, "on": now.date().isoformat()}, indent=2)
    record_step(ports, i, by.actor, e.REISSUED, f"reissue {reissues + 1} to a corrected address confirmed by "
                f"{by.email}: {key}", {"asked_by": asker, "by": by.user_id, "on": now.date().isoformat(),
                                       "file": key, "address": address_seen(address)}, now)
    return key


def owner_answered(ports: Ports, instruction_id: str, on: date, by: Person, now: datetime) -> None:
    """The owner answered (the due-diligence letter, a call) on `on` (not after today): the money leaves the
    state's path, and waits for the reissue that pays them (a corrected address, confirmed by a second person;
    once beyond the reissue limit). Property reported already stays reported."""
    if roles.BILLING not in by.groups and roles.COMPLIANCE not in by.groups:
        raise NotAllowed("billing staff or the compliance officer record an owner's answer")
    if on > now.date():
        raise NotAllowed(f"{on} is after today")
    i, _, _ = _unclaimed(ports, instruction_id, now.date(), answering=True)
    record_step(ports, i, by.actor, e.ANSWERED, f"the owner answered on {on} (recorded by {by.email})",
            {"by": by.user_id, "on": on.isoformat()}, now)


def _unclaimed(ports: Ports, instruction_id: str, day: date,
               answering: bool = False) -> tuple[Instruction, list[dict[str, Any]], e.Path]:
    """The tracked instruction and its records, while its money waits for its owner (an owner who answered
    waits for the reissue that pays them; they do not answer twice)."""
    i = ports.refund_book.get(instruction_id)
    if i is None or instruction_id not in ports.unclaimed.tracked():
        raise NotAllowed(f"{instruction_id} is not a refund the check register told of")
    records = records_of(ports, instruction_id, i.case_id)
    path = e.assess(property_of(ports, i, records), ports.settings.unclaimed, day)
    if path.stage in (e.NO_ANSWER if answering else e.NO_REISSUE):
        raise NotAllowed(f"{instruction_id} is {path.stage}: nothing to reissue or answer")
    return i, records, path
