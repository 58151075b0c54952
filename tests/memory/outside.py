"""The ports to what is outside the tables, in memory: the ledger bucket, mail, events, the hand-off to
the remittance function and the seals. Each keeps what it was given, for a test to read as a person
would (the AP file's rows, the mail an approver got, the work item billing staff get)."""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import io
import json
import secrets
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

from creditrefunds.domain.authentic import Tampered
from creditrefunds.domain.ledger import LedgerGone, LedgerReplaced
from creditrefunds.domain.mail import Mail
from creditrefunds.domain.refunds import AP_FILES, ap_key
from creditrefunds.domain.seals import Sealed, canonical, digest_of

INCOMING, REJECTED, WORK = "incoming/", "rejected/", "work/"


class MemoryBucket:
    """Objects by key, each with an ETag (the MD5 of its bytes, as S3 gives a single-part upload)."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.originals: dict[str, bytes] = {}  # the originals bucket's objects by key
        self.uploads: dict[str, list[bytes]] = {}  # every version of each incoming/ key, oldest first
        self.ap_versions: list[tuple[str, str, str]] = []
        self.ap_writes = 0  # AP files written (each once)
        self._lock = threading.Lock()

    def drop(self, name: str, body: bytes | str) -> str:
        """A file into incoming/, as the billing system drops it; its ETag. An earlier upload of the name stays
        as a version of it (S3 versioning), for its own event to read and retire."""
        data = body.encode() if isinstance(body, str) else body
        with self._lock:
            self.objects[INCOMING + name] = data
            self.uploads.setdefault(INCOMING + name, []).append(data)
        return hashlib.md5(data).hexdigest()

    @staticmethod
    def incoming_name(key: str) -> str | None:
        return key[len(INCOMING):] if key.startswith(INCOMING) else None

    def _body(self, key: str, etag: str = "") -> bytes:
        with self._lock:
            data = self.objects.get(key)
        if data is None:
            if etag:
                raise LedgerGone(key)
            raise KeyError(key)
        if etag and hashlib.md5(data).hexdigest() != etag.strip('"'):
            raise LedgerReplaced(key)
        return data

    def size(self, key: str, etag: str = "") -> int:
        return len(self._body(key, etag))

    def head(self, key: str, etag: str = "", size: int = 512) -> bytes:
        return self._body(key, etag)[:size]

    @contextmanager
    def open(self, key: str, etag: str = "") -> Iterator[IO[bytes]]:
        yield io.BytesIO(self._body(key, etag))

    @contextmanager
    def download(self, key: str, etag: str = "") -> Iterator[Path]:
        data = self._body(key, etag)
        with tempfile.TemporaryDirectory() as workdir:
            local = Path(workdir) / "object"
            local.write_bytes(data)
            yield local

    @staticmethod
    def upload_key(name: str, upload: str, leaf: str) -> str:
        return f"{REJECTED}{name}/{upload}/{leaf}"

    def save_rejects(self, name: str, upload: str, rejects: list[dict[str, Any]]) -> None:
        if rejects:
            self.put_text(self.upload_key(name, upload, "errors.jsonl"), "".join(json.dumps(r) + "\n" for r in rejects))

    def notice(self, name: str, upload: str, text: str) -> str:
        return self.put_text(self.upload_key(name, upload, "notice.txt"), text + "\n")

    def reject(self, key: str, name: str, upload: str, reason: str, etag: str = "") -> bool:
        with self._lock:
            mine = self._versions(key, etag)
            if not mine:
                return False
            data = mine[0]
            self.objects[self.upload_key(name, upload, name.rsplit("/", 1)[-1])] = data
            self.objects[self.upload_key(name, upload, "reason.txt")] = (reason + "\n").encode()
        return self.retire(key, name, upload, etag)

    def retire(self, key: str, name: str, upload: str, etag: str = "") -> bool:
        """The upload kept in `originals` (the locked bucket: written once, never removed) and its versions gone
        from incoming/; a newer upload of the name stays (S3 makes the newest version left the current one)."""
        with self._lock:
            mine = self._versions(key, etag)
            if not mine:
                return False  # read and retired already
            self.originals.setdefault(f"{name}/{upload}/{name.rsplit('/', 1)[-1]}", mine[0])
            left = [v for v in self.uploads.get(key, []) if v not in mine]
            self.uploads[key] = left
            if left:
                self.objects[key] = left[-1]
            else:
                self.objects.pop(key, None)
            return True

    def _versions(self, key: str, etag: str) -> list[bytes]:
        """The versions of `key` that are this upload (its eTag; without one, the current version)."""
        versions = self.uploads.get(key) or ([self.objects[key]] if key in self.objects else [])
        wanted = etag.strip('"')
        return [v for v in versions if hashlib.md5(v).hexdigest() == wanted] if wanted else versions[-1:]

    def rejected(self, name: str, leaf: str) -> str:
        """The text of `leaf` kept for the one upload of `name` that has it (errors.jsonl, reason.txt, notice.txt)."""
        found = [k for k in self.keys(f"{REJECTED}{name}/") if k.endswith("/" + leaf)]
        assert len(found) == 1, f"{leaf} of {name}: {found}"
        return self.text(found[0])

    def work_key(self, name: str, leaf: str) -> str:
        return f"{WORK}{name}/{leaf}"

    def put_text(self, key: str, text: str, content_type: str = "text/plain") -> str:
        with self._lock:
            self.objects[key] = text.encode()
            if key.startswith(AP_FILES):  # kept under versioning, every version
                self.ap_versions.append((key, str(len(self.ap_versions) + 1), text))
        return key

    def put_json(self, key: str, data: Any, indent: int | None = None) -> str:
        return self.put_text(key, json.dumps(data, indent=indent), "application/json")

    def get_json(self, key: str) -> Any:
        return json.loads(self._body(key))

    def text(self, key: str) -> str:
        return self._body(key).decode()

    def clear_work(self, name: str) -> None:
        with self._lock:
            for key in [k for k in self.objects if k.startswith(f"{WORK}{name}/")]:
                del self.objects[key]

    def put_work_item(self, case_id: str, body: dict[str, Any]) -> str:
        return self.put_json(f"outbound/work-items/{case_id}.json", body, indent=2)

    def put_ap_file(self, day: date, instruction_id: str, text: str) -> str:
        key = ap_key(day, instruction_id)
        with self._lock:
            if key in self.objects:  # written once (S3's If-None-Match), and only this file
                if self.objects[key] != text.encode():
                    raise Tampered(f"AP file {key} was there before the issue step wrote it, with other content")
                return key
            self.ap_writes += 1
        return self.put_text(key, text, "text/csv")

    def ap_files(self) -> list[tuple[str, str, str]]:
        """Every version of every AP file written (S3 keeps each under versioning)."""
        with self._lock:
            return sorted(self.ap_versions, key=lambda v: (v[0], int(v[1])))

    def ap_rows(self) -> list[dict[str, str]]:
        """Every row of every day's accounts-payable file: what accounts payable would pay."""
        return [row for key in sorted(self.objects) if key.startswith("outbound/refunds/")
                for row in csv.DictReader(io.StringIO(self.text(key)))]

    def keys(self, prefix: str) -> list[str]:
        with self._lock:
            return sorted(k for k in self.objects if k.startswith(prefix))


class MemoryMailer:
    def __init__(self) -> None:
        self.sent: list[Mail] = []

    def send(self, mail: Mail, now: datetime) -> str:
        self.sent.append(mail)
        return f"<{len(self.sent)}@memory>"

    def to(self, address: str) -> list[Mail]:
        return [m for m in self.sent if address in m.to]


class MemoryEvents:
    def __init__(self) -> None:
        self.published: list[tuple[str, dict[str, Any]]] = []

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        json.dumps(detail)  # what EventBridge would refuse to carry
        self.published.append((detail_type, detail))

    def of(self, detail_type: str) -> list[dict[str, Any]]:
        return [d for t, d in self.published if t == detail_type]


@dataclass(frozen=True)
class HandedOn:
    key: str
    etag: str
    sequencer: str
    event_time: str


class MemoryHandoff:
    def __init__(self) -> None:
        self.handed: list[HandedOn] = []

    def remittance(self, key: str, etag: str, sequencer: str, event_time: str) -> None:
        self.handed.append(HandedOn(key, etag, sequencer, event_time))


class MemoryKeys:
    """KMS's HMAC keys in memory: a secret per purpose that only this object holds. `calls` counts them."""

    def __init__(self) -> None:
        self._secrets: dict[str, bytes] = {}
        self.calls = 0

    def _mac(self, purpose: str, message: bytes) -> str:
        secret = self._secrets.setdefault(purpose, secrets.token_bytes(32))
        return base64.b64encode(hmac.new(secret, message, hashlib.sha256).digest()).decode()

    def mac(self, purpose: str, message: bytes) -> str:
        self.calls += 1
        return self._mac(purpose, message)

    def valid(self, purpose: str, message: bytes, mac: str | None) -> bool:
        self.calls += 1
        return bool(mac) and hmac.compare_digest(self._mac(purpose, message), str(mac))


class MemorySeals:
    """Seals kept by key, signed with an HMAC under a secret only this object holds (KMS's Sign, in memory)."""

    def __init__(self) -> None:
        self.kept: dict[str, bytes] = {}
        self.versions: dict[str, list[bytes]] = {}  # the locked versions a later PUT of the key put behind
        self._secret = secrets.token_bytes(32)

    def _sign(self, digest: bytes) -> bytes:
        return hmac.new(self._secret, digest, hashlib.sha256).digest()

    def all(self) -> list[Sealed]:
        return [Sealed(key, body) for key, body in sorted(self.kept.items())]

    def latest(self, at: datetime) -> Sealed | None:
        every = self.all()
        return every[-1] if every else None

    def read(self, key: str) -> Sealed | None:
        return Sealed(key, self.kept[key]) if key in self.kept else None

    def after(self, key: str, limit: int) -> list[Sealed]:
        return [seal for seal in self.all() if seal.key > key][:limit]

    def put(self, key: str, content: dict[str, Any]) -> Sealed:
        # Under Object Lock a PUT of a kept key adds a version; the locked one stays (`versions`) and the key
        # reads the new one, as S3 answers.
        if key in self.kept:
            self.versions.setdefault(key, []).append(self.kept[key])
        body = canonical({"seal": content, "signature": self._sign(digest_of(content)).hex(), "key_id": "memory",
                          "algorithm": "HMAC_SHA_256"})
        self.kept[key] = body
        return Sealed(key, body)

    def signature_valid(self, digest: bytes, signature: bytes) -> bool:
        return hmac.compare_digest(self._sign(digest), signature)
