"""The console's sign-in steps against the pool's answers (botocore's Stubber plays Cognito's documented
responses: moto gives a never-enrolled user a token at once, where AWS asks it to set up an authenticator)."""

from __future__ import annotations

import boto3
from botocore.stub import Stubber
from creditrefunds.adapters.pool_signin import FAILED, PoolSignIn

S1, S2, S3, S9 = (f"session-{n}-" + "x" * 20 for n in (1, 2, 3, 9))  # Cognito's sessions are 20+ characters


def pool() -> tuple[PoolSignIn, Stubber]:
    client = boto3.client("cognito-idp", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    return PoolSignIn(client, "console-client"), Stubber(client)


def test_a_first_sign_in_sets_up_the_authenticator_then_signs_in():
    signin, stub = pool()
    stub.add_response("initiate_auth", {"ChallengeName": "MFA_SETUP", "Session": S1, "ChallengeParameters": {}},
                      {"ClientId": "console-client", "AuthFlow": "USER_PASSWORD_AUTH",
                       "AuthParameters": {"USERNAME": "newcomer", "PASSWORD": "pw"}})
    stub.add_response("associate_software_token", {"SecretCode": "JBSWY3DPEHPK3PXP", "Session": S2},
                      {"Session": S1})
    stub.add_response("verify_software_token", {"Status": "SUCCESS", "Session": S3},
                      {"Session": S2, "UserCode": "123456", "FriendlyDeviceName": "credit refunds console"})
    stub.add_response("respond_to_auth_challenge", {"AuthenticationResult": {"AccessToken": "the-token"}},
                      {"ClientId": "console-client", "ChallengeName": "MFA_SETUP", "Session": S3,
                       "ChallengeResponses": {"USERNAME": "newcomer"}})
    with stub:
        first = signin.password("newcomer", "pw")
        assert (first.challenge, first.session, first.secret) == ("MFA_SETUP", S2, "JBSWY3DPEHPK3PXP")
        assert not first.token
        assert signin.enroll("newcomer", first.session, " 123456 ").token == "the-token"
    stub.assert_no_pending_responses()


def test_a_wrong_code_or_password_signs_nobody_in_and_says_so_plainly():
    signin, stub = pool()
    stub.add_response("initiate_auth", {"ChallengeName": "SOFTWARE_TOKEN_MFA", "Session": S1,
                                        "ChallengeParameters": {}})
    stub.add_client_error("respond_to_auth_challenge", "CodeMismatchException", "Invalid code")
    stub.add_client_error("initiate_auth", "NotAuthorizedException", "Incorrect username or password.")
    stub.add_response("initiate_auth", {"ChallengeName": "NEW_PASSWORD_REQUIRED", "Session": S9,
                                        "ChallengeParameters": {}})
    with stub:
        asked = signin.password("tier1", "pw")
        assert asked.challenge == "SOFTWARE_TOKEN_MFA" and not asked.secret
        assert signin.code("tier1", asked.session, "000000").refused == FAILED
        assert signin.password("tier1", "wrong").refused == FAILED
        assert "new password" in signin.password("temp", "temporary").refused
