"""The ledger bucket: files in (incoming/), what was refused or noted of each upload
(rejected/<file>/<upload>/), the fan-out's working files (work/<file>/), and what goes out to people
(outbound/). A file read leaves incoming/ for the originals bucket (S3 Object Lock, compliance mode),
where it is kept unchanged for the records' retention."""

from __future__ import annotations

import io
import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import IO, Any

from botocore.exceptions import ClientError

from creditrefunds.domain.authentic import Tampered
from creditrefunds.domain.ledger import LedgerGone, LedgerReplaced
from creditrefunds.domain.refunds import AP_FILES, ap_key

INCOMING = "incoming/"
REJECTED = "rejected/"
WORK = "work/"


class LedgerBucket:
    def __init__(self, s3: Any, bucket: str, originals: str = "") -> None:
        self._s3 = s3
        self.name = bucket
        self.originals = originals  # the locked bucket a read file is kept in

    @staticmethod
    def incoming_name(key: str) -> str | None:
        """The file's name when `key` is a dropped ledger file (under incoming/), else None."""
        return key[len(INCOMING):] if key.startswith(INCOMING) else None

    def size(self, key: str, etag: str = "") -> int:
        return int(self._read(self._s3.head_object, key, etag)["ContentLength"])

    def _read(self, call: Any, key: str, etag: str) -> Any:
        """GET or HEAD `key`; with `etag` (the upload an event names), only that upload of it: LedgerReplaced
        if it was uploaded again, LedgerGone if it is no longer there."""
        try:
            # An S3 event's eTag comes without the quotes an ETag header has.
            match = {"IfMatch": etag if etag.startswith('"') else f'"{etag}"'} if etag else {}
            return call(Bucket=self.name, Key=key, **match)
        except self._s3.exceptions.ClientError as error:
            if error.response["Error"]["Code"] in ("PreconditionFailed", "412"):
                raise LedgerReplaced(key) from None
            if etag and error.response["Error"]["Code"] in ("NoSuchKey", "404"):  # the upload was read before
                raise LedgerGone(key) from None
            raise

    def head(self, key: str, etag: str = "", size: int = 512) -> bytes:
        """The object's first `size` bytes (what tells an X12 interchange by its ISA header)."""
        try:
            body = self._read(lambda **kw: self._s3.get_object(Range=f"bytes=0-{size - 1}", **kw), key, etag)["Body"]
        except self._s3.exceptions.ClientError as error:
            if error.response["Error"]["Code"] == "InvalidRange":  # an empty object
                return b""
            raise
        try:
            data: bytes = body.read()
            return data
        finally:
            body.close()

    @contextmanager
    def open(self, key: str, etag: str = "") -> Iterator[IO[bytes]]:
        """The object as a buffered stream, read from S3 as it is consumed: a file of any size, without
        room for it in Lambda's /tmp (512 MB by default)."""
        body = self._read(self._s3.get_object, key, etag)["Body"]
        try:
            yield io.BufferedReader(_Raw(body), 1 << 20)
        finally:
            body.close()

    @contextmanager
    def download(self, key: str, etag: str = "") -> Iterator[Path]:
        """The object in a local file for as long as the `with` lasts (streamed, one request)."""
        with tempfile.TemporaryDirectory() as workdir:
            local = Path(workdir) / "object"
            with open(local, "wb") as out:
                shutil.copyfileobj(self._read(self._s3.get_object, key, etag)["Body"], out, 1 << 20)
            yield local

    @staticmethod
    def upload_key(name: str, upload: str, leaf: str) -> str:
        """What is kept of one upload of a file: rejected/<file>/<upload>/<leaf>. Never overwritten by
        another upload's, so a corrected re-drop leaves no stale list beside it."""
        return f"{REJECTED}{name}/{upload}/{leaf}"

    def save_rejects(self, name: str, upload: str, rejects: list[dict[str, Any]]) -> None:
        """The rejected rows of one upload of a file, one JSON line each: rejected/<file>/<upload>/errors.jsonl."""
        if rejects:
            body = "".join(json.dumps(r) + "\n" for r in rejects)
            self.put_text(self.upload_key(name, upload, "errors.jsonl"), body, "application/x-ndjson")

    def notice(self, name: str, upload: str, text: str) -> str:
        """A note on one upload that is no row's error (a file without rows): rejected/<file>/<upload>/notice.txt."""
        return self.put_text(self.upload_key(name, upload, "notice.txt"), text + "\n")

    def reject(self, key: str, name: str, upload: str, reason: str, etag: str = "") -> bool:
        """A refused upload: a copy in rejected/<file>/<upload>/ with its reason beside it for billing staff
        to fix and drop again, and the upload retired (kept as the original). False when the file is not
        there (moved already)."""
        versions = self._versions(key, etag)  # this upload, even when a newer one of the name is current
        if not versions:
            return False  # retired already
        self._s3.copy_object(Bucket=self.name, Key=self.upload_key(name, upload, name.rsplit("/", 1)[-1]),
                             CopySource={"Bucket": self.name, "Key": key, "VersionId": versions[0]})
        self.put_text(self.upload_key(name, upload, "reason.txt"), reason + "\n")
        return self._retire(key, name, upload, versions)

    def retire(self, key: str, name: str, upload: str, etag: str = "") -> bool:
        """An upload read (stored, or refused): kept unchanged in the originals bucket as
        <file>/<upload>/<file name>, under its compliance lock, then its versions in incoming/ deleted
        (an upload made since is left, for its own event). False when no version of it is left."""
        return self._retire(key, name, upload, self._versions(key, etag))

    def _retire(self, key: str, name: str, upload: str, versions: list[str]) -> bool:
        """`versions` (one upload's: the same bytes) kept as one original, then deleted from incoming/."""
        if versions:
            body = self._s3.get_object(Bucket=self.name, Key=key, VersionId=versions[0])["Body"]
            try:  # streamed: a file of any size, without room for it in memory or /tmp
                self._s3.upload_fileobj(body, self.originals, f"{name}/{upload}/{name.rsplit('/', 1)[-1]}",
                                        ExtraArgs={"ChecksumAlgorithm": "SHA256"})
            finally:
                body.close()
        for version in versions:
            self._s3.delete_object(Bucket=self.name, Key=key, VersionId=version)
        return bool(versions)

    def _versions(self, key: str, etag: str) -> list[str]:
        """The versions of `key` that are this upload (its eTag; without one, the current version)."""
        pages = self._s3.get_paginator("list_object_versions").paginate(Bucket=self.name, Prefix=key)
        found = [v for page in pages for v in page.get("Versions", []) if v["Key"] == key]
        wanted = etag.strip('"')
        return [v["VersionId"] for v in found if (v["ETag"].strip('"') == wanted if wanted else v["IsLatest"])]

    def work_key(self, name: str, leaf: str) -> str:
        return f"{WORK}{name}/{leaf}"

    def put_text(self, key: str, text: str, content_type: str = "text/plain") -> str:
        self._s3.put_object(Bucket=self.name, Key=key, Body=text.encode(), ContentType=content_type)
        return key

    def ap_files(self) -> Iterator[tuple[str, str, str]]:
        """Every stored version of every AP file: (key, version id, text), oldest first per key."""
        pages = self._s3.get_paginator("list_object_versions").paginate(Bucket=self.name, Prefix=AP_FILES)
        versions = [v for page in pages for v in page.get("Versions", [])]
        for v in sorted(versions, key=lambda v: (v["Key"], v["LastModified"])):
            body = self._s3.get_object(Bucket=self.name, Key=v["Key"], VersionId=v["VersionId"])["Body"].read()
            yield v["Key"], v["VersionId"], body.decode()

    def put_json(self, key: str, data: Any, indent: int | None = None) -> str:
        return self.put_text(key, json.dumps(data, indent=indent), "application/json")

    def get_json(self, key: str) -> Any:
        return json.loads(self._s3.get_object(Bucket=self.name, Key=key)["Body"].read())

    def clear_work(self, name: str) -> None:
        """Remove a file's working files under work/<name>/."""
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=f"{WORK}{name}/"):
            for item in page.get("Contents", []):
                self._s3.delete_object(Bucket=self.name, Key=item["Key"])

    def put_work_item(self, case_id: str, body: dict[str, Any]) -> str:
        """An instruction for billing staff: outbound/work-items/<case>.json."""
        return self.put_json(f"outbound/work-items/{case_id}.json", body, indent=2)  # read by people

    def put_ap_file(self, day: date, instruction_id: str, text: str) -> str:
        """One instruction's accounts-payable file, outbound/refunds/<day>/<instruction>.csv, written once: a
        second write of the key (a retried step) leaves the first as it is, and Tampered when what is there is
        not this file (someone wrote the key first: accounts payable must not pay it)."""
        key = ap_key(day, instruction_id)
        try:
            self._s3.put_object(Bucket=self.name, Key=key, Body=text.encode(), ContentType="text/csv",
                                IfNoneMatch="*")
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "PreconditionFailed":  # (a 409: a write at once, retried)
                raise
            if self._s3.get_object(Bucket=self.name, Key=key)["Body"].read() != text.encode():
                raise Tampered(f"AP file {key} was there before the issue step wrote it, with other content") from None
        return key


class _Raw(io.RawIOBase):
    """An S3 object's body as a raw stream (what io.BufferedReader wraps)."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)
