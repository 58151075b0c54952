"""Hand a dropped file to another function: S3 notifies the ingest function of everything under
incoming/ (S3 refuses overlapping notifications), and an X12 835 goes on to the remittance function."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote_plus


class Handoff:
    def __init__(self, lambda_client: Any, bucket: str, remit_function: str | None) -> None:
        self._lambda, self._bucket, self._remit = lambda_client, bucket, remit_function

    def remittance(self, key: str, etag: str, sequencer: str, event_time: str) -> None:
        """Invoke the remittance function (asynchronously: its retries and failure queue are its own) with
        the S3 notification of the file, as S3 would have sent it."""
        if not self._remit:
            raise RuntimeError("this function does not hand remittances on (REMIT_FUNCTION_NAME is not set)")
        record = {"eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                  "eventTime": event_time, "awsRegion": "",
                  "s3": {"bucket": {"name": self._bucket, "arn": f"arn:aws:s3:::{self._bucket}"},
                         "object": {"key": quote_plus(key, safe="/"), "eTag": etag, "sequencer": sequencer}}}
        self._lambda.invoke(FunctionName=self._remit, InvocationType="Event",
                            Payload=json.dumps({"Records": [record]}).encode())
