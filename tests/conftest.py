from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def cloud() -> Iterator:
    """One local cloud for the integration and browser tests, its waits in seconds, so that
    escalations and investigations happen within a test."""
    from localcloud.cloud import LocalCloud

    waits = {"ApprovalWaitTier1Seconds": "8", "ApprovalWaitTier2Seconds": "8", "ApprovalWaitTier3Seconds": "8",
             "EscalationLeadSeconds": "2", "SecondsPerDay": "1", "InvestigationPauseSeconds": "3",
             # Files over 10 kB take the fan-out, 40 rows a part, and its accounts are detected
             # 10 at a time: the split path runs in the tests too.
             "SplitThresholdBytes": "10000", "RowsPerPart": "40", "DetectBatchAccounts": "10",
             # Dual control from tier 3: its second approver is the tier-2 one, so that a test can show
             # both two different people approving and one who decided at tier 2 refused at tier 3.
             "ApproverTier3Email": "tier3.approver@example.org,tier2.approver@example.org",
             # The tests seal when they mean to (`refunds audit seal`), not on a clock.
             "SealSchedule": "rate(1 day)",
             # The sweeper runs when a test invokes it, and may touch a case quiet for 3 seconds.
             "SweepSchedule": "rate(1 day)", "SweepGraceSeconds": "3"}
    with LocalCloud(ROOT, quiet=True, parameter_overrides=waits) as running:
        yield running


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked after_all run last: they look at what the whole run did."""
    items[:] = sorted(items, key=lambda item: item.get_closest_marker("after_all") is not None)
