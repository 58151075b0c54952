"""The seal bucket (S3 Object Lock, compliance mode: nobody deletes or changes a seal before its
retention ends) and the asymmetric KMS key that signs seals (only the sealing function may sign)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from creditrefunds.domain.seals import ALGORITHM, Sealed, canonical, digest_of, seal_key

PREFIX = "seals/"
RECENT = timedelta(days=2)  # seals run hourly: the last one is looked for among these first


class SealStore:
    def __init__(self, s3: Any, bucket: str, kms: Any, key_id: str) -> None:
        self._s3, self._bucket, self._kms, self._key_id = s3, bucket, kms, key_id

    def keys(self, after: str = "") -> list[str]:
        """The seals' keys (those sorting after `after`), in the order they were made."""
        pages = self._s3.get_paginator("list_objects_v2").paginate(Bucket=self._bucket, Prefix=PREFIX,
                                                                    StartAfter=after or PREFIX)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def read(self, key: str) -> Sealed | None:
        try:
            return Sealed(key, self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read())
        except self._s3.exceptions.NoSuchKey:
            return None

    def after(self, key: str, limit: int) -> list[Sealed]:
        """The next `limit` seals after `key` ("" : from the first), oldest first (one page)."""
        listed = self._s3.list_objects_v2(Bucket=self._bucket, Prefix=PREFIX, StartAfter=key or PREFIX,
                                          MaxKeys=limit).get("Contents", [])
        return [seal for seal in (self.read(item["Key"]) for item in listed) if seal is not None]

    def all(self) -> list[Sealed]:
        return [seal for seal in map(self.read, self.keys()) if seal is not None]

    def latest(self, at: datetime) -> Sealed | None:
        """The last seal: looked for among those of the two days before `at` (a page), among all of them only
        when none is that recent (the first seal, or after an outage)."""
        keys = self.keys(seal_key(at - RECENT)) or self.keys()
        return self.read(keys[-1]) if keys else None

    def put(self, key: str, content: dict[str, Any]) -> Sealed:
        """Sign `content` and keep it under `key`, locked for the bucket's retention."""
        signature = self._kms.sign(KeyId=self._key_id, Message=digest_of(content), MessageType="DIGEST",
                                   SigningAlgorithm=ALGORITHM)["Signature"]
        body = canonical({"seal": content, "signature": signature.hex(), "key_id": self._key_id,
                          "algorithm": ALGORITHM})
        # Object Lock asks every upload for a checksum.
        self._s3.put_object(Bucket=self._bucket, Key=key, Body=body, ContentType="application/json",
                            ChecksumAlgorithm="SHA256")
        return Sealed(key, body)

    def signature_valid(self, digest: bytes, signature: bytes) -> bool:
        try:
            answer = self._kms.verify(KeyId=self._key_id, Message=digest, MessageType="DIGEST", Signature=signature,
                                      SigningAlgorithm=ALGORITHM)
        except self._kms.exceptions.KMSInvalidSignatureException:
            return False
        return bool(answer["SignatureValid"])
