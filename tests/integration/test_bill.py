"""Issue 32: the local cloud counts what it serves the product as AWS bills it (what `bench/bill.py` turns
into a monthly cost): one refund, taken the whole way, shows up under the functions that did each part."""

from __future__ import annotations

import time

from .conftest import drop, wait_for_status
from .test_crash_safe import approve_the_waiting_link
from .test_workflow import patient_credit

STEPS = ("ReviewFunction", "RequestApprovalFunction", "AfterDecisionFunction", "IssueRefundFunction",
         "MailSenderFunction")


def mine(reading, function: str) -> str:
    return next((who for who in {*reading.invocations, *reading.write_units} if who.endswith(f"-{function}")), "")


def test_one_refund_is_metered_under_the_functions_and_the_workflow_that_made_it(cloud):
    before = cloud.meter.reading()
    drop(cloud, "metered.csv", patient_credit("METER-1"))
    approve_the_waiting_link(cloud, "METER-1", approver=None)
    assert wait_for_status(cloud, "METER-1", {"REFUND_ISSUED"})["status"] == "REFUND_ISSUED"
    deadline = time.monotonic() + 30  # an invocation is metered as it returns: the issue step set the status before
    while True:
        since = cloud.meter.reading() - before
        if all(since.invocations[mine(since, step)] for step in STEPS) or time.monotonic() > deadline:
            break
        time.sleep(0.5)

    ingest = mine(since, "IngestFunction")
    assert since.write_units[ingest] >= 2  # at least its two rows, as DynamoDB write units
    for step in STEPS:
        name = mine(since, step)
        assert since.invocations[name] >= 1 and since.gb_seconds[name] > 0, step
    issue = mine(since, "IssueRefundFunction")
    assert since.requests[(issue, "s3:PutObject")] >= 1  # the instruction's AP file
    assert since.write_units[issue] >= 2 and since.read_units[issue] > 0
    assert sum(n for machine, n in since.transitions.items() if machine.endswith("workflow")) >= 6
    # Over the whole session: only the mail sender ever called SES (every other function queues its mail).
    senders = {who for (who, operation) in cloud.meter.reading().requests if operation.startswith("ses:Send")}
    assert senders and all(who.endswith("-MailSenderFunction") for who in senders), senders
