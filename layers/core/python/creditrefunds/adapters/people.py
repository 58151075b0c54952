"""The hospital's Amazon Cognito user pool: who holds a role, who a user is now, and whether a token
a request carries names one of them (domain/identity.py)."""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.request
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from creditrefunds.domain.identity import BadToken, Person, names_second_factor, person_of, verify_token

JWKS_KEEP_SECONDS = 3600  # the pool rotates its keys rarely; a token under an unknown key reloads them,
JWKS_RELOAD_SECONDS = 60  # at most once a minute, so that forged tokens cannot make every request fetch


def _attributes(user: dict[str, Any]) -> dict[str, str]:
    return {a["Name"]: a["Value"] for a in user.get("Attributes") or user.get("UserAttributes") or []}


class CognitoPeople:
    def __init__(self, client: Any, pool_id: str) -> None:
        self._client, self._pool = client, pool_id

    def members(self, group: str) -> list[Person]:
        """The enabled users of `group`, as the pool lists them."""
        found, token = [], None
        while True:
            page = self._client.list_users_in_group(UserPoolId=self._pool, GroupName=group,
                                                    **({"NextToken": token} if token else {}))
            for user in page["Users"]:
                attributes = _attributes(user)
                if user.get("Enabled", True) and "sub" in attributes and attributes.get("email_verified") == "true":
                    found.append(Person(attributes["sub"], attributes.get("email", ""), frozenset({group})))
            token = page.get("NextToken")
            if not token:
                return found

    def person(self, user_id: str) -> Person | None:
        """The user whose `sub` is `user_id` as the pool has them now (groups, second factor, enabled)."""
        if not user_id or '"' in user_id or "\\" in user_id:
            return None
        users = self._client.list_users(UserPoolId=self._pool, Filter=f'sub = "{user_id}"', Limit=2)["Users"]
        if len(users) != 1:
            return None
        name = users[0]["Username"]
        user = self._client.admin_get_user(UserPoolId=self._pool, Username=name)
        groups = self._groups(name)
        attributes = _attributes(user)
        # A pool user answers the pool's TOTP challenge; a federated one (EXTERNAL_PROVIDER) their provider's, as
        # its claim says at each sign-in (custom:idp_factor: the hosted sign-in's tokens cannot write it).
        federated = user.get("UserStatus") == "EXTERNAL_PROVIDER"
        factor = "SOFTWARE_TOKEN_MFA" in (user.get("UserMFASettingList") or []) or (
            federated and names_second_factor(attributes.get("custom:idp_factor", "")))
        return Person(user_id, attributes.get("email", ""), frozenset(groups), 0, factor,
                      bool(user.get("Enabled", True)))


    def current(self, access_token: str, signed_in_at: int) -> Person | None:
        """The person an access token stands for as the pool has them now, or None: GetUser answers only for an
        enabled user whose tokens are not revoked (a sign-out revokes them everywhere)."""
        try:
            user = self._client.get_user(AccessToken=access_token)
        except ClientError as error:
            if error.response["Error"]["Code"] in ("NotAuthorizedException", "UserNotFoundException"):
                return None
            raise
        attributes = _attributes(user)
        groups = self._groups(user["Username"])
        federated = "identities" in attributes
        factor = "SOFTWARE_TOKEN_MFA" in (user.get("UserMFASettingList") or []) or (
            federated and names_second_factor(attributes.get("custom:idp_factor", "")))
        return Person(attributes.get("sub", ""), attributes.get("email", ""), frozenset(groups), signed_in_at, factor)

    def _groups(self, username: str) -> set[str]:
        groups, token = set(), None
        while True:
            page = self._client.admin_list_groups_for_user(UserPoolId=self._pool, Username=username,
                                                           **({"NextToken": token} if token else {}))
            groups |= {g["GroupName"] for g in page["Groups"]}
            token = page.get("NextToken")
            if not token:
                return groups


class TokenVerifier:
    """Verifies the pool's tokens against its JSON Web Key Set, fetched from the pool's public address
    (on the local cloud, the same path on its endpoint) and kept an hour."""

    def __init__(self, region: str, pool_id: str, client_id: str) -> None:
        self.issuer = f"https://cognito-idp.{region}.amazonaws.com/{pool_id}"
        endpoint = os.environ.get("AWS_ENDPOINT_URL_COGNITO_IDP") or os.environ.get("AWS_ENDPOINT_URL")
        self._jwks_url = f"{(endpoint or self.issuer).rstrip('/')}" + (
            f"/{pool_id}/.well-known/jwks.json" if endpoint else "/.well-known/jwks.json")
        self._client_id = client_id
        self._keys: dict[str, Any] = {}
        self._loaded = 0.0
        self._lock = threading.Lock()

    def _jwks(self, reload: bool) -> dict[str, Any]:
        with self._lock:
            age = time.monotonic() - self._loaded
            if not self._keys or age > JWKS_KEEP_SECONDS or (reload and age > JWKS_RELOAD_SECONDS):
                with urllib.request.urlopen(self._jwks_url, timeout=5) as answer:
                    self._keys = json.loads(answer.read())
                self._loaded = time.monotonic()
            return self._keys

    def person(self, token: str, now: datetime) -> Person:
        """The person a token names, or BadToken."""
        try:
            claims = verify_token(token, self._jwks(False), self.issuer, self._client_id, now)
        except BadToken as first:
            if "signature" not in str(first):
                raise
            claims = verify_token(token, self._jwks(True), self.issuer, self._client_id, now)  # a rotated key
        return person_of(claims)
