"""The local cloud: the template's stack on moto, functions in-process, S3 and Step Functions wired."""

from __future__ import annotations

import collections
import json
import shutil
import threading
import time
import urllib.error
import urllib.request

import yaml
from localcloud.cloud import LocalCloud
from localcloud.template import sam_transform
from localcloud.web import function_url_event
from refunds_cli.demo import http, token_of

from tests.conftest import ROOT

from .conftest import all_cases, drop, refunds, rejected, wait_for_executions, wait_for_status


def test_every_template_resource_is_there(cloud):
    template = sam_transform(ROOT / "template.yaml")
    kinds = {r["Type"] for r in template.resources.values()}
    assert {"AWS::DynamoDB::Table", "AWS::Lambda::Function", "AWS::StepFunctions::StateMachine"} <= kinds
    dynamodb, lam, s3 = cloud.client("dynamodb"), cloud.client("lambda"), cloud.client("s3")
    for logical_id, resource in template.resources.items():
        name = cloud.stack.physical.get(logical_id)
        if resource["Type"] == "AWS::DynamoDB::Table":
            table = dynamodb.describe_table(TableName=name)["Table"]
            assert table["SSEDescription"]["Status"] == "ENABLED"
            backups = dynamodb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
            assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
        elif resource["Type"] == "AWS::Lambda::Function":
            config = lam.get_function(FunctionName=name)["Configuration"]
            assert config["Handler"] == resource["Properties"]["Handler"]
            env = config["Environment"]["Variables"]
            assert env["CASES_TABLE"] == cloud.outputs["CasesTableName"]
    bucket = cloud.outputs["LedgerBucketName"]
    encryption = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert encryption["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]["BlockPublicAcls"]
    notification = s3.get_bucket_notification_configuration(Bucket=bucket)["LambdaFunctionConfigurations"][0]
    assert notification["LambdaFunctionArn"].endswith(":function:" + cloud.outputs["IngestFunctionName"])
    definition = cloud.client("stepfunctions").describe_state_machine(
        stateMachineArn=cloud.outputs["RefundStateMachineArn"])["definition"]
    assert "${" not in definition and cloud.stack.functions["ReviewFunction"].arn in definition


def test_a_raising_handler_is_a_function_error(cloud):
    answer = cloud.client("lambda").invoke(
        FunctionName=cloud.stack.physical["ReviewFunction"], Payload=json.dumps({"case_id": "CB-NOPE"}).encode()
    )
    assert answer["FunctionError"] == "Unhandled"
    payload = json.load(answer["Payload"])
    assert payload["errorType"] == "CaseNotFound" and "CB-NOPE" in payload["errorMessage"]


def test_the_state_machine_catches_a_function_error_into_failed(cloud):
    sfn = cloud.client("stepfunctions")
    arn = cloud.outputs["RefundStateMachineArn"]
    started = sfn.start_execution(stateMachineArn=arn, name="missing-case", input=json.dumps({"case_id": "CB-GONE"}))
    [execution] = wait_for_executions(cloud, {"missing-case"})
    assert execution["status"] == "FAILED"
    deadline = time.monotonic() + 10  # the status can show a moment before the history's last events
    while (events := sfn.get_execution_history(executionArn=started["executionArn"])["events"])[-1]["type"] \
            != "ExecutionFailed":
        assert time.monotonic() < deadline, events[-1]
        time.sleep(0.2)
    failed = [e["taskFailedEventDetails"] for e in events if e["type"] == "TaskFailed"]
    assert failed[0]["error"] == "CaseNotFound"
    entered = [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]
    assert entered == ["Resume", "Review", "RecordFailure", "Failed"]


def test_a_file_in_incoming_reaches_ingest_and_opens_cases_once(cloud, tmp_path):
    s3 = cloud.client("s3")
    bucket = cloud.outputs["LedgerBucketName"]
    # The sample under accounts and row ids of its own: other tests drop the sample itself into this cloud,
    # and their cases (waiting, escalating, perhaps failed by then) are not this test's.
    sample = tmp_path / "sample.csv"
    sample.write_text((ROOT / "events/ledger-sample.csv").read_text().replace("ACC-", "LCA-").replace("\nS-", "\nLC-"))
    s3.upload_file(str(sample), bucket, "incoming/sample.csv")
    cloud.wait_idle()
    def sample_cases() -> dict[str, dict]:  # other tests share the cloud: keep to the sample's accounts
        return {i["account_id"]: i for i in all_cases(cloud) if i["account_id"].startswith("LCA-")}

    cases = sample_cases()
    assert sorted(cases) == ["LCA-1001", "LCA-2002", "LCA-3003", "LCA-4004", "LCA-5005"]
    assert cases["LCA-2002"]["credit"] == "3400.00"
    errors = rejected(cloud, "sample.csv", "errors.jsonl").decode()
    assert [json.loads(line)["txn_id"] for line in errors.splitlines()] == ["LC-0021", "LC-0022"]
    for account, status in (("LCA-3003", "WORK_ITEM"), ("LCA-4004", "WORK_ITEM"), ("LCA-1001", "AWAITING_APPROVAL")):
        wait_for_status(cloud, account, {status})
    names = {i["case_id"] for i in cases.values()}
    executions = cloud.client("stepfunctions").list_executions(
        stateMachineArn=cloud.outputs["RefundStateMachineArn"])["executions"]
    assert {e["name"] for e in executions} >= names
    work_item = cloud.table("CasesTableName").get_item(Key={"case_id": cases["LCA-3003"]["case_id"]})["Item"]
    assert work_item["status"] == "WORK_ITEM"

    # The same file again, under another name: nothing new is stored or opened.
    s3.upload_file(str(sample), bucket, "incoming/sample-again.csv")
    cloud.wait_idle()
    assert len(sample_cases()) == 5
    again = cloud.client("stepfunctions").list_executions(
        stateMachineArn=cloud.outputs["RefundStateMachineArn"])["executions"]
    assert len(again) == len(executions)


def test_an_unreadable_file_is_moved_to_rejected_with_its_reason(cloud):
    s3 = cloud.client("s3")
    bucket = cloud.outputs["LedgerBucketName"]
    s3.put_object(Bucket=bucket, Key="incoming/broken.csv", Body=b"account,amount\nA1,5\n")
    cloud.wait_idle()
    reason = rejected(cloud, "broken.csv", "reason.txt").decode()
    assert "missing required column(s)" in reason
    assert rejected(cloud, "broken.csv", "broken.csv") == b"account,amount\nA1,5\n"
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="incoming/broken.csv")


def test_function_urls_are_served_by_their_functions(cloud):
    unknown = cloud.outputs["ApprovalSiteUrl"] + "approve/unknown-id"
    status, page = http(unknown)  # nobody signed in: the console's sign-in, whatever the link
    assert status == 200 and "Sign in" in page
    status, page = http(unknown, token=token_of(cloud, "tier1.approver@example.org"))
    assert status == 404 and "unknown" in page
    try:
        urllib.request.urlopen(cloud.outputs["AuditApiUrl"] + "cases", timeout=10)
        raise AssertionError("the audit URL needs IAM authorisation")
    except urllib.error.HTTPError as error:
        assert error.code == 403


def test_a_table_and_function_added_to_the_template_appear_with_no_other_change(tmp_path):
    for part in ("functions", "layers", "statemachine", "samconfig.toml"):
        (tmp_path / part).symlink_to(ROOT / part)
    text = (ROOT / "template.yaml").read_text()
    addition = {
        "ExtraTable": {"Type": "AWS::DynamoDB::Table", "Properties": {
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}]}},
        "ExtraFunction": {"Type": "AWS::Serverless::Function", "Properties": {
            "CodeUri": "functions/approval_web/", "Handler": "app.lambda_handler"}},
    }
    extra = yaml.safe_dump(addition, default_flow_style=False)
    extra = "\n".join("  " + line for line in extra.splitlines())
    (tmp_path / "template.yaml").write_text(text.replace("\nResources:\n", "\nResources:\n" + extra + "\n", 1))
    with LocalCloud(tmp_path, stack_name="extra", quiet=True) as other:
        other.client("dynamodb").describe_table(TableName=other.stack.physical["ExtraTable"])
        event = function_url_event("GET", "/nowhere", {}, b"", "127.0.0.1")
        answer = other.client("lambda").invoke(FunctionName=other.stack.physical["ExtraFunction"],
                                               Payload=json.dumps(event).encode())
        assert json.load(answer["Payload"])["statusCode"] == 404
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_doctor_finds_the_stack_whole_and_says_how(cloud):
    found = refunds(cloud, "doctor", "--json")
    assert found.returncode == 0, found.stdout + found.stderr
    checks = {c["check"]: c for c in json.loads(found.stdout)}
    functions = [name for name, r in cloud.describe()["resources"].items() if name.endswith("Function")
                 and name in cloud.stack.functions]
    assert functions and all(checks[f"function {f}"]["status"] == "OK" for f in functions)
    # The local cloud's layer is built for this machine: its makefile compiled the detection pass, which
    # the ingest function (and every other) imports from the layer.
    assert checks["function IngestFunction"]["detail"].endswith("; compiled detection pass: in the layer)")
    buckets = [c for c in json.loads(found.stdout) if c["check"].startswith("bucket ")]
    assert {c["check"] for c in buckets} >= {"bucket SealBucket", "bucket OriginalsBucket", "bucket LedgerBucket"}
    assert all(c["status"] == "OK" for c in buckets), buckets  # encrypted, closed, locked, every object expires
    assert checks[f"mail sender {cloud.stack.functions['RequestApprovalFunction'].environment['SENDER_EMAIL']}"][
        "status"] == "OK"
    assert all(c["status"] == "OK" for name, c in checks.items() if name.startswith(("table ", "role ")))


def test_local_up_stops_on_sigterm_and_leaves_no_function_running():
    """`refunds local up` under a service manager: SIGTERM stops it, and its functions' workers with it."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    up = subprocess.Popen([sys.executable, "-m", "refunds_cli.main", "--stack-name", "sigterm", "local", "up",
                           "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        deadline = time.monotonic() + 120
        while "Ready." not in (line := up.stdout.readline()):
            assert line and time.monotonic() < deadline, "local up did not start"
        endpoint = f"http://127.0.0.1:{port}"
        ping = subprocess.run([sys.executable, "-m", "refunds_cli.main", "--endpoint-url", endpoint,
                               "--stack-name", "sigterm", "doctor"], capture_output=True, text=True, timeout=120)
        assert "OK   function ReviewFunction" in ping.stdout, ping.stdout + ping.stderr
        workers = [int(p) for p in subprocess.run(["pgrep", "-P", str(up.pid)], capture_output=True,
                                                  text=True).stdout.split()]
        assert workers, "the doctor's ping started no function worker"
        up.send_signal(signal.SIGTERM)
        assert up.wait(timeout=30) == 0
        for pid in workers:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                continue
            raise AssertionError(f"function worker {pid} outlived the local cloud")
    finally:
        if up.poll() is None:
            up.kill()


def _workflow_threads() -> collections.Counter[str]:
    """moto's Step Functions threads in this process, by what they run (Python names a thread after its
    target: an execution, its program, a task's timer)."""
    return collections.Counter(thread.name.rsplit("(", 1)[1].rstrip(")") for thread in threading.enumerate()
                               if thread.name.endswith(")") and "(" in thread.name)


def test_cases_waiting_for_approval_hold_one_thread_each(cloud):
    """A day's cases wait for their approvers at once: each waiting execution holds its own thread, and
    no program or task-timer thread besides (moto alone holds three per waiting execution)."""
    accounts = [f"THREAD-{n}" for n in range(12)]
    drop(cloud, "threads.csv", [
        line for account in accounts for line in (
            f"{account}-1,{account},P-{account},G-{account},CHARGE,100.00,2026-11-02,,,,,,,TX",
            f"{account}-2,{account},P-{account},G-{account},PAYMENT,-150.00,2026-11-09,PATIENT,,,CHK-1,,,TX")])
    for account in accounts:
        wait_for_status(cloud, account, {"AWAITING_APPROVAL"})
    threads = _workflow_threads()
    assert threads["_execution_logic"] >= len(accounts)
    assert threads["eval"] == 0  # no program thread: the state machines set no TimeoutSeconds
    assert threads["_exec_and_notify"] < len(accounts)  # only tasks running right now, not the waits
