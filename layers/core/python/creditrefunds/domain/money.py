"""Money is Decimal with exactly two places, end to end."""

from __future__ import annotations

from decimal import Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def money(value: str | int | Decimal) -> Decimal:
    """A Decimal amount with two places (exact input only: no float ever reaches here)."""
    return Decimal(value).quantize(CENT)


def money_text(value: Decimal) -> str:
    """The wire form: a string with exactly two decimals, e.g. "60.00"."""
    return f"{value.quantize(CENT):f}"
