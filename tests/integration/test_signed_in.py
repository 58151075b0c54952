"""On the local cloud: a mailed link decides only for the signed-in person it was sent to, with a recent
TOTP sign-in; the token is checked against moto's Cognito (its JWKS), the user read from its pool."""

from __future__ import annotations

import base64
import json

from localcloud.identity import sign_in
from refunds_cli.demo import decide_link, http, token_of

from tests.integration.conftest import case_of, drop, history_actions, wait_for_mail, wait_for_status

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
