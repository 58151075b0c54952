"""Argument types the commands share: dates and amounts refused with a clear message."""

from __future__ import annotations

import argparse
from datetime import date
from decimal import Decimal, InvalidOperation


def iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date (YYYY-MM-DD): {text!r}") from None


def positive_amount(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not an amount: {text!r}") from None
    if not value.is_finite() or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive amount: {text!r}")
    return value.quantize(Decimal("0.01"))
