"""Console sessions: what a sign-in leaves, found again by the session cookie.

The cookie holds a random session id; the sessions table keeps its SHA-256 (the item's key) and the
Cognito access token of the sign-in, encrypted with KMS under a context made from the id. Reading or
writing the table therefore gives nobody a session: a token can be opened only with the cookie's id,
and a row written by hand holds no token the pool signed for its user. Every request verifies the
token again (signature, expiry), so a session ends when its token does (an hour) at the latest, or
after `idle_seconds` without a request. The form token against cross-site requests is an HMAC of the
session id: never stored, so nothing read from the table forges it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError


def _key(session_id: str) -> str:
    return hashlib.sha256(f"session:{session_id}".encode()).hexdigest()


def _context(session_id: str) -> dict[str, str]:
    return {"console_session": hashlib.sha256(f"session-token:{session_id}".encode()).hexdigest()}


def csrf_token(session_id: str) -> str:
    """The form token of a session (every form of the console posts it)."""
    return hmac.new(session_id.encode(), b"console-form", hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Session:
    session_id: str
    access_token: str

    @property
    def csrf(self) -> str:
        return csrf_token(self.session_id)

    def form_ok(self, posted: str) -> bool:
        return hmac.compare_digest(self.csrf, posted or "")


class SessionStore:
    def __init__(self, table: Any, kms: Any, key_id: str, idle_seconds: int) -> None:
        self._table, self._kms, self._key_id, self._idle = table, kms, key_id, idle_seconds

    def start(self, access_token: str, now: datetime) -> str:
        """A new session for a sign-in just made; its id (for the cookie only)."""
        session_id = secrets.token_urlsafe(32)
        sealed = self._kms.encrypt(KeyId=self._key_id, Plaintext=access_token.encode(),
                                   EncryptionContext=_context(session_id))["CiphertextBlob"]
        at = int(now.timestamp())
        self._table.put_item(Item={"session_key": _key(session_id), "sealed_token": sealed, "started_at": at,
                                   "seen_at": at, "purge_after": at + 86400},
                             ConditionExpression="attribute_not_exists(session_key)")
        return session_id

    def find(self, session_id: str, now: datetime) -> Session | None:
        """The session of a cookie, if it is not idle past its time; a request keeps it alive."""
        if not session_id or len(session_id) > 100:
            return None
        item = self._table.get_item(Key={"session_key": _key(session_id)}, ConsistentRead=True).get("Item")
        at = int(now.timestamp())
        if item is None or at - int(item["seen_at"]) > self._idle:
            return None
        try:
            token = self._kms.decrypt(CiphertextBlob=bytes(item["sealed_token"]), KeyId=self._key_id,
                                      EncryptionContext=_context(session_id))["Plaintext"].decode()
        except ClientError:
            return None  # not sealed to this id: written past the console
        try:
            self._table.update_item(Key={"session_key": _key(session_id)}, UpdateExpression="SET seen_at = :at",
                                    ConditionExpression="attribute_exists(session_key)",
                                    ExpressionAttributeValues={":at": at})
        except ClientError:
            return None  # signed out a moment ago
        return Session(session_id, token)

    def end(self, session_id: str) -> None:
        if session_id and len(session_id) <= 100:
            self._table.delete_item(Key={"session_key": _key(session_id)})
