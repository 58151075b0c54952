"""Letters (DOMAIN.md section 10): the patient's refund notice and the payer's refund letter written when a
refund is issued, each kept under letters/ with its SHA-256 in the history; and every letter of a case
written again from what its records say, each checked against the SHA-256 recorded."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from creditrefunds.domain import escheat as e
from creditrefunds.domain.instructions import Instruction
from creditrefunds.domain.ledger import Transaction
from creditrefunds.domain.letters import (
    DUE_DILIGENCE,
    PATIENT_NOTICE,
    PAYER_LETTER,
    Letter,
    due_diligence,
    patient_notice,
    payer_letter,
)
from creditrefunds.usecases.escheat import address_lines, evidence, property_of, record_letter, records_of
from creditrefunds.usecases.ports import Ports

logger = logging.getLogger(__name__)


def at_issue(ports: Ports, instructions: list[Instruction], now: datetime) -> list[str]:
    """The letter each newly issued refund needs (a patient's notice, a payer's letter), once per instruction
    whatever retries happen. Each case's history and each account's rows are read once. Returns the keys written."""
    refunds = [i for i in instructions if i.action == "REFUND"]  # an offset moves money between accounts: no mail
    lettered = {r.get("instruction_id") for case_id in {i.case_id for i in refunds}
                for r in ports.history.records(case_id)
                if r.get("action") == e.LETTER and evidence(r).get("kind") in (PATIENT_NOTICE, PAYER_LETTER)}
    rows = {a: ports.transactions.account_transactions(a) for a in {i.account_id for i in refunds
                                                                    if i.instruction_id not in lettered}}
    return [record_letter(ports, i, letter_at_issue(ports, i, i.issued_on, rows[i.account_id]), now)
            for i in refunds if i.instruction_id not in lettered]


def letter_at_issue(ports: Ports, i: Instruction, day: date, rows: list[Transaction] | None = None) -> Letter:
    rows = ports.transactions.account_transactions(i.account_id) if rows is None else rows
    holder = ports.settings.unclaimed.holder
    return patient_notice(i, rows, holder, day) if i.payee_type == "PATIENT" else payer_letter(i, rows, holder, day)


@dataclass(frozen=True)
class Rewritten:
    key: str
    kind: str
    data: bytes
    sha256: str
    recorded: str  # the SHA-256 its record holds

    @property
    def same(self) -> bool:
        return self.sha256 == self.recorded

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "kind": self.kind, "sha256": self.sha256, "recorded_sha256": self.recorded,
                "same": self.same}


def drafts(ports: Ports, case_id: str, as_of: date) -> list[Rewritten]:
    """The due-diligence letters of the case's refunds that are due by `as_of` and not yet written: rendered,
    neither kept nor recorded (the escheat function writes and records them when their day comes)."""
    tracked = set(ports.unclaimed.tracked())
    found = []
    for i in ports.refund_book.of_case(case_id):
        if i.instruction_id not in tracked:
            continue
        path = e.assess(property_of(ports, i, records_of(ports, i.instruction_id, case_id)),
                        ports.settings.unclaimed, as_of)
        if path.stage in ("LETTER_DUE", "LETTER_LATE"):
            letter = due_diligence(i, path, ports.transactions.account_transactions(i.account_id),
                                   ports.settings.unclaimed.holder, address_lines(ports, i.instruction_id), as_of)
            data, sha = ports.letters.render(letter)
            found.append(Rewritten(letter.key, letter.kind, data, sha, ""))
    return found


def rewrite(ports: Ports, case_id: str) -> list[Rewritten]:
    """Every letter the case's history lists, written again from the same facts as of the same day."""
    found = []
    for i in ports.refund_book.of_case(case_id):
        records = records_of(ports, i.instruction_id, case_id)
        for r in records:
            facts = evidence(r)
            if r.get("action") != e.LETTER:
                continue
            day = date.fromisoformat(facts["as_of"])
            if facts.get("kind") == DUE_DILIGENCE:
                before = [x for x in records if x.get("seq", 0) < r.get("seq", 0)]
                path = e.assess(property_of(ports, i, before), ports.settings.unclaimed, day)
                letter = due_diligence(i, path, ports.transactions.account_transactions(i.account_id),
                                       ports.settings.unclaimed.holder, address_lines(ports, i.instruction_id), day)
            else:
                letter = letter_at_issue(ports, i, day)
            data, sha = ports.letters.render(letter)
            found.append(Rewritten(facts["key"], letter.kind, data, sha, facts.get("sha256", "")))
    return found
