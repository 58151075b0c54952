"""Token verification (domain/identity.py): only an access token the pool signed for this client, unexpired,
names a person. Tokens are signed here with a real RSA key (cryptography), as Cognito signs them."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from creditrefunds.domain.identity import BadToken, Person, names_second_factor, person_of, verify_token
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.asymmetric import padding, rsa

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_POOL"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def jwks(key: rsa.RSAPrivateKey = KEY, kid: str = "k1") -> dict[str, Any]:
    numbers = key.public_key().public_numbers()
    size = (numbers.n.bit_length() + 7) // 8
    return {"keys": [{"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig", "e": _b64(numbers.e.to_bytes(3, "big")),
                      "n": _b64(numbers.n.to_bytes(size, "big"))}]}


def token(key: rsa.RSAPrivateKey = KEY, header: dict[str, Any] | None = None, **changes: Any) -> str:
    claims = {"iss": ISSUER, "sub": "user-1", "client_id": "console", "token_use": "access",
              "auth_time": int(NOW.timestamp()) - 60, "exp": int(NOW.timestamp()) + 3000,
              "cognito:groups": ["approver-tier-1"], **changes}
    signed = f"{_b64(json.dumps(header or {'alg': 'RS256', 'kid': 'k1'}).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = key.sign(signed.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signed}.{_b64(signature)}"


def test_an_access_token_of_the_pool_names_its_person():
    person = person_of(verify_token(token(), jwks(), ISSUER, "console", NOW))
    assert person == Person("user-1", "", frozenset({"approver-tier-1"}), int(NOW.timestamp()) - 60)
    assert person.actor == "user:user-1" and person.approver_tier() == 1


@pytest.mark.parametrize("why, bad", [
    ("another key", lambda: token(rsa.generate_private_key(public_exponent=65537, key_size=2048))),
    ("another pool", lambda: token(iss="https://cognito-idp.us-east-1.amazonaws.com/us-east-1_OTHER")),
    ("another client", lambda: token(client_id="someone-else")),
    ("an ID token", lambda: token(token_use="id", aud="console")),
    ("expired", lambda: token(exp=int(NOW.timestamp()) - 1)),
    ("no sign-in time", lambda: token(auth_time=None)),
    ("an unknown key id", lambda: token(header={"alg": "RS256", "kid": "k2"})),
    ("alg none", lambda: token(header={"alg": "none", "kid": "k1"}).rsplit(".", 1)[0] + "."),
    ("not base64url", lambda: token().replace(".", ".+", 1)),
    ("not three parts", lambda: "abc.def"),
])
def test_a_token_the_pool_did_not_sign_for_this_console_names_nobody(why, bad):
    with pytest.raises(BadToken):
        verify_token(bad(), jwks(), ISSUER, "console", NOW)


def test_a_claim_changed_after_signing_breaks_the_signature():
    head, body, signature = token().split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=="))
    claims["cognito:groups"] = ["approver-tier-3"]
    with pytest.raises(BadToken, match="signature"):
        verify_token(f"{head}.{_b64(json.dumps(claims).encode())}.{signature}", jwks(), ISSUER, "console", NOW)


def test_a_token_signed_with_the_public_key_as_an_hmac_secret_is_refused():
    """Algorithm confusion: HS256 over the public modulus as the shared secret."""
    header = _b64(json.dumps({"alg": "HS256", "kid": "k1"}).encode())
    body = _b64(json.dumps({"iss": ISSUER, "sub": "x", "client_id": "console", "token_use": "access",
                            "auth_time": 1, "exp": int(NOW.timestamp()) + 60}).encode())
    mac = hmac.HMAC(jwks()["keys"][0]["n"].encode(), hashes.SHA256())
    mac.update(f"{header}.{body}".encode())
    with pytest.raises(BadToken, match="RS256"):
        verify_token(f"{header}.{body}.{_b64(mac.finalize())}", jwks(), ISSUER, "console", NOW)


def test_small_rsa_keys_are_not_trusted():
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(BadToken):
        verify_token(token(small), jwks(small), ISSUER, "console", NOW)


def test_a_second_factor_is_recent_and_named_by_the_provider():
    person = Person("u", second_factor=True, signed_in_at=int(NOW.timestamp()) - 299)
    assert person.factor_fresh(NOW, 300) and not person.factor_fresh(NOW, 200)
    assert not Person("u", signed_in_at=int(NOW.timestamp())).factor_fresh(NOW, 300)
    assert names_second_factor('["pwd","mfa"]') and names_second_factor("http://schemas.microsoft.com/claims/multipleauthn")
    assert not names_second_factor('["pwd"]') and not names_second_factor("")
