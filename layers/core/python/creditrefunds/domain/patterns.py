"""Patterns that point to a billing problem (DOMAIN §11), each with its evidence. Pure.

- `spike`: a reason, payer, payer type or facility whose credits identified in a month reach at least the
  settings' multiple of its own mean over the six months before, and at least the settings' least count. Only
  months whose six before are all within the ledger's history are judged (before it, nothing was counted).
- `repeat_posting`: the same reference (a check, an EFT trace) posted twice again and again: a payment posted
  again (the same account, payer, reference and amount, on two rows neither of which was reversed) at least
  the settings' count of times under one reference: a posting process that double-posts.
- `recurring_credit`: an account in credit again within the settings' days of a refund on it, or on another
  account of its guarantor.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from creditrefunds.domain.ledger import Transaction
from creditrefunds.domain.settings import Settings
from creditrefunds.domain.trends import DIMENSIONS, Credit, month_of, shifted

EXAMPLES = 5  # example cases or references a pattern names


def spikes(credits: list[Credit], months: list[str], settings: Settings) -> list[dict[str, object]]:
    """Each (dimension, value, month) of `months` whose count spiked."""
    found: list[dict[str, object]] = []
    first_month = min((c.month for c in credits), default="9999-12")
    for dimension in DIMENSIONS:
        by_value: dict[str, dict[str, list[Credit]]] = {}
        for credit in credits:
            for value in credit.values(dimension):
                by_value.setdefault(value, {}).setdefault(credit.month, []).append(credit)
        for value, by_month in sorted(by_value.items()):
            for month in months:
                before = [shifted(month, -n) for n in range(6, 0, -1)]
                if before[0] <= first_month:
                    continue
                count = len(by_month.get(month, []))
                mean = Decimal(sum(len(by_month.get(m, [])) for m in before)) / 6
                if count < settings.trend_spike_min_count or count < settings.trend_spike_multiple * mean:
                    continue
                examples = by_month[month]
                found.append({
                    "kind": "spike", "dimension": dimension, "value": value, "month": month, "count": count,
                    "amount": f"{sum((c.values(dimension)[value] for c in examples), Decimal(0)):.2f}",
                    "trailing_mean": f"{mean:.2f}", "trailing_months": before,
                    "trailing_counts": [len(by_month.get(m, [])) for m in before],
                    "examples": [c.case_id for c in examples[:EXAMPLES]],
                })
    return found


def double_postings(transactions: Iterable[Transaction]) -> list[tuple[Transaction, Transaction]]:
    """(first, again) of each payment posted again: the same account, payer, reference and amount, neither of
    the two reversed."""
    payments, reversed_ids = [], set()
    for t in transactions:
        if t.txn_type == "REVERSAL" and t.reversal_of:
            reversed_ids.add(t.reversal_of)
        elif t.txn_type == "PAYMENT" and t.reference:
            payments.append(t)
    first: dict[tuple[str, tuple[str, str], str, Decimal], Transaction] = {}
    pairs = []
    for t in sorted(payments, key=lambda t: (t.posting_date, t.txn_id)):
        if t.txn_id in reversed_ids:
            continue
        key = (t.account_id, t.payer, t.reference or "", t.amount)
        if key in first:
            pairs.append((first[key], t))
        else:
            first[key] = t
    return pairs


def repeat_postings(transactions: Iterable[Transaction], months: list[str],
                    settings: Settings) -> list[dict[str, object]]:
    """Each payer's reference (a check, an EFT trace) posted again on an account at least the settings' least
    count of times, once in `months`: the same check double-posted again and again. A patient's reference is
    the guarantor's (two patients' checks may bear the same number)."""
    by_reference: dict[tuple[str, str], list[tuple[Transaction, Transaction]]] = {}
    for first, again in double_postings(transactions):
        payer_type, payer_id = again.payer
        payer = f"PATIENT {again.guarantor_id}" if payer_type == "PATIENT" else payer_id or payer_type
        by_reference.setdefault((payer, again.reference or ""), []).append((first, again))
    found: list[dict[str, object]] = []
    in_range = set(months)
    for (payer, reference), pairs in sorted(by_reference.items()):
        repeated_in = sorted({month_of(again.posting_date) for _, again in pairs})
        if len(pairs) < settings.trend_repeat_min_count or not in_range.intersection(repeated_in):
            continue
        found.append({
            "kind": "repeat_posting", "dimension": "payer", "value": payer, "reference": reference,
            "month": max(m for m in repeated_in if m in in_range), "count": len(pairs),
            "amount": f"{sum((-again.amount for _, again in pairs), Decimal(0)):.2f}", "months": repeated_in,
            "examples": [{"account_id": again.account_id, "txn_ids": [first.txn_id, again.txn_id],
                          "posted": [first.posting_date.isoformat(), again.posting_date.isoformat()]}
                         for first, again in pairs[:EXAMPLES]],
        })
    return found


def recurring_credits(credits: list[Credit], transactions: Iterable[Transaction], months: list[str],
                      settings: Settings) -> list[dict[str, object]]:
    """Each credit identified in `months` whose account, or another account of its guarantor, was paid back (a
    REFUND row not reversed) within the settings' days before this credit began."""
    txns = list(transactions)
    reversed_ids = {t.reversal_of for t in txns if t.txn_type == "REVERSAL" and t.reversal_of}
    refunds: dict[tuple[str, str], list[Transaction]] = {}
    for t in txns:
        if t.txn_type == "REFUND" and t.txn_id not in reversed_ids:
            refunds.setdefault(("account", t.account_id), []).append(t)
            refunds.setdefault(("guarantor", t.guarantor_id), []).append(t)
    found: list[dict[str, object]] = []
    in_range = set(months)
    for credit in credits:
        if credit.month not in in_range:
            continue
        for dimension, value in (("account", credit.account_id), ("guarantor", credit.guarantor_id)):
            earlier = [t for t in refunds.get((dimension, value), [])
                       if 0 <= (credit.began - t.posting_date).days <= settings.trend_recurring_days
                       and (dimension == "account" or t.account_id != credit.account_id)]
            if not earlier:
                continue
            last = max(earlier, key=lambda t: (t.posting_date, t.txn_id))
            found.append({
                "kind": "recurring_credit", "dimension": dimension, "value": value, "month": credit.month,
                "count": 1, "amount": f"{credit.amount:.2f}", "case_id": credit.case_id,
                "account_id": credit.account_id, "began": credit.began.isoformat(),
                "refund": {"account_id": last.account_id, "txn_id": last.txn_id, "amount": f"{last.amount:.2f}",
                           "posted": last.posting_date.isoformat()},
                "days_after_refund": (credit.began - last.posting_date).days,
                "examples": [credit.case_id],
            })
            break  # (the account's own refund says it; its guarantor's would say it again)
    return found
