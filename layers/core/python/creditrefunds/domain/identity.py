"""Who is signed in (DOMAIN.md section 6: who decided is a signed-in person).

People sign in to the hospital's Amazon Cognito user pool (directly, or through its identity provider).
Their groups are their roles. A request names its person by a Cognito token the function verifies
itself (`verify_token`: RS256 signature against the pool's JSON Web Key Set, issuer, client, token use,
expiry), or by a console session made at a sign-in the function watched. Either way, the person is
the pool's user id (`sub`), never an address text; a decision also re-reads the user from the pool.

The signature check is RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017 section 8.2.2): the expected encoding is
built from the digest and compared whole with the signature raised to the public exponent, so no
part of the signature is parsed. It needs no library with compiled parts in the Lambda layer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

BILLING, COMPLIANCE, AUDITOR, OPERATOR = "billing-staff", "compliance-officer", "auditor", "operator"
ROLES = (BILLING, "approver-tier-1", "approver-tier-2", "approver-tier-3", COMPLIANCE, AUDITOR, OPERATOR)
_SHA256_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")  # DigestInfo for SHA-256 (RFC 8017 9.2)


def approver_group(tier: int) -> str:
    return f"approver-tier-{tier}"


class Forbidden(Exception):
    """The signed-in person's roles do not allow this (the message says which may)."""


def require(person: Person, *roles: str) -> None:
    if not person.has(*roles):
        raise Forbidden(f"only {' or '.join(roles)} may do this")


class BadToken(Exception):
    """The token does not prove a signed-in person of this pool and client (the reason says what failed)."""


@dataclass(frozen=True)
class Person:
    """A user of the pool as a request or the pool shows them."""

    user_id: str  # the pool's `sub`: what decisions and history name
    email: str = ""
    groups: frozenset[str] = field(default_factory=frozenset)
    signed_in_at: int = 0  # epoch seconds of the sign-in (the token's auth_time)
    second_factor: bool = False  # the pool asks this user for a TOTP code at every sign-in
    enabled: bool = True

    @property
    def actor(self) -> str:
        """How the history names this person."""
        return f"user:{self.user_id}"

    def approver_tier(self) -> int:
        """The highest approver tier among the person's groups (0: not an approver)."""
        return max((t for t in (1, 2, 3) if approver_group(t) in self.groups), default=0)

    def has(self, *roles: str) -> bool:
        return bool(self.groups & set(roles))

    def factor_fresh(self, now: datetime, max_age_seconds: int) -> bool:
        """Signed in with a second factor no longer ago than `max_age_seconds`."""
        return self.second_factor and 0 <= now.timestamp() - self.signed_in_at <= max_age_seconds


FACTOR_WORDS = ("mfa", "otp", "hwk", "swk", "multipleauthn", "multifactor")  # RFC 8176 amr values, Entra ID's


def names_second_factor(claimed: str) -> bool:
    """Whether the identity provider's sign-in claim (kept as custom:idp_factor) names a second factor."""
    text = claimed.lower()
    return any(word in text for word in FACTOR_WORDS)


_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


def _b64(text: str) -> bytes:
    """Unpadded base64url (RFC 7515), strictly: any other character is not a token's."""
    if not _BASE64URL.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _rs256_valid(signed: bytes, signature: bytes, key: dict[str, Any]) -> bool:
    n, e = int.from_bytes(_b64(key["n"]), "big"), int.from_bytes(_b64(key["e"]), "big")
    size = (n.bit_length() + 7) // 8
    if len(signature) != size or size < 256:  # RSA keys under 2048 bits are not accepted
        return False
    s = int.from_bytes(signature, "big")
    if s >= n:
        return False
    digest_info = _SHA256_PREFIX + hashlib.sha256(signed).digest()
    expected = b"\x00\x01" + b"\xff" * (size - len(digest_info) - 3) + b"\x00" + digest_info
    return hmac.compare_digest(pow(s, e, n).to_bytes(size, "big"), expected)


def verify_token(token: str, jwks: dict[str, Any], issuer: str, client_id: str, now: datetime) -> dict[str, Any]:
    """The claims of a Cognito access token of this pool (`issuer`) and app client, or BadToken. (An ID token
    says who someone is to the client it was issued to; only an access token is the authority to act.)"""
    try:
        head_b64, body_b64, signature_b64 = token.split(".")
        header, claims = json.loads(_b64(head_b64)), json.loads(_b64(body_b64))
        signature = _b64(signature_b64)
    except (ValueError, TypeError) as error:
        raise BadToken("not a JSON Web Token") from error
    if not isinstance(header, dict) or not isinstance(claims, dict) or header.get("alg") != "RS256":
        raise BadToken("only RS256 tokens are accepted")
    keys = [k for k in jwks.get("keys", []) if k.get("kid") == header.get("kid") and k.get("kty") == "RSA"
            and k.get("use", "sig") == "sig" and k.get("alg", "RS256") == "RS256"]
    if len(keys) != 1 or not _rs256_valid(f"{head_b64}.{body_b64}".encode(), signature, keys[0]):
        raise BadToken("the signature is not the pool's")
    if claims.get("iss") != issuer:
        raise BadToken("issued by another pool")
    if claims.get("token_use") != "access" or claims.get("client_id") != client_id:
        raise BadToken("not an access token of this console's client")
    if not isinstance(claims.get("exp"), int) or claims["exp"] <= now.timestamp():
        raise BadToken("expired")
    if not isinstance(claims.get("sub"), str) or not isinstance(claims.get("auth_time"), int):
        raise BadToken("names no user or no sign-in time")
    return claims


def person_of(claims: dict[str, Any]) -> Person:
    """The person a verified token names (the factor is the pool's to say: see People.person)."""
    groups = claims.get("cognito:groups") or []
    return Person(claims["sub"], str(claims.get("email", "")), frozenset(str(g) for g in groups),
                  int(claims["auth_time"]))
