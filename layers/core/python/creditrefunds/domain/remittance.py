"""Remittance advice (X12 835) as evidence about the ledger (DOMAIN.md section 8).

Pure: what a remittance says (claim payments, takebacks), and what that evidence changes in a
case: a REFUND line to a payer that already took its money back becomes CORRECT, reason
PAYER_RECOUPED; a duplicate the remittance confirms names it. An 835 never changes a balance.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from creditrefunds.domain.money import money, money_text

REVERSAL = "22"  # CLP02, the claim status, of a reversal of an earlier payment
# CLP06, the claim filing indicator: which kind of payer (the rest are COMMERCIAL).
PAYER_TYPE_OF_FILING = {"MA": "MEDICARE", "MB": "MEDICARE", "MC": "MEDICAID", "WC": "OTHER", "AM": "OTHER",
                        "LM": "OTHER", "LI": "OTHER"}
TAKEBACK_PLB = {"WO": "overpayment recovery", "72": "authorised return"}  # PLB03-1 reasons that take money back


EXTENSIONS = (".835", ".x12", ".edi")


def is_remittance(name: str, head: bytes = b"") -> bool:
    """A dropped file that is an 835 (or any X12): by its extension, or by its ISA header."""
    return name.lower().endswith(EXTENSIONS) or head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"ISA")


def payer_type_for(filing: str) -> str:
    return PAYER_TYPE_OF_FILING.get(filing.upper(), "COMMERCIAL")


@dataclass(frozen=True)
class Problem:
    """Something in the file that breaks the envelope or the guide: where (segment position, counted
    from ISA as 1), which segment and element, and why. A problem of the file or of a claim rejects it;
    a note is kept and shown, and rejects nothing."""

    position: int
    segment: str
    reason: str
    element: str = ""

    def __str__(self) -> str:
        where = f"segment {self.position} ({self.segment}{' ' + self.element if self.element else ''})"
        return f"{where}: {self.reason}"

    def to_json(self) -> dict[str, Any]:
        return {"position": self.position, "segment": self.segment, "element": self.element, "reason": self.reason}


@dataclass(frozen=True)
class Source:
    """Where a piece of evidence comes from: the file, its payment (payer, trace, date), the segment."""

    file: str
    digest: str  # SHA-256 of the interchange as received
    payer_name: str
    payer_id: str
    trace: str  # TRN02: the check or EFT trace
    paid_on: date | None  # BPR16
    position: int

    def cite(self, claim_id: str) -> str:
        return f"835 {self.file}, trace {self.trace or '(none)'}, claim {claim_id}, segment {self.position}"


@dataclass(frozen=True)
class ClaimPayment:
    """One CLP loop: the payer's word on one claim of one account."""

    account_id: str  # CLP01, the patient control number
    status: str  # CLP02
    charge: Decimal  # CLP03
    paid: Decimal  # CLP04 (negative on a reversal)
    patient_resp: Decimal | None  # CLP05
    filing: str  # CLP06
    claim_id: str  # CLP07, the payer's ICN
    source: Source
    adjustments: tuple[tuple[str, str, Decimal], ...] = ()  # claim-level CAS: group, reason, amount

    @property
    def payer_type(self) -> str:
        return payer_type_for(self.filing)

    @property
    def reversal(self) -> bool:
        return self.status == REVERSAL


@dataclass(frozen=True)
class ProviderAdjustment:
    """One PLB adjustment: a reason, the claim it names (PLB03-2), the amount (positive takes money back)."""

    reason: str
    claim_id: str
    amount: Decimal
    source: Source

    @property
    def takeback(self) -> bool:
        return self.reason in TAKEBACK_PLB and self.amount > 0


@dataclass(frozen=True)
class Takeback:
    """A payer took money back for a claim: by reversal (CLP02 22) or by offset (PLB WO or 72)."""

    kind: str  # "CLP02 22", "PLB WO", "PLB 72"
    payer_id: str
    payer_type: str | None  # unknown on a PLB (no claim filing indicator)
    claim_id: str
    account_id: str | None  # unknown until matched (a PLB names a claim, not an account)
    amount: Decimal
    source: Source

    @property
    def evidence(self) -> str:
        return f"{self.kind} of {money_text(self.amount)}: {self.source.cite(self.claim_id)}"


@dataclass
class RemittanceFile:
    """An interchange as read: its payments' claims and adjustments, what was rejected and why."""

    name: str
    digest: str
    claims: list[ClaimPayment] = field(default_factory=list)
    adjustments: list[ProviderAdjustment] = field(default_factory=list)
    rejected: Problem | None = None  # the whole file, when it breaks the envelope
    rejects: list[Problem] = field(default_factory=list)  # claims and adjustments left out, and why
    notes: list[Problem] = field(default_factory=list)  # guide deviations in what is not read

    def takebacks(self) -> list[Takeback]:
        """Every takeback of the file. A reversal (CLP02 22) takes back what it reverses, net of what the
        same payment pays the account again (the corrected claim, CLP02 1-3, usually under a new ICN). A
        PLB's account is the one a claim of the same file names, when one does."""
        accounts = {c.claim_id: c.account_id for c in self.claims}
        found = []
        for c in self.claims:
            if not (c.reversal and c.paid < 0):
                continue
            paid_again = sum((o.paid for o in self.claims if not o.reversal and o.paid > 0
                              and (o.account_id, o.source.trace, o.source.payer_id) ==
                              (c.account_id, c.source.trace, c.source.payer_id)), Decimal("0.00"))
            if -c.paid > paid_again:
                found.append(Takeback("CLP02 22", c.source.payer_id, c.payer_type, c.claim_id, c.account_id,
                                      -c.paid - paid_again, c.source))
        found += [Takeback(f"PLB {a.reason}", a.source.payer_id, None, a.claim_id, accounts.get(a.claim_id),
                           a.amount, a.source) for a in self.adjustments if a.takeback]
        return found


def _source_record(source: Source) -> dict[str, str]:
    return {"file": source.file, "digest": source.digest, "payer_name": source.payer_name,
            "payer_id": source.payer_id, "trace": source.trace,
            "paid_on": source.paid_on.isoformat() if source.paid_on else "", "position": str(source.position)}


def _source_of(record: dict[str, str]) -> Source:
    return Source(record["file"], record["digest"], record["payer_name"], record["payer_id"], record["trace"],
                  date.fromisoformat(record["paid_on"]) if record["paid_on"] else None, int(record["position"]))


def claim_record(claim: ClaimPayment) -> dict[str, str]:
    """A claim payment as stored (text only: what a MAC is computed over, the same every time)."""
    return {"kind": "PAYMENT", "account_id": claim.account_id, "status": claim.status,
            "charge": money_text(claim.charge), "paid": money_text(claim.paid),
            "patient_resp": money_text(claim.patient_resp) if claim.patient_resp is not None else "",
            "filing": claim.filing, "claim_id": claim.claim_id,
            "adjustments": json.dumps([[g, r, money_text(a)] for g, r, a in claim.adjustments]),
            **_source_record(claim.source)}


def takeback_record(takeback: Takeback) -> dict[str, str]:
    return {"kind": "TAKEBACK", "takeback": takeback.kind, "payer_type": takeback.payer_type or "",
            "claim_id": takeback.claim_id, "account_id": takeback.account_id or "",
            "amount": money_text(takeback.amount), **_source_record(takeback.source)}


def from_record(record: dict[str, str]) -> ClaimPayment | Takeback:
    source = _source_of(record)
    if record["kind"] == "PAYMENT":
        return ClaimPayment(record["account_id"], record["status"], money(record["charge"]), money(record["paid"]),
                            money(record["patient_resp"]) if record["patient_resp"] else None, record["filing"],
                            record["claim_id"], source,
                            tuple((g, r, money(a)) for g, r, a in json.loads(record["adjustments"])))
    return Takeback(record["takeback"], source.payer_id, record["payer_type"] or None, record["claim_id"],
                    record["account_id"] or None, money(record["amount"]), source)


@dataclass(frozen=True)
class Evidence:
    """What the stored remittances say of one account: its claim payments and the takebacks named on it."""

    claims: tuple[ClaimPayment, ...] = ()
    takebacks: tuple[Takeback, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.claims or self.takebacks)

    @classmethod
    def of(cls, items: Iterable[ClaimPayment | Takeback]) -> Evidence:
        items = list(items)
        return cls(tuple(i for i in items if isinstance(i, ClaimPayment)),
                   tuple(i for i in items if isinstance(i, Takeback)))
