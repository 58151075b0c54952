"""Least privilege, shown (issues 11 and 12): every request a function makes on the local cloud is
authorised against its role as AWS would (with what S3, SQS and DynamoDB ask KMS as the caller, and
what Lambda's queue poller and on-failure destination do as the role). After the whole integration
run, every grant of every role was used, and nothing was refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from localcloud.cloud import LocalCloud
from localcloud.template import sam_transform

from tests.conftest import ROOT

from .conftest import case_of, drop, history_actions, refunds, wait_for_status
from .test_workflow import patient_credit

# Grants the code needs on AWS that the local cloud cannot make it use, each with why. Nothing else may
# go unused.
JUSTIFIED = {
    # A work item's case reviewed again into approval (a later file gave it refunds to make) closes its item;
    # the local tests close items only by reconciling or resolving, in ingest.
    ("ReviewFunction", "KeepTheWorklist: dynamodb:UpdateItem on"),
    # instructions_of reads a just-written instruction by its key when the by-account index lags the
    # write (DynamoDB indexes are eventually consistent); moto's indexes never lag.
    ("IngestFunction", "KeepRefundsPostedBack: dynamodb:GetItem on"),
    ("DetectBatchFunction", "KeepRefundsPostedBack: dynamodb:GetItem on"),
    ("RemitFunction", "ReadRefundsJustIssued:"),
    # A large file's accounts are detected with their remittance evidence as ingest's are (the remittance
    # tests verify it there); the fan-out tests carry no remittance.
    ("DetectBatchFunction", "VerifyRemittanceEvidence:"),
    # A return match is checked by whoever reads the instruction it marks; the local tests post few refunds
    # back, and read the instructions they mark only in the issue step.
    *((f, "MatchReadersVerify (") for f in ("AfterDecisionFunction", "DetectBatchFunction", "IngestFunction",
                                            "RemitFunction", "ReviewFunction", "SweepFunction")),
    # Instructions are read by Review's re-check and the remittance function's STOP alert only for an account
    # with a refund already issued; the local tests issue none on an account reviewed or remitted again.
    ("RemitFunction", "InstructionReadersVerify ("),
    ("ReviewFunction", "InstructionReadersVerify ("),
    # RequestApproval and the approval page read decided links when a case is asked or decided again after a
    # decision (dual control, an escalation after a late decision); the local tests do so rarely, if at all.
    ("RequestApprovalFunction", "DecisionReadersVerify ("),
    ("ApprovalWebFunction", "DecisionReadersVerify ("),
    # A withdrawal reads its link back only when its write landed and the answer was lost: shown for ingest
    # (test_crash_safe's lost replies); DetectBatch and the remittance function withdraw with the same code.
    ("DetectBatchFunction", "WithdrawChangedApprovals: dynamodb:GetItem on"),
    ("RemitFunction", "WithdrawChangedApprovals: dynamodb:GetItem on"),
    # The mail sender hands a mail back only when SES throttles or refuses it; it paces at the rate it reads,
    # so the local tests (SES at 1 mail a second) may see none.
    ("MailSenderFunction", "TakeQueuedMailAndHandBackWhatWasNotSent: sqs:ChangeMessageVisibility on"),
    # The issue step reads the account's instructions (instructions_of); a match is checked only where one was
    # posted back, which the local tests do not do on an account issued again. (It read every instruction of
    # the day when it rendered the day's AP file.)
    ("IssueRefundFunction", "MatchReadersVerify ("),
}


@pytest.mark.after_all
def test_every_function_role_allows_exactly_what_its_code_calls(cloud, request):
    """Each grant of each role (action on resource) was used by a request the local cloud authorised,
    or AWS uses it on the function's behalf; and nothing the functions asked for was refused. The
    per-role account is written to .aws-sam/iam-report.json."""
    if hasattr(request.config, "workerinput"):
        pytest.skip("each test worker has its own local cloud, which sees only its share of the calls")
    collected = {Path(str(item.path)).name for item in request.session.items}
    if not {p.name for p in (ROOT / "tests" / "integration").glob("test_*.py")} <= collected:
        pytest.skip("run the whole integration suite: only it sees every call")
    template = sam_transform(ROOT / "template.yaml")
    problems, report = [], {}
    for function in sorted(k for k, r in template.resources.items() if r["Type"] == "AWS::Lambda::Function"):
        role = cloud.stack.physical[f"{function}Role"]
        unused = cloud.iam.unused(role)
        report[function] = {"role": role, "used": sorted(f"{a} on {r}" for a, r in cloud.iam.used[role]),
                            "unused": unused}
        if unexplained := [u for u in unused if not any(f == function and u.startswith(why) for f, why in JUSTIFIED)]:
            problems.append(f"{function} is granted what its code never calls: {unexplained}")
    if refused := sorted({f"{f}: {r.action} on {r.resource}" for f, r in cloud.iam.refused}):
        problems.append(f"calls refused as AWS would refuse them: {refused}")
    (ROOT / ".aws-sam").mkdir(exist_ok=True)
    (ROOT / ".aws-sam" / "iam-report.json").write_text(json.dumps(report, indent=1))
    assert not problems, "\n".join(problems)


def test_a_permission_the_code_needs_taken_away_fails_the_step_as_aws_would(tmp_path):
    """The review step reads the account's refunds in flight on the refunds table's by-account index. Its
    role granted on another index of the same table instead: AWS refuses the query, and so does the local
    cloud. The case lands in FAILED with its history, and the refusal names the action and the ARN."""
    for part in ("functions", "layers", "statemachine", "samconfig.toml"):
        (tmp_path / part).symlink_to(ROOT / part)
    text = (ROOT / "template.yaml").read_text()
    review = text.index("  ReviewFunction:\n")
    needed = ('            - Sid: ReadRefundsInFlight\n              Effect: Allow\n'
              '              Action: [dynamodb:Query]\n'
              '              Resource: !Sub "${RefundsTable.Arn}/index/by-account"\n')
    at = text.index(needed, review)
    (tmp_path / "template.yaml").write_text(
        text[:at] + needed.replace("by-account", "by-case") + text[at + len(needed):])
    with LocalCloud(tmp_path, stack_name="narrow", quiet=True,
                    # moto's SES is one per process: this stack mails from its own sender, which it may delete.
                    parameter_overrides={"SealSchedule": "rate(1 day)", "SweepSchedule": "rate(1 day)",
                                         "SenderEmail": "narrow.refunds@example.org"}) as narrow:
        drop(narrow, "iam-narrow.csv", patient_credit("IAM-NARROW"))
        case = wait_for_status(narrow, "IAM-NARROW", {"FAILED"}, timeout=90)
        assert ("FAILED", "OPEN", "FAILED") in history_actions(narrow, case["case_id"])
        refused = {(function.rsplit("-", 1)[-1], r.action, r.resource) for function, r in narrow.iam.refused}
        refunds_index = f"table/{narrow.outputs['RefundsTableName']}/index/by-account"
        assert any(f == "ReviewFunction" and a == "dynamodb:Query" and r.endswith(refunds_index)
                   for f, a, r in refused), refused
        assert case_of(narrow, "IAM-NARROW")["status"] == "FAILED"
        # The doctor says what else would stop this stack: a sender no longer verified.
        sender = narrow.stack.functions["RequestApprovalFunction"].environment["SENDER_EMAIL"]
        narrow.client("ses").delete_identity(Identity=sender)
        found = refunds(narrow, "--stack-name", "narrow", "doctor")
        assert found.returncode == 1 and f"FAIL mail sender {sender}: not verified" in found.stdout, found.stdout
    shutil.rmtree(tmp_path, ignore_errors=True)
