"""`refunds demo`, the README's main command, tells the whole story and exits 0 (issue 4)."""

from __future__ import annotations

import subprocess
import sys


def test_the_demo_runs_the_story_end_to_end():
    done = subprocess.run([sys.executable, "-m", "refunds_cli.main", "demo"], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "POST Approve, signed in as the approver it was mailed to -> 200" in out and "POST Reject -> 200" in out
    assert "tier3.deputy (approver-tier-3)" in out  # the console's users, one per role
    assert "mailed to tier3.approver@example.org" in out and "the old tier-2 link now -> 410" in out
    assert ",ACC-1001,PATIENT,GUA-01,60.00,check,PATIENT_OVERPAYMENT," in out
    assert ",ACC-2002,MEDICARE,MAC-J1,3100.00,claim adjustment,MSP_OTHER_PRIMARY,ICN-2026213000101," in out
    # The contractor's 835 recouped ACC-8008's duplicate payment: no check, the link decides nothing.
    assert ("CORRECT PAYER_RECOUPED MEDICARE 1250.00: PLB WO of 1250.00: 835 remittance-sample.835, trace "
            "EFT-MCR-90, claim ICN-2026293000808, segment 17") in out
    assert "the approver's link now -> 410" in out and "no line for ACC-8008" in out
    assert "takeback not posted  account ACC-8008  claim ICN-2026293000808   1250.00" in out
    assert "6 cases: 2 REFUND_ISSUED, 4 WORK_ITEM" in out and "overdue: ACC-2002" in out
    assert "the escheat function writes: CHECK_STALE, LETTER_WRITTEN, ESCHEAT_REPORTABLE" in out
    assert "due-diligence-line0-" in out and "1 property, 4 records" in out  # HOLDER, PROPERTY, PROPADD, SUMINFO
    assert "sealed 6 case chain(s) into seals/" in out
    assert "OK: 6 case chain(s)" in out and "1 seal(s)" in out  # an untouched stack verifies whole
