"""Patterns that point to a billing problem (DOMAIN §11), each with its evidence. Pure.

- `spike`: a reason, payer, payer type or facility whose credits identified in a month reach at least the
  settings' multiple of its own mean over the six months before, and at least the settings' least count. Only
  months whose six before all come after the first month with a credit are judged: before it the ledger has
  no history, and that first month is likely cut short by the extract.
- `repeat_posting`: a posting process that double-posts. A payment is posted again when a later row has the
  same account, payer, reference, amount and claim (DOMAIN §3 step 1) while the first was still standing (a
  posting reversed and then posted again is a correction, not a double posting; an extra copy reversed later
  still counts: the process posted it). Raised for a payer whose double postings in a month spike by the rule
  above, and for one reference posted again at least the least count of times (a remittance posted twice
  whole, a check posted again and again).
- `recurring_credit`: an account in credit again within the settings' days of a refund on it, or a guarantor
  in patient credit again within those days of a patient refund on another of its accounts. A refund reversed
  later (a voided check) was not one. A payer's recoupment is not a refund here: an underpayment recouped and
  paid again is how payers correct a claim, not a credit coming back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from creditrefunds.domain.ledger import Transaction
from creditrefunds.domain.settings import Settings
from creditrefunds.domain.trends import DIMENSIONS, Credit, month_of, shifted

EXAMPLES = 5  # example cases or references a pattern names


def _trailing(month: str) -> list[str]:
    return [shifted(month, -n) for n in range(6, 0, -1)]


def _spiked(counts: dict[str, int], month: str, first_month: str, settings: Settings) -> dict[str, object] | None:
    """The evidence that `month`'s count spiked against its six months before, or None."""
    before = _trailing(month)
    if before[0] <= first_month:
        return None
    count = counts.get(month, 0)
    mean = Decimal(sum(counts.get(m, 0) for m in before)) / 6
    if count < settings.trend_spike_min_count or count < settings.trend_spike_multiple * mean:
        return None
    return {"count": count, "trailing_mean": f"{mean:.2f}", "trailing_months": before,
            "trailing_counts": [counts.get(m, 0) for m in before]}


def spikes(credits: list[Credit], months: list[str], settings: Settings) -> list[dict[str, object]]:
    """Each (dimension, value, month) of `months` whose credits identified spiked."""
    found: list[dict[str, object]] = []
    first_month = min((c.month for c in credits), default="9999-12")
    for dimension in DIMENSIONS:
        by_value: dict[str, dict[str, list[Credit]]] = {}
        for credit in credits:
            for value in credit.values(dimension):
                by_value.setdefault(value, {}).setdefault(credit.month, []).append(credit)
        for value, by_month in sorted(by_value.items()):
            counts = {m: len(cs) for m, cs in by_month.items()}
            for month in months:
                evidence = _spiked(counts, month, first_month, settings)
                if evidence is not None:
                    examples = by_month[month]
                    found.append({
                        "kind": "spike", "dimension": dimension, "value": value, "month": month, **evidence,
                        "amount": f"{sum((c.values(dimension)[value] for c in examples), Decimal(0)):.2f}",
                        "examples": [c.case_id for c in examples[:EXAMPLES]],
                    })
    return found


def reversed_on(transactions: Iterable[Transaction]) -> dict[str, Transaction]:
    """The REVERSAL of each transaction a reversal cancels, by the cancelled one's txn_id (the first, by date)."""
    reversals: dict[str, Transaction] = {}
    for t in transactions:
        if t.txn_type == "REVERSAL" and t.reversal_of:
            seen = reversals.get(t.reversal_of)
            if seen is None or (t.posting_date, t.txn_id) < (seen.posting_date, seen.txn_id):
                reversals[t.reversal_of] = t
    return reversals


def double_postings(transactions: Sequence[Transaction]) -> list[tuple[Transaction, Transaction]]:
    """(first, again) of each payment posted again while the first still stood."""
    reversals = reversed_on(transactions)
    standing: dict[tuple[str, tuple[str, str], str, str, Decimal], Transaction] = {}
    pairs = []
    payments = (t for t in transactions if t.txn_type == "PAYMENT" and t.reference)
    for t in sorted(payments, key=lambda t: (t.posting_date, t.txn_id)):
        key = (t.account_id, t.payer, t.reference or "", t.claim_id or "", t.amount)
        first = standing.get(key)
        undone = reversals.get(first.txn_id) if first is not None else None
        if first is not None and (undone is None or undone.posting_date > t.posting_date):
            pairs.append((first, t))
        else:
            standing[key] = t
    return pairs


def _payer_of(t: Transaction) -> str:
    payer_type, payer_id = t.payer
    return f"PATIENT {t.guarantor_id}" if payer_type == "PATIENT" else payer_id or payer_type


def _pair_evidence(pairs: list[tuple[Transaction, Transaction]]) -> dict[str, object]:
    return {"amount": f"{sum((-again.amount for _, again in pairs), Decimal(0)):.2f}",
            "examples": [{"account_id": again.account_id, "reference": again.reference,
                          "txn_ids": [first.txn_id, again.txn_id],
                          "posted": [first.posting_date.isoformat(), again.posting_date.isoformat()]}
                         for first, again in pairs[:EXAMPLES]]}


def repeat_postings(transactions: Sequence[Transaction], months: list[str],
                    settings: Settings) -> list[dict[str, object]]:
    """A payer's double postings that spiked in a month, and each reference posted again and again."""
    pairs = double_postings(transactions)
    found: list[dict[str, object]] = []
    by_payer: dict[str, dict[str, list[tuple[Transaction, Transaction]]]] = {}
    by_reference: dict[tuple[str, str], list[tuple[Transaction, Transaction]]] = {}
    for first, again in pairs:
        payer = "PATIENT" if again.payer[0] == "PATIENT" else _payer_of(again)
        by_payer.setdefault(payer, {}).setdefault(month_of(again.posting_date), []).append((first, again))
        by_reference.setdefault((_payer_of(again), again.reference or ""), []).append((first, again))
    first_month = month_of(min(t.posting_date for t in transactions)) if transactions else "9999-12"
    for payer, by_month in sorted(by_payer.items()):
        counts = {m: len(ps) for m, ps in by_month.items()}
        for month in months:
            evidence = _spiked(counts, month, first_month, settings)
            if evidence is not None:
                found.append({"kind": "repeat_posting", "dimension": "payer", "value": payer, "month": month,
                              **evidence, **_pair_evidence(by_month[month])})
    in_range = set(months)
    for (payer, reference), posted_again in sorted(by_reference.items()):
        repeated_in = sorted({month_of(again.posting_date) for _, again in posted_again})
        if len(posted_again) < settings.trend_spike_min_count or not in_range.intersection(repeated_in):
            continue
        found.append({
            "kind": "repeat_posting", "dimension": "reference", "value": payer, "reference": reference,
            "month": max(m for m in repeated_in if m in in_range), "count": len(posted_again), "months": repeated_in,
            **_pair_evidence(posted_again)})
    return found


def recurring_credits(credits: list[Credit], transactions: Iterable[Transaction], months: list[str],
                      settings: Settings) -> list[dict[str, object]]:
    """Each credit identified in `months` that came within the settings' days of a refund: on its own account,
    or (a patient credit) a patient refund on another account of its guarantor."""
    txns = list(transactions)
    reversals = reversed_on(txns)
    by_account: dict[str, list[Transaction]] = {}
    by_guarantor: dict[str, list[Transaction]] = {}
    for t in txns:
        if t.txn_type == "REFUND" and t.txn_id not in reversals:
            by_account.setdefault(t.account_id, []).append(t)
            if t.payer_type == "PATIENT":
                by_guarantor.setdefault(t.guarantor_id, []).append(t)
    found: list[dict[str, object]] = []
    in_range = set(months)
    for credit in credits:
        if credit.month not in in_range:
            continue
        patient = any(part.payer_type == "PATIENT" for part in credit.parts)
        for dimension, value, paid_back in (
                ("account", credit.account_id, by_account.get(credit.account_id, [])),
                ("guarantor", credit.guarantor_id, [t for t in by_guarantor.get(credit.guarantor_id, [])
                                                    if patient and t.account_id != credit.account_id])):
            earlier = [t for t in paid_back if 0 <= (credit.began - t.posting_date).days
                       <= settings.trend_recurring_days]
            if not earlier:
                continue
            last = max(earlier, key=lambda t: (t.posting_date, t.txn_id))
            found.append({
                "kind": "recurring_credit", "dimension": dimension, "value": value, "month": credit.month,
                "count": 1, "amount": f"{credit.amount:.2f}", "case_id": credit.case_id,
                "account_id": credit.account_id, "began": credit.began.isoformat(),
                "paid_back": {"account_id": last.account_id, "txn_id": last.txn_id, "txn_type": last.txn_type,
                              "amount": f"{last.amount:.2f}", "posted": last.posting_date.isoformat()},
                "days_after": (credit.began - last.posting_date).days,
                "examples": [credit.case_id],
            })
            break  # (the account's own refund says it; its guarantor's would say it again)
    return found


def counted_spikes(counters: Mapping[str, Mapping[str, Mapping[str, Any]]], months: list[str],
                   settings: Settings) -> list[dict[str, object]]:
    """The spikes of the deployed history's counters (domain/rollups.py: key -> month -> counter): each
    `<dimension>#<value>` judged as `spikes` judges a ledger's, its examples the cases the counter kept.
    Double postings spiking for a payer (`duplicate_posting#<payer>`) are `repeat_posting`."""
    everything = counters.get("all", {})
    first_month = min((m for m, c in everything.items() if int(c.get("identified_count", 0))), default="9999-12")
    found: list[dict[str, object]] = []
    for key, by_month in sorted(counters.items()):
        dimension, _, value = key.partition("#")
        if not value:
            continue
        counts = {m: int(c.get("identified_count", 0)) for m, c in by_month.items()}
        for month in months:
            evidence = _spiked(counts, month, first_month, settings)
            if evidence is not None:
                counter = by_month.get(month, {})
                kind, dimension_named = (("repeat_posting", "payer") if dimension == "duplicate_posting"
                                         else ("spike", dimension))
                found.append({"kind": kind, "dimension": dimension_named, "value": value, "month": month,
                              **evidence, "amount": f"{Decimal(str(counter.get('identified_amount', 0))):.2f}",
                              "examples": list(counter.get("examples", []))[:EXAMPLES]})
    return sorted(found, key=lambda p: (str(p["month"]), str(p["kind"]), str(p["dimension"]), str(p["value"])))
