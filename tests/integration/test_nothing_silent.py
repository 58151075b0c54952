"""Nothing silent (issue 11): a dropped file whose ingest fails after Lambda's retries reaches the
ingest function's on-failure destination (an SQS queue under the data key) and is moved to
rejected/ with the error as its reason; operators are mailed; an alarm watches the queue."""

from __future__ import annotations

import time

import pytest
from localcloud.cloud import LocalCloud

from tests.conftest import ROOT

from .conftest import rejected


@pytest.fixture(scope="module")
def broken():
    """A stack deployed with a rule setting no function that applies the rules accepts."""
    with LocalCloud(ROOT, stack_name="broken-rules", quiet=True,
                    parameter_overrides={"RuleSettings": '{"small_balance_floor_default": "-1"}'}) as running:
        yield running


def test_a_file_that_fails_ingest_is_moved_to_rejected_and_operators_are_told(broken):
    s3, bucket = broken.client("s3"), broken.outputs["LedgerBucketName"]
    s3.upload_file(str(ROOT / "events/ledger-sample.csv"), bucket, "incoming/monday.csv")
    deadline = time.monotonic() + 30
    # The reason is written first, then the file leaves incoming/ (for the originals bucket): wait for both.
    while (reason_text := rejected(broken, "monday.csv", "reason.txt")) is None or \
            "Contents" in s3.list_objects_v2(Bucket=bucket, Prefix="incoming/"):
        assert time.monotonic() < deadline, "the failed file never left incoming/ for rejected/"
        time.sleep(0.3)
    reason = reason_text.decode()
    assert reason.startswith("ingest failed after its retries: ConfigError: ")
    assert "RuleSettings" in reason and "small_balance_floor_default" in reason
    assert rejected(broken, "monday.csv", "monday.csv") == (
        ROOT / "events/ledger-sample.csv").read_bytes()
    [mail] = [m for m in broken.mailbox.messages() if "monday.csv" in m.subject]
    assert mail.to == ["operators@example.org"] and "small_balance_floor_default" in mail.text
    queue = broken.stack.attributes["IngestFailuresQueue"]
    assert broken.client("sqs").get_queue_attributes(QueueUrl=queue["QueueUrl"], AttributeNames=["All"])[
        "Attributes"]["KmsMasterKeyId"]
    [alarm] = broken.client("cloudwatch").describe_alarms(AlarmNamePrefix="broken-rules-IngestFailuresAlarm")[
        "MetricAlarms"]
    assert alarm["Namespace"] == "AWS/SQS" and alarm["Dimensions"] == [{"Name": "QueueName",
                                                                         "Value": queue["QueueName"]}]
    assert alarm["AlarmActions"] == [broken.stack.physical["OperatorsTopic"]]

