"""A dropped file whose ingest failed after Lambda's retries reaches this function through the ingest
function's on-failure destination (an SQS queue): the file goes to rejected/ with the error, and
operators are told. A record it cannot handle stays on the queue (a partial batch failure)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.s3_event import S3EventRecord
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from creditrefunds.adapters.config import BaseConfig
from creditrefunds.adapters.runtime import answers_doctor, dropped, lambda_runtime
from creditrefunds.usecases.ingest import file_failed

logger, tracer, services = lambda_runtime(BaseConfig)
processor = BatchProcessor(event_type=EventType.SQS)


def failed_files(record: SQSRecord) -> None:
    """One destination record: the S3 event the ingest function failed on, and its last error."""
    failure = json.loads(record.body)
    error = failure.get("responsePayload") or {}
    why = f"{error.get('errorType', 'Error')}: {error.get('errorMessage', 'no message')}"
    ports = services()
    for s3_record in failure["requestPayload"].get("Records", []):
        file_failed(ports, dropped(S3EventRecord(s3_record)), why, ports.config.operators_email, datetime.now(UTC))


@answers_doctor
@logger.inject_lambda_context(log_event=False)  # a failed event names files and quotes errors
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=failed_files, processor=processor, context=context)
