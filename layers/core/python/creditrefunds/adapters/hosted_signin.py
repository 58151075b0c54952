"""Single sign-on through the pool's hosted sign-in (the hospital's SAML or OIDC provider behind it): the
authorization code flow with PKCE (RFC 7636), as Cognito's /oauth2/authorize and /oauth2/token serve it.

The console starts a sign-in with a random state and code verifier kept in a short-lived cookie, and
finishes it only when the provider sends the browser back with that state: the code is exchanged with the
verifier, so a code seen in a URL or a log signs nobody in.
https://docs.aws.amazon.com/cognito/latest/developerguide/authorization-endpoint.html
https://docs.aws.amazon.com/cognito/latest/developerguide/token-endpoint.html
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass


class SignInFailed(Exception):
    """The provider's answer does not finish a sign-in (the message says why, without the code)."""


@dataclass(frozen=True)
class Started:
    state: str
    verifier: str
    url: str  # where the browser goes to sign in


class HostedSignIn:
    def __init__(self, domain_url: str, client_id: str, callback_url: str, provider: str) -> None:
        self._domain = domain_url.rstrip("/")
        self._client_id, self._callback, self.provider = client_id, callback_url, provider

    @property
    def offered(self) -> bool:
        return bool(self._domain and self.provider and self._callback)

    def start(self) -> Started:
        state, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
        query = urllib.parse.urlencode({
            "response_type": "code", "client_id": self._client_id, "redirect_uri": self._callback, "state": state,
            "scope": "openid email", "identity_provider": self.provider, "code_challenge": challenge,
            "code_challenge_method": "S256"})
        return Started(state, verifier, f"{self._domain}/oauth2/authorize?{query}")

    def finish(self, code: str, verifier: str) -> str:
        """The access token the code stands for (the pool's; the caller verifies it like any other)."""
        body = urllib.parse.urlencode({"grant_type": "authorization_code", "client_id": self._client_id,
                                       "code": code, "redirect_uri": self._callback,
                                       "code_verifier": verifier}).encode()
        request = urllib.request.Request(f"{self._domain}/oauth2/token", data=body,
                                         headers={"Content-Type": "application/x-www-form-urlencoded"})
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                tokens = json.loads(answer.read())
        except (urllib.error.URLError, ValueError) as error:
            raise SignInFailed(f"the pool's token endpoint did not take the code ({type(error).__name__})") from error
        if not isinstance(tokens, dict) or not isinstance(tokens.get("access_token"), str):
            raise SignInFailed("the pool's token endpoint answered without an access token")
        return str(tokens["access_token"])
