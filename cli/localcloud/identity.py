"""The user pool on moto's Cognito: its creators (part of StackBuilder), the demo users one per role, and
the TOTP codes their authenticator app would show.

moto gives every user the same TOTP secret (its COGNITO_TOTP_MFA_SECRET) and checks codes only when
MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP is true, which the local cloud sets: a wrong code is refused here
as in AWS. The demo users and their passwords are kept in the local cloud's Parameter Store only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import struct
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from localcloud.names import ACCOUNT_ID

if TYPE_CHECKING:
    from localcloud.stack import DeployedStack, StackBuilder

TOTP_STEP = 30
# One user per role, and a second tier-3 approver for dual control: (user name, address, groups).
DEMO_USERS = (
    ("billing", "billing@example.org", ["billing-staff"]),
    ("tier1.approver", "tier1.approver@example.org", ["approver-tier-1"]),
    ("tier2.approver", "tier2.approver@example.org", ["approver-tier-2"]),
    ("tier3.approver", "tier3.approver@example.org", ["approver-tier-3"]),
    ("tier3.deputy", "tier3.deputy@example.org", ["approver-tier-3"]),
    ("compliance", "compliance@example.org", ["compliance-officer"]),
    ("auditor", "auditor@example.org", ["auditor"]),
    ("operator", "operator@example.org", ["operator"]),
)


def users_parameter(stack_name: str) -> str:
    return f"/refunds-local/{stack_name}/demo-users"


def totp_code(secret: str, at: float | None = None) -> str:
    """RFC 6238: the six digits an authenticator app shows for `secret` (base32) at `at`."""
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    counter = int((time.time() if at is None else at) // TOTP_STEP)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    return f"{(struct.unpack('>I', digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


def fresh_code(secret: str) -> str:
    """A code that stays valid for the next few seconds (moto accepts the current step only)."""
    if TOTP_STEP - time.time() % TOTP_STEP < 3:
        time.sleep(TOTP_STEP - time.time() % TOTP_STEP + 0.1)
    return totp_code(secret)


def add_user(cognito: Any, pool_id: str, client_id: str, username: str, email: str, groups: list[str],
             second_factor: bool = True) -> dict[str, Any]:
    """A user as an administrator makes one: a permanent password, the groups, and (unless told not to) an
    authenticator app set up and required at sign-in. What `refunds users --json` lists of them."""
    password = "Demo-" + secrets.token_urlsafe(12) + "-7a!"
    cognito.admin_create_user(UserPoolId=pool_id, Username=username, MessageAction="SUPPRESS",
                              UserAttributes=[{"Name": "email", "Value": email},
                                              {"Name": "email_verified", "Value": "true"}])
    cognito.admin_set_user_password(UserPoolId=pool_id, Username=username, Password=password, Permanent=True)
    for group in groups:
        cognito.admin_add_user_to_group(UserPoolId=pool_id, Username=username, GroupName=group)
    secret = ""
    if second_factor:  # as the user's first sign-in sets it up (AWS asks MFA_SETUP; moto gives a token at once)
        signed_in = cognito.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                                          AuthParameters={"USERNAME": username, "PASSWORD": password})
        if signed_in.get("ChallengeName") == "MFA_SETUP":
            associated = cognito.associate_software_token(Session=signed_in["Session"])
            secret = associated["SecretCode"]
            cognito.verify_software_token(Session=associated["Session"], UserCode=fresh_code(secret),
                                          FriendlyDeviceName="demo")
        else:
            token = signed_in["AuthenticationResult"]["AccessToken"]
            secret = cognito.associate_software_token(AccessToken=token)["SecretCode"]
            cognito.verify_software_token(AccessToken=token, UserCode=fresh_code(secret), FriendlyDeviceName="demo")
        cognito.admin_set_user_mfa_preference(UserPoolId=pool_id, Username=username,
                                              SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True})
    return {"username": username, "email": email, "password": password, "totp_secret": secret, "groups": groups}


def make_demo_users(cognito: Any, ssm: Any, stack_name: str, pool_id: str, client_id: str) -> dict[str, Any]:
    users = [add_user(cognito, pool_id, client_id, name, email, groups) for name, email, groups in DEMO_USERS]
    listed = {"client_id": client_id, "users": users}
    ssm.put_parameter(Name=users_parameter(stack_name), Value=json.dumps(listed), Type="SecureString", Overwrite=True)
    return listed


def sign_in(cognito: Any, client_id: str, user: dict[str, Any]) -> str:
    """A user's access token, signed in with their password and (when set up) their authenticator's code."""
    answer = cognito.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                                   AuthParameters={"USERNAME": user["username"], "PASSWORD": user["password"]})
    if answer.get("ChallengeName") == "SOFTWARE_TOKEN_MFA":
        answer = cognito.respond_to_auth_challenge(
            ClientId=client_id, ChallengeName="SOFTWARE_TOKEN_MFA", Session=answer["Session"],
            ChallengeResponses={"USERNAME": user["username"], "SOFTWARE_TOKEN_MFA_CODE": fresh_code(
                user["totp_secret"])})
    return str(answer["AuthenticationResult"]["AccessToken"])


class Identity:
    if TYPE_CHECKING:  # what StackBuilder, the class these creators are part of, gives them
        stack: DeployedStack

        def client(self, service: str) -> Any: ...
        def _name(self, logical_id: str, limit: int = 64) -> str: ...

    def _user_pool(self, logical_id: str, props: dict[str, Any]) -> None:
        request: dict[str, Any] = {"PoolName": props.get("UserPoolName") or self._name(logical_id, 128)}
        for key in ("AdminCreateUserConfig", "AutoVerifiedAttributes", "UsernameConfiguration", "MfaConfiguration",
                    "Policies", "AccountRecoverySetting", "DeletionProtection", "Schema",
                    "UserAttributeUpdateSettings"):
            if key in props:
                request[key] = props[key]
        pool = self.client("cognito-idp").create_user_pool(**request)["UserPool"]
        if "SOFTWARE_TOKEN_MFA" in props.get("EnabledMfas", []):
            self.client("cognito-idp").set_user_pool_mfa_config(
                UserPoolId=pool["Id"], SoftwareTokenMfaConfiguration={"Enabled": True},
                MfaConfiguration=props.get("MfaConfiguration", "OFF"))
        self.stack.physical[logical_id] = pool["Id"]
        self.stack.attributes[logical_id] = {
            "Arn": f"arn:aws:cognito-idp:{self.stack.region}:{ACCOUNT_ID}:userpool/{pool['Id']}",
            "ProviderURL": f"cognito-idp.{self.stack.region}.amazonaws.com/{pool['Id']}"}

    def _user_pool_client(self, logical_id: str, props: dict[str, Any]) -> None:
        request = {key: props[key] for key in self.HONOURED["AWS::Cognito::UserPoolClient"] if key in props}
        made = self.client("cognito-idp").create_user_pool_client(**request)["UserPoolClient"]
        self.stack.physical[logical_id] = made["ClientId"]

    def _user_pool_group(self, logical_id: str, props: dict[str, Any]) -> None:
        self.client("cognito-idp").create_group(UserPoolId=props["UserPoolId"], GroupName=props["GroupName"],
                                                Description=props.get("Description", ""))
        self.stack.physical[logical_id] = props["GroupName"]

    def _identity_provider(self, logical_id: str, props: dict[str, Any]) -> None:
        self.client("cognito-idp").create_identity_provider(
            UserPoolId=props["UserPoolId"], ProviderName=props["ProviderName"], ProviderType=props["ProviderType"],
            ProviderDetails=props.get("ProviderDetails", {}), AttributeMapping=props.get("AttributeMapping", {}))
        self.stack.physical[logical_id] = props["ProviderName"]

    def _user_pool_domain(self, logical_id: str, props: dict[str, Any]) -> None:
        self.client("cognito-idp").create_user_pool_domain(UserPoolId=props["UserPoolId"], Domain=props["Domain"])
        self.stack.physical[logical_id] = props["Domain"]

    CREATORS: dict[str, Callable[[StackBuilder, str, dict[str, Any]], None]] = {
        "AWS::Cognito::UserPoolIdentityProvider": _identity_provider,
        "AWS::Cognito::UserPoolDomain": _user_pool_domain,
        "AWS::Cognito::UserPool": _user_pool, "AWS::Cognito::UserPoolClient": _user_pool_client,
        "AWS::Cognito::UserPoolGroup": _user_pool_group}
    HONOURED = {
        "AWS::Cognito::UserPool": {"UserPoolName", "AdminCreateUserConfig", "AutoVerifiedAttributes",
                                   "UsernameConfiguration", "MfaConfiguration", "EnabledMfas", "Policies",
                                   "AccountRecoverySetting", "DeletionProtection", "Schema",
                                   "UserAttributeUpdateSettings"},
        "AWS::Cognito::UserPoolClient": {"UserPoolId", "ClientName", "GenerateSecret", "ExplicitAuthFlows",
                                         "PreventUserExistenceErrors", "AccessTokenValidity", "IdTokenValidity",
                                         "RefreshTokenValidity", "TokenValidityUnits", "EnableTokenRevocation",
                                         "SupportedIdentityProviders", "AllowedOAuthFlowsUserPoolClient",
                                         "AllowedOAuthFlows", "AllowedOAuthScopes", "CallbackURLs",
                                         "WriteAttributes"},
        "AWS::Cognito::UserPoolGroup": {"UserPoolId", "GroupName", "Description"},
        "AWS::Cognito::UserPoolIdentityProvider": {"UserPoolId", "ProviderName", "ProviderType", "ProviderDetails",
                                                   "AttributeMapping"},
        "AWS::Cognito::UserPoolDomain": {"UserPoolId", "Domain"},
    }
