"""On the local cloud: a mailed link decides only for the signed-in person it was sent to, with a recent
TOTP sign-in; the token is checked against moto's Cognito (its JWKS), the user read from its pool."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from creditrefunds.adapters.sessions import SessionStore, csrf_token
from localcloud import faults
from localcloud.identity import sign_in
from refunds_cli.demo import decide_link, http, token_of

from tests.integration.conftest import case_of, drop, history_actions, refunds, wait_for_mail, wait_for_status
from tests.integration.test_crash_safe import case_id

TIER1 = "tier1.approver@example.org"


def credit(account: str) -> list[str]:
    return [f"{account}-1,{account},P-{account},G-{account},CHARGE,100.00,2026-11-02,,,,,,\"Rivera, Ana\",TX",
            f"{account}-2,{account},P-{account},G-{account},PAYMENT,-150.00,2026-11-09,PATIENT,,,CHK-1,,"
            "\"Rivera, Ana\",TX"]


def user(cloud, email: str) -> dict:
    return next(u for u in cloud.users["users"] if u["email"] == email)


def test_only_the_signed_in_person_the_link_was_sent_to_decides(cloud):
    account = "SI-LOCAL"
    drop(cloud, "si-local.csv", credit(account))
    link = wait_for_mail(cloud, TIER1, account).links[0]
    approve = {"decision": "approve"}

    status, page = http(link)  # opened without a sign-in: redirected to the sign-in page
    assert status == 200 and "Sign in to the credit refunds console" in page and "SI-LOCAL" not in page
    status, page = http(link, approve)
    assert status == 401 and "Nothing was decided" in page

    status, page = decide_link(cloud, link, approve, as_="tier3.deputy@example.org")  # reads the approver's mail
    assert status == 403 and "sent to another person" in page
    case_id = case_of(cloud, account)["case_id"]
    refused = [(a, r) for a, r, _ in history_actions(cloud, case_id) if a == "REFUSED"]
    assert len(refused) == 1

    forged = _forged(token_of(cloud, TIER1))  # the approver's own token, its groups rewritten
    assert http(link, approve, forged)[0] == 401

    cognito, pool = cloud.client("cognito-idp"), cloud.outputs["UserPoolId"]
    cognito.admin_set_user_mfa_preference(UserPoolId=pool, Username="tier1.approver",
                                          SoftwareTokenMfaSettings={"Enabled": False, "PreferredMfa": False})
    try:
        without_code = sign_in(cognito, cloud.users["client_id"], user(cloud, TIER1))  # no code was asked
        status, page = http(link, approve, without_code)
        assert status == 401 and "authenticator code" in page
    finally:
        cognito.admin_set_user_mfa_preference(UserPoolId=pool, Username="tier1.approver",
                                              SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True})
    assert case_of(cloud, account)["status"] == "AWAITING_APPROVAL"

    status, page = decide_link(cloud, link, approve)
    assert status == 200 and "Decision recorded" in page
    wait_for_status(cloud, account, {"REFUND_ISSUED"})
    decided = [r for a, r, _ in history_actions(cloud, case_id) if a == "DECIDED"]
    assert len(decided) == 1


def _forged(token: str) -> str:
    head, body, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["cognito:groups"] = ["approver-tier-3"]
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"{head}.{forged}.{signature}"


def test_a_session_ends_when_idle_and_its_row_opens_for_nobody_else(cloud):
    """The console's sessions table: a row found by the cookie's id only, gone after 15 idle minutes."""
    data_key = cloud.describe()["resources"]["DataKey"]
    store = SessionStore(cloud.table("SessionsTableName"), cloud.client("kms"), data_key, 900)
    now = datetime.now(UTC)
    session_id = store.start("the-access-token", now)
    assert store.find(session_id, now + timedelta(minutes=14)).access_token == "the-access-token"
    assert store.find(session_id, now + timedelta(minutes=14 + 16)) is None  # idle for 16 minutes
    [row] = cloud.table("SessionsTableName").scan()["Items"][-1:]
    assert "the-access-token" not in str(row) and session_id not in str(row)  # sealed, and keyed by a hash
    assert store.find("another-id", now) is None
    other = store.start("token-2", now)
    assert store.find(other, now).form_ok(csrf_token(other)) and not store.find(other, now).form_ok(
        csrf_token(session_id))
    store.end(other)
    assert store.find(other, now) is None


def test_the_demo_users_are_listed_on_the_local_cloud_only(cloud):
    listed = refunds(cloud, "users", "--json")
    assert listed.returncode == 0, listed.stderr
    users = json.loads(listed.stdout)
    assert users["client_id"] == cloud.outputs["ConsoleClientId"]
    groups = sorted(g for u in users["users"] for g in u["groups"])
    assert groups == sorted(["billing-staff", "approver-tier-1", "approver-tier-2", "approver-tier-3",
                             "approver-tier-3", "compliance-officer", "auditor", "operator"])
    assert all(u["password"] and u["totp_secret"] and u["username"] and u["email"] for u in users["users"])
    against_aws = subprocess.run([sys.executable, "-m", "refunds_cli.main", "users", "--json"],
                                 capture_output=True, text=True, check=False, timeout=60,
                                 env={"PATH": "/usr/bin:/bin", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
                                      "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
                                      "PYTHONPATH": ":".join(sys.path)})
    assert against_aws.returncode != 0 and "local cloud" in against_aws.stderr + against_aws.stdout


def test_only_an_operator_retries_a_failed_case_and_the_history_names_them(cloud):
    account = "SI-RETRY"
    failing = faults.inject(cloud.function_name("ReviewFunction"), at=1, times=1000, about=case_id(account))
    try:
        drop(cloud, "si-retry.csv", credit(account))
        wait_for_status(cloud, account, {"FAILED"}, timeout=90)
    finally:
        faults.clear()
    assert failing.fired
    retry = f"{cloud.outputs['ApprovalSiteUrl']}cases/{case_id(account)}/retry"
    for who in ("billing@example.org", "auditor@example.org", "tier1.approver@example.org"):
        status, page = http(retry, {}, token_of(cloud, who))
        assert status == 403 and "Not for your role" in page
    status, page = http(retry, {}, token_of(cloud, "operator@example.org"))
    assert status == 200 and "RETRIED" in page  # back on the case's page
    wait_for_status(cloud, account, {"AWAITING_APPROVAL"})
    operator = cloud.client("cognito-idp").get_user(AccessToken=token_of(cloud, "operator@example.org"))
    sub = next(a["Value"] for a in operator["UserAttributes"] if a["Name"] == "sub")
    records = cloud.table("HistoryTableName").query(
        KeyConditionExpression="case_id = :c", ExpressionAttributeValues={":c": case_id(account)})["Items"]
    assert [r["actor"] for r in records if r["action"] == "RETRIED"] == [f"user:{sub}"]
