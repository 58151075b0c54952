"""Issue 32: nothing stops silently. The scheduled seal, sweep and trends' roll-up have an on-failure
destination; an alarm watches it, and others fire when no seal or sweep is counted at all. The operations
dashboard shows the product's own figures. (A module of its own: the session's local cloud must not start
inside another.)"""

from __future__ import annotations

import json

import pytest
from localcloud import faults


@pytest.mark.parametrize("function", ["SealHistoryFunction", "SweepFunction", "RollUpFunction", "EscheatFunction"])
def test_a_scheduled_run_that_fails_after_lambda_s_retries_is_kept(cloud, function):
    name = cloud.function_name(function)
    crash = faults.inject(name, at=1, times=3)  # its first call, in the run and in Lambda's two retries
    try:
        cloud.client("lambda").invoke(FunctionName=name, InvocationType="Event",
                                      Payload=json.dumps({"source": "aws.events"}).encode())
        cloud.wait_idle()
    finally:
        faults.clear()
    assert crash.fired == 3
    queue = cloud.stack.attributes["ScheduledFailuresQueue"]
    [kept] = cloud.client("sqs").receive_message(QueueUrl=queue["QueueUrl"], WaitTimeSeconds=1)["Messages"]
    cloud.client("sqs").delete_message(QueueUrl=queue["QueueUrl"], ReceiptHandle=kept["ReceiptHandle"])
    record = json.loads(kept["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert f":function:{name}:" in record["requestContext"]["functionArn"]


def test_the_alarms_watch_what_could_stop_and_the_dashboard_shows_the_products_figures(cloud):
    alarms = {a["AlarmName"].split("-", 2)[-1]: a for a in cloud.client("cloudwatch").describe_alarms(
        AlarmNamePrefix=cloud.stack_name)["MetricAlarms"]}
    topic = cloud.stack.physical["OperatorsTopic"]
    watched = {name: (a["Namespace"], a["MetricName"], a["TreatMissingData"]) for name, a in alarms.items()
               if a["AlarmActions"] == [topic]}
    assert {("AWS/SQS", "NumberOfMessagesSent", "notBreaching"), ("CreditRefunds", "HistorySealed", "breaching"),
            ("CreditRefunds", "Swept", "breaching"), ("AWS/States", "ExecutionsFailed", "notBreaching"),
            ("AWS/SQS", "ApproximateAgeOfOldestMessage", "notBreaching")} <= set(
        watched.values())
    body = json.loads(cloud.client("cloudwatch").get_dashboard(
        DashboardName=f"{cloud.stack_name}-operations")["DashboardBody"])
    shown = {m[1] for w in body["widgets"] if w["type"] == "metric" for m in w["properties"]["metrics"]
             if m[1] != "."}
    assert {"FilesStored", "RowsRead", "CasesOpened", "ApprovalsAsked", "RefundsIssued", "CasesFailed", "SealAge",
            "ExecutionsFailed"} <= shown


def test_the_daily_whole_sweep_finds_a_case_taken_out_of_the_index(cloud):
    """A writer of the tables takes a worked case out of the to-check index after its run ended: the daily
    schedule's constant input makes the sweeper read every working case by status (under its own role,
    which may read the by-status index), and the case is FAILED for a person."""
    import time

    from .conftest import case_of, drop, wait_for_status
    from .test_crash_safe import approve_the_waiting_link
    from .test_workflow import patient_credit

    drop(cloud, "whole-sweep.csv", patient_credit("WHOLE-1"))
    approve_the_waiting_link(cloud, "WHOLE-1", approver=None)
    case_id = wait_for_status(cloud, "WHOLE-1", {"REFUND_ISSUED"})["case_id"]
    cloud.table("CasesTableName").update_item(  # its run has ended; the case says APPROVED, out of the index
        Key={"case_id": case_id}, UpdateExpression="SET #s = :a REMOVE check_at, check_shard",
        ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues={":a": "APPROVED"})
    time.sleep(3.5)  # past the test cloud's sweep grace
    answer = cloud.client("lambda").invoke(FunctionName=cloud.function_name("SweepFunction"),
                                           Payload=b'{"whole": true}')  # the WholeDaily schedule's Input
    swept = json.load(answer["Payload"])
    assert "FunctionError" not in answer, swept
    assert case_id in {s["case_id"] for s in swept["stuck"]}
    assert case_of(cloud, "WHOLE-1")["status"] == "FAILED"
