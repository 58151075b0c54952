"""Remittance advice (X12 835) as evidence about the ledger (DOMAIN.md section 8).

Pure: what a remittance says (claim payments, takebacks), and what that evidence changes in a
case: a REFUND line to a payer that already took its money back becomes CORRECT, reason
PAYER_RECOUPED; a duplicate the remittance confirms names it. An 835 never changes a balance.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from creditrefunds.domain.cases import Case, Line
from creditrefunds.domain.ledger import Transaction
from creditrefunds.domain.money import ZERO, money, money_text

# CLP02, the claim status: what the payer did with the claim.
CLAIM_STATUS = {"1": "primary", "19": "primary", "2": "secondary", "20": "secondary", "3": "tertiary",
                "21": "tertiary", "4": "denied", "22": "reversal", "23": "not our claim", "25": "predetermination"}
REVERSAL = "22"
# CLP06, the claim filing indicator: which kind of payer (the rest are COMMERCIAL).
PAYER_TYPE_OF_FILING = {"MA": "MEDICARE", "MB": "MEDICARE", "MC": "MEDICAID", "WC": "OTHER", "AM": "OTHER",
                        "LM": "OTHER", "LI": "OTHER"}
TAKEBACK_PLB = {"WO": "overpayment recovery", "72": "authorised return"}  # PLB03-1 reasons that take money back
RECOUPED = "PAYER_RECOUPED"
CORRECT_DAYS = 30  # CORRECT lines are due 30 days after the credit was identified (section 5)


EXTENSIONS = (".835", ".x12", ".edi")


def is_remittance(name: str, head: bytes) -> bool:
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
        """Every takeback of the file; a PLB's account is the one a claim of the same file names, if any."""
        accounts = {c.claim_id: c.account_id for c in self.claims}
        found = [Takeback("CLP02 22", c.source.payer_id, c.payer_type, c.claim_id, c.account_id, -c.paid, c.source)
                 for c in self.claims if c.reversal and c.paid < 0]
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


def paid_claims(transactions: Iterable[Transaction]) -> set[str]:
    """The claims payers paid on an account: where a takeback stored by claim alone may apply."""
    return {t.claim_id for t in transactions if t.txn_type == "PAYMENT" and t.claim_id and t.payer_type != "PATIENT"}


def _payer_paid_claim(transactions: Iterable[Transaction], payer_id: str, payer_type: str | None,
                      claim_id: str) -> bool:
    return any(t.txn_type == "PAYMENT" and (t.payer_id or "") == payer_id and t.claim_id == claim_id
               and (payer_type is None or t.payer_type == payer_type) for t in transactions)


def posted(takeback: Takeback, transactions: Iterable[Transaction]) -> bool:
    """The ledger already holds the takeback: a recoupment (or a reversed payment) of that payer, that
    claim and that amount. Its balance then shows it, and the evidence has nothing left to change."""
    for t in transactions:
        same_payer = (t.payer_id or "") == takeback.payer_id and t.claim_id == takeback.claim_id
        if same_payer and abs(t.amount) == takeback.amount and (
                t.txn_type == "RECOUPMENT" or (t.txn_type == "REVERSAL" and t.amount > 0)):
            return True
    return False


def open_takebacks(evidence: Evidence, transactions: list[Transaction]) -> list[Takeback]:
    """The takebacks that hit this account's payments and that the ledger has not posted yet."""
    return [tb for tb in sorted(evidence.takebacks, key=lambda tb: (tb.source.paid_on or date.min, tb.evidence))
            if _payer_paid_claim(transactions, tb.payer_id, tb.payer_type, tb.claim_id)
            and not posted(tb, transactions)]


def apply_evidence(case: Case, transactions: list[Transaction], evidence: Evidence) -> Case:
    """The case as the remittances show it: REFUND lines to a payer that took its money back become
    CORRECT, reason PAYER_RECOUPED, for at most what it took back (a check now would repay it twice; the
    recoupment is to be posted instead); duplicates the remittances confirm name the proof. Tier unchanged
    here: the caller prices the lines."""
    if not evidence:
        return case
    lines = list(case.lines)
    for takeback in open_takebacks(evidence, transactions):
        lines = _recouped(lines, takeback, case.identified_on + timedelta(days=CORRECT_DAYS))
    case.lines = [_confirmed(line, evidence) for line in lines]
    return case


def _recouped(lines: list[Line], takeback: Takeback, due: date) -> list[Line]:
    left, out = takeback.amount, []
    for line in lines:
        hit = (line.action == "REFUND" and left > 0 and (line.payee_id or "") == takeback.payer_id
               and (takeback.payer_type is None or line.payee_type == takeback.payer_type))
        if not hit:
            out.append(line)
            continue
        part = min(line.amount, left)
        left -= part
        out.append(replace(line, action="CORRECT", reason=RECOUPED, amount=money(part), due_date=due,
                           evidence=takeback.evidence))
        if line.amount > part:
            out.append(replace(line, amount=money(line.amount - part)))
    return out


def _confirmed(line: Line, evidence: Evidence) -> Line:
    """A duplicate the remittances prove: one remitted payment posted twice (DUPLICATE_POSTING), or two
    remitted payments of the same amount under different traces (DUPLICATE_PAYMENT)."""
    if line.evidence or line.reason not in ("DUPLICATE_POSTING", "DUPLICATE_PAYMENT"):
        return line
    paid = sorted((c for c in evidence.claims if not c.reversal and c.paid == line.amount
                   and c.source.payer_id == (line.payee_id or "") and c.payer_type == line.payee_type),
                  key=lambda c: (c.source.paid_on or date.min, c.source.trace))
    traces = {c.source.trace for c in paid}
    if line.reason == "DUPLICATE_POSTING" and len(paid) == 1:
        return replace(line, evidence=f"remitted once: {paid[0].source.cite(paid[0].claim_id)}")
    if line.reason == "DUPLICATE_PAYMENT" and len(traces) >= 2:
        first, second = paid[0], next(c for c in paid if c.source.trace != paid[0].source.trace)
        return replace(line, evidence=f"remitted twice: {first.source.cite(first.claim_id)}; "
                                      f"{second.source.cite(second.claim_id)}")
    return line


@dataclass(frozen=True)
class Unmatched:
    """A line of the remittance report: what billing staff must post or look into."""

    kind: str  # "unposted cash", "takeback not posted", "unknown account"
    account_id: str
    claim_id: str
    payer_id: str
    amount: Decimal
    evidence: str

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "account_id": self.account_id, "claim_id": self.claim_id,
                "payer_id": self.payer_id, "amount": money_text(self.amount), "evidence": self.evidence}


def unmatched(account_id: str, evidence: Evidence, transactions: list[Transaction] | None) -> list[Unmatched]:
    """What the ledger lacks of the account's remittances: remitted payments not posted (matched by payer,
    claim and amount, and reference when both have one), takebacks not posted; or, when the ledger has no
    row of the account (`transactions` None or empty), every claim of it as an unknown account."""
    out: list[Unmatched] = []
    if not transactions:
        out += [Unmatched("unknown account", account_id, c.claim_id, c.source.payer_id, c.paid,
                          c.source.cite(c.claim_id)) for c in evidence.claims]
        out += [Unmatched("unknown account", account_id, tb.claim_id, tb.payer_id, tb.amount, tb.evidence)
                for tb in evidence.takebacks]
        return out
    for c in evidence.claims:
        if c.reversal or c.paid <= ZERO:
            continue
        if not any(t.txn_type == "PAYMENT" and -t.amount == c.paid and t.claim_id == c.claim_id
                   and (t.payer_id or "") == c.source.payer_id
                   and (not t.reference or not c.source.trace or t.reference == c.source.trace)
                   for t in transactions):
            out.append(Unmatched("unposted cash", account_id, c.claim_id, c.source.payer_id, c.paid,
                                 c.source.cite(c.claim_id)))
    for tb in evidence.takebacks:
        if _payer_paid_claim(transactions, tb.payer_id, tb.payer_type, tb.claim_id) and not posted(tb, transactions):
            out.append(Unmatched("takeback not posted", account_id, tb.claim_id, tb.payer_id, tb.amount, tb.evidence))
    return out
