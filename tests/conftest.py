from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parents[1]
HOLDER = {"name": "Saint Ann's Test Hospital", "npi": "1234567893", "tax_id": "74-1234567", "address": "1 Ward Way",
          "city": "Austin", "state": "TX", "zip": "78701", "incorporation_state": "TX"}

# CI explores the same examples on every run (Hypothesis's advice for CI: a red run then means a change, not
# a lucky draw); a developer's run draws new ones, and keeps what failed in .hypothesis/.
settings.register_profile("ci", derandomize=True, database=None)
settings.load_profile("ci" if os.environ.get("CI") else "default")


@pytest.fixture(scope="session")
def cloud() -> Iterator:
    """One local cloud for the integration and browser tests, its waits in seconds, so that
    escalations and investigations happen within a test."""
    from localcloud.cloud import LocalCloud

    # Tier 3 re-asks its approvers every wait until someone decides: every case a test leaves waiting mails two
    # people each time, all session long, so its wait is longer (the mail queue keeps up on two cores).
    waits = {"ApprovalWaitTier1Seconds": "8", "ApprovalWaitTier2Seconds": "8", "ApprovalWaitTier3Seconds": "30",
             "EscalationLeadSeconds": "2", "SecondsPerDay": "1", "InvestigationPauseSeconds": "3",
             # Files over 10 kB take the fan-out, 40 rows a part, and its accounts are detected
             # 10 at a time: the split path runs in the tests too.
             "SplitThresholdBytes": "10000", "RowsPerPart": "40", "DetectBatchAccounts": "10",
             # Dual control from tier 3: its second approver is the tier-2 one, so that a test can show
             # both two different people approving and one who decided at tier 2 refused at tier 3.
             "ApproverTier3Email": "tier3.approver@example.org,tier2.approver@example.org",
             # The tests seal when they mean to (`refunds audit seal`), not on a clock.
             "SealSchedule": "rate(1 day)", "TrendsSchedule": "rate(1 day)", "EscheatSchedule": "rate(1 day)",
             # The sweeper runs when a test invokes it, and may touch a case quiet for 3 seconds.
             "SweepSchedule": "rate(1 day)", "SweepGraceSeconds": "3",
             # A holder of its own (not the example's): a state report is recorded as filed.
             "RuleSettings": json.dumps({"unclaimed": {"holder": HOLDER}})}
    with LocalCloud(ROOT, quiet=True, parameter_overrides=waits, demo_users=True) as running:
        # The tier-2 approver listed for tier 3 holds that authority in the pool too.
        running.client("cognito-idp").admin_add_user_to_group(
            UserPoolId=running.outputs["UserPoolId"], Username="tier2.approver", GroupName="approver-tier-3")
        yield running


# Tiers: what needs the local cloud (or any socket) is marked `integration`, by where it lives; everything else
# (the rules, the use-cases over the in-memory ports, the offline checks) runs with sockets disabled in
# `make check`. The contract suite marks its own local-cloud half.
LOCAL_CLOUD = ("integration", "e2e")
LOCAL_CLOUD_UNITS = ("test_local_dynamodb.py", "test_local_s3.py", "test_local_server.py")  # moto's patches


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the local cloud's tests `integration`; tests marked after_all run last (they look at what the
    whole run did)."""
    for item in items:
        path = Path(str(item.fspath)).relative_to(ROOT / "tests")
        if path.parts[0] in LOCAL_CLOUD or path.name in LOCAL_CLOUD_UNITS:
            item.add_marker(pytest.mark.integration)
    items[:] = sorted(items, key=lambda item: item.get_closest_marker("after_all") is not None)
