"""The local cloud's S3: one notification per upload, as S3 sends, whether it came in one part or many."""

from __future__ import annotations

import json
from urllib.parse import unquote_plus

from boto3.s3.transfer import TransferConfig
from localcloud.patches.s3 import uploads_notify_once

from .moto_apart import moto_apart


def test_an_upload_in_parts_notifies_once_and_a_plain_one_too(tmp_path) -> None:
    ledger = tmp_path / "ledger.csv"
    ledger.write_bytes(b"x" * (6 << 20))  # two parts of 5 MiB and the rest
    with moto_apart() as clients, uploads_notify_once():
        s3, sqs = clients("s3"), clients("sqs")
        queue = sqs.create_queue(QueueName="ingest")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        s3.create_bucket(Bucket="ledger")
        s3.put_bucket_notification_configuration(Bucket="ledger", NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]})
        s3.upload_file(str(ledger), "ledger", "incoming/big.csv",
                       Config=TransferConfig(multipart_threshold=5 << 20, multipart_chunksize=5 << 20))
        s3.put_object(Bucket="ledger", Key="incoming/small.csv", Body=b"small")
        events = []
        while messages := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages"):
            for message in messages:
                events += [(record["eventName"], unquote_plus(record["s3"]["object"]["key"]))
                           for record in json.loads(message["Body"]).get("Records", [])]
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    assert sorted(events) == [("ObjectCreated:CompleteMultipartUpload", "incoming/big.csv"),
                              ("ObjectCreated:Put", "incoming/small.csv")]
