"""The console's own sign-in against the user pool: a password, then the authenticator's code, or at the first
sign-in (the pool requires a second factor of everyone) the authenticator set up and its first code checked.
https://docs.aws.amazon.com/cognito/latest/developerguide/user-pool-settings-mfa-totp.html
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

FAILED = "Sign-in failed: check your user name, password and code."


@dataclass(frozen=True)
class Step:
    """Where a sign-in stands: signed in (`token`), a challenge to answer (`session`), or refused (`refused`)."""

    token: str = ""
    challenge: str = ""  # SOFTWARE_TOKEN_MFA: a code; MFA_SETUP: set up `secret` in an app, then a code
    session: str = ""
    secret: str = ""
    refused: str = ""


class PoolSignIn:
    def __init__(self, client: Any, client_id: str) -> None:
        self._client, self._client_id = client, client_id

    def password(self, username: str, password: str) -> Step:
        return self._step(lambda: self._client.initiate_auth(
            ClientId=self._client_id, AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": password}))

    def code(self, username: str, session: str, code: str) -> Step:
        return self._step(lambda: self._client.respond_to_auth_challenge(
            ClientId=self._client_id, ChallengeName="SOFTWARE_TOKEN_MFA", Session=session,
            ChallengeResponses={"USERNAME": username, "SOFTWARE_TOKEN_MFA_CODE": code.strip()}))

    def enroll(self, username: str, session: str, code: str) -> Step:
        """The authenticator set up at the first sign-in: its first code checked, then the sign-in finished."""
        def finish() -> dict[str, Any]:
            verified = self._client.verify_software_token(Session=session, UserCode=code.strip(),
                                                          FriendlyDeviceName="credit refunds console")
            return dict(self._client.respond_to_auth_challenge(
                ClientId=self._client_id, ChallengeName="MFA_SETUP", Session=verified["Session"],
                ChallengeResponses={"USERNAME": username}))
        return self._step(finish)

    def _step(self, call: Any) -> Step:
        try:
            answered = call()
            if "AuthenticationResult" in answered:
                return Step(token=answered["AuthenticationResult"]["AccessToken"])
            challenge = answered.get("ChallengeName", "")
            if challenge == "SOFTWARE_TOKEN_MFA":
                return Step(challenge=challenge, session=answered["Session"])
            if challenge == "MFA_SETUP":
                associated = self._client.associate_software_token(Session=answered["Session"])
                return Step(challenge=challenge, session=associated["Session"], secret=associated["SecretCode"])
        except ClientError:
            return Step(refused=FAILED)
        return Step(refused="Your account needs a step this console does not offer (a new password): ask an "
                            "administrator.")
