"""What remittance evidence changes in a case (DOMAIN.md section 8), and what it shows the ledger lacks.

Pure: the account's transactions and the stored evidence in; the case's lines, or the report's rows, out.
A takeback counts once (the same one kept twice, under its claim and under its account, or sent again in
another file, is one), for what of it the ledger has not posted (recoupments and reversed payments of that
payer and claim, each posting used once), and never against a patient's line.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal

from creditrefunds.domain.cases import Case, Line
from creditrefunds.domain.ledger import Transaction
from creditrefunds.domain.money import ZERO, money, money_text
from creditrefunds.domain.remittance import ClaimPayment, Evidence, Takeback

RECOUPED = "PAYER_RECOUPED"
CORRECT_DAYS = 30  # CORRECT lines are due 30 days after the credit was identified (section 5)


def paid_claims(transactions: Iterable[Transaction]) -> set[str]:
    """The claims insurers paid on an account: where a takeback kept by claim alone may apply."""
    return {t.claim_id for t in transactions if t.txn_type == "PAYMENT" and t.claim_id and t.payer_type != "PATIENT"}


def _payer_paid_claim(transactions: Iterable[Transaction], payer_id: str, payer_type: str | None,
                      claim_id: str) -> bool:
    return bool(payer_id) and any(
        t.txn_type == "PAYMENT" and t.payer_type != "PATIENT" and (t.payer_id or "") == payer_id
        and t.claim_id == claim_id and (payer_type is None or t.payer_type == payer_type) for t in transactions)


def posted_back(transactions: list[Transaction], payer_id: str, claim_id: str) -> Decimal:
    """What the ledger shows the payer took back on the claim: its recoupments, and reversals of its
    payments (the reversed row found through `reversal_of`, else the reversal's own payer and claim)."""
    by_id = {t.txn_id: t for t in transactions}
    total = ZERO
    for t in transactions:
        if t.amount <= 0:
            continue
        if t.txn_type == "RECOUPMENT":
            named = t
        elif t.txn_type == "REVERSAL":
            named = by_id.get(t.reversal_of or "", t)
            if named.txn_type not in ("PAYMENT", "REVERSAL"):
                continue
        else:
            continue
        if (named.payer_id or "") == payer_id and named.claim_id == claim_id and named.payer_type != "PATIENT":
            total += t.amount
    return total


def open_takebacks(evidence: Evidence, transactions: list[Transaction]) -> list[tuple[Takeback, Decimal]]:
    """Each takeback that hits this account's insurer payments, with what of it the ledger has not posted."""
    unique: dict[tuple[str, str, str, str, Decimal], Takeback] = {}
    for tb in sorted(evidence.takebacks, key=lambda tb: (tb.source.paid_on or date.min, tb.evidence)):
        unique.setdefault((tb.kind, tb.payer_id, tb.claim_id, tb.source.trace, tb.amount), tb)
    found: list[tuple[Takeback, Decimal]] = []
    posted: dict[tuple[str, str], Decimal] = {}
    for tb in unique.values():
        if not _payer_paid_claim(transactions, tb.payer_id, tb.payer_type, tb.claim_id):
            continue
        key = (tb.payer_id, tb.claim_id)
        left = posted.setdefault(key, posted_back(transactions, *key))
        used = min(left, tb.amount)
        posted[key] = left - used
        if tb.amount > used:
            found.append((tb, money(tb.amount - used)))
    return found


def apply_evidence(case: Case, transactions: list[Transaction], evidence: Evidence) -> Case:
    """The case as the remittances show it: REFUND lines to an insurer that took its money back become
    CORRECT, reason PAYER_RECOUPED, for at most what it took back and the ledger has not posted (a check
    now would repay it twice; the recoupment is to be posted instead); duplicates the remittances confirm
    name the proof. The caller prices the lines (the tier)."""
    if not evidence:
        return case
    lines = list(case.lines)
    for takeback, amount in open_takebacks(evidence, transactions):
        lines = list(_recouped(lines, takeback, amount, case.identified_on + timedelta(days=CORRECT_DAYS)))
    case.lines = [_confirmed(line, evidence, transactions) for line in lines]
    return case


def refunds_payer_of(line: Line, takeback: Takeback) -> bool:
    """`line` refunds the insurer that took the money back (a PLB names no payer type: any insurer's)."""
    return (line.action == "REFUND" and line.payee_type != "PATIENT" and (line.payee_id or "") == takeback.payer_id
            and (takeback.payer_type is None or line.payee_type == takeback.payer_type))


def _recouped(lines: list[Line], takeback: Takeback, amount: Decimal, due: date) -> Iterator[Line]:
    left = amount
    for line in lines:
        if left <= 0 or not refunds_payer_of(line, takeback):
            yield line
            continue
        part = min(line.amount, left)
        left -= part
        yield replace(line, action="CORRECT", reason=RECOUPED, amount=money(part), due_date=due,
                      evidence=takeback.evidence)
        if line.amount > part:
            yield replace(line, amount=money(line.amount - part))


def _confirmed(line: Line, evidence: Evidence, transactions: list[Transaction]) -> Line:
    """A duplicate the remittances prove: one remitted payment posted twice (DUPLICATE_POSTING), or two
    remitted payments of the same amount under different traces (DUPLICATE_PAYMENT), each of a claim the
    ledger shows that payer paid that amount on."""
    if line.evidence or line.reason not in ("DUPLICATE_POSTING", "DUPLICATE_PAYMENT"):
        return line
    claims = {t.claim_id for t in transactions if t.txn_type == "PAYMENT" and t.claim_id and -t.amount == line.amount
              and (t.payer_type, t.payer_id or "") == (line.payee_type, line.payee_id or "")}
    paid = sorted((c for c in evidence.claims if not c.reversal and c.paid == line.amount and c.claim_id in claims
                   and c.source.payer_id == (line.payee_id or "") and c.payer_type == line.payee_type),
                  key=lambda c: (c.source.paid_on or date.min, c.source.trace))
    if line.reason == "DUPLICATE_POSTING" and len(paid) == 1:
        return replace(line, evidence=f"remitted once: {paid[0].source.cite(paid[0].claim_id)}")
    others = [c for c in paid if c.source.trace != paid[0].source.trace] if paid else []
    if line.reason == "DUPLICATE_PAYMENT" and others:
        first, second = paid[0], others[0]
        return replace(line, evidence=f"remitted twice: {first.source.cite(first.claim_id)}; "
                                      f"{second.source.cite(second.claim_id)}")
    return line


@dataclass(frozen=True)
class Unmatched:
    """A line of the remittance report: what billing staff must post or look into."""

    kind: str  # "unposted cash", "takeback not posted", "unknown account", "claim on several accounts"
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
    row of the account (`transactions` None or empty), all of it as an unknown account."""
    if not transactions:
        return ([Unmatched("unknown account", account_id, c.claim_id, c.source.payer_id, c.paid,
                           c.source.cite(c.claim_id)) for c in evidence.claims]
                + [Unmatched("unknown account", account_id, tb.claim_id, tb.payer_id, tb.amount, tb.evidence)
                   for tb in evidence.takebacks])
    out = [Unmatched("unposted cash", account_id, c.claim_id, c.source.payer_id, c.paid, c.source.cite(c.claim_id))
           for c in evidence.claims if c.paid > ZERO and not c.reversal and not _posted_payment(c, transactions)]
    out += [Unmatched("takeback not posted", account_id, tb.claim_id, tb.payer_id, amount, tb.evidence)
            for tb, amount in open_takebacks(evidence, transactions)]
    return out


def _posted_payment(claim: ClaimPayment, transactions: list[Transaction]) -> bool:
    return any(t.txn_type == "PAYMENT" and -t.amount == claim.paid and t.claim_id == claim.claim_id
               and (t.payer_id or "") == claim.source.payer_id
               and (not t.reference or not claim.source.trace or t.reference == claim.source.trace)
               for t in transactions)
