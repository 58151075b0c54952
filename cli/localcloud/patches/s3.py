"""moto's S3 as the local cloud runs it: a multipart upload notifies once, as in S3."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto.s3.models import S3Backend

from localcloud.patches.patching import replaced

_COMPLETING: contextvars.ContextVar[bool] = contextvars.ContextVar("completing", default=False)


@contextmanager
def uploads_notify_once() -> Iterator[None]:
    """Fidelity: a multipart upload notifies once, as in S3 (`s3:ObjectCreated:CompleteMultipartUpload`). moto
    5.2.5 also sends `ObjectCreated:Put` for the object its completion writes: every ledger uploaded
    in parts (boto3's `upload_file` above 8 MB) was ingested twice, at once."""
    original_complete, original_put = S3Backend.complete_multipart_upload, S3Backend.put_object

    def complete_multipart_upload(self: S3Backend, *args: Any, **kwargs: Any) -> Any:
        token = _COMPLETING.set(True)
        try:
            return original_complete(self, *args, **kwargs)
        finally:
            _COMPLETING.reset(token)

    def put_object(self: S3Backend, *args: Any, **kwargs: Any) -> Any:
        if _COMPLETING.get():
            kwargs["disable_notification"] = True
        return original_put(self, *args, **kwargs)

    with replaced((S3Backend, "complete_multipart_upload", complete_multipart_upload),
                  (S3Backend, "put_object", put_object)):
        yield
