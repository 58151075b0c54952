from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from refunds_cli.localcloud.cloud import LocalCloud

from tests.conftest import ROOT


@pytest.fixture(scope="session")
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud(ROOT, quiet=True) as running:
        yield running


def wait_for_executions(cloud: LocalCloud, count: int, timeout: float = 60.0) -> list[dict]:
    """The state machine's executions once `count` exist and none is running."""
    sfn = cloud.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while True:
        executions = sfn.list_executions(stateMachineArn=cloud.outputs["RefundStateMachineArn"])["executions"]
        if len(executions) >= count and all(e["status"] != "RUNNING" for e in executions):
            return executions
        assert time.monotonic() < deadline, f"executions did not settle: {executions}"
        time.sleep(0.3)
