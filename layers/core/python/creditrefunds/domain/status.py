"""Where a case stands (DOMAIN.md section 6)."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    OPEN = "OPEN"  # detected, in review
    AWAITING_APPROVAL = "AWAITING_APPROVAL"
    INVESTIGATING = "INVESTIGATING"
    APPROVED = "APPROVED"
    REFUND_ISSUED = "REFUND_ISSUED"
    WORK_ITEM = "WORK_ITEM"  # CORRECT, REVIEW or HOLD lines, or a rejected refund, for billing staff
    RECONCILED = "RECONCILED"  # the refund rows came back in a ledger
    RESOLVED_NO_REFUND = "RESOLVED_NO_REFUND"  # the credit went away
    FAILED = "FAILED"  # an error a person must see


OPEN = (Status.OPEN, Status.AWAITING_APPROVAL, Status.INVESTIGATING, Status.APPROVED, Status.REFUND_ISSUED,
        Status.WORK_ITEM)
CLOSED = (Status.RECONCILED, Status.RESOLVED_NO_REFUND, Status.FAILED)
RESOLVED = (Status.RECONCILED, Status.RESOLVED_NO_REFUND)
# The provider still holds the money: every open status before the refund went out, and FAILED.
STILL_OWED = (*(s for s in OPEN if s is not Status.REFUND_ISSUED), Status.FAILED)
