"""Creators for what connects the functions: queues and their mappings to functions, on-failure
destinations, topics and alarms, schedules. Part of StackBuilder; each also wires the local
runtime the way the service does in AWS."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import boto3

from localcloud.intrinsics import TemplateError
from localcloud.names import ACCOUNT_ID
from localcloud.schedules import rate_seconds, scheduled_event

if TYPE_CHECKING:
    from localcloud.lambdas import LambdaRuntime
    from localcloud.stack import DeployedStack, Every, StackBuilder

POLL_SECONDS = 0.5


class Wiring:
    if TYPE_CHECKING:  # what StackBuilder, the class these creators are part of, gives them
        stack: DeployedStack
        _endpoint_url: str
        _runtime: LambdaRuntime
        _every: Every

        def client(self, service: str) -> Any: ...
        def _name(self, logical_id: str, limit: int = 64) -> str: ...

    def _queue(self, logical_id: str, props: dict[str, Any]) -> None:
        name = props.get("QueueName") or self._name(logical_id, 80)
        attributes: dict[str, str] = {key: str(props[key]) for key in ("KmsMasterKeyId", "MessageRetentionPeriod",
                                                                   "VisibilityTimeout", "DelaySeconds") if key in props}
        if "RedrivePolicy" in props:  # moto moves a message received this often to the dead-letter queue
            attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
        url = self.client("sqs").create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = f"arn:aws:sqs:{self.stack.region}:{ACCOUNT_ID}:{name}"
        self.stack.physical[logical_id] = url
        self.stack.attributes[logical_id] = {"Arn": arn, "QueueName": name, "QueueUrl": url}

    def _as_function(self, function: str, service: str) -> Any:
        """A client acting as the function's role: what Lambda's queue poller and on-failure destination
        do in AWS (so the role must allow them, and the key they use)."""
        credentials = self._runtime.spec_of(function).credentials()
        return boto3.client(service, endpoint_url=self._endpoint_url, region_name=self.stack.region,
                            aws_access_key_id=credentials.get("AWS_ACCESS_KEY_ID", "local"),
                            aws_secret_access_key=credentials.get("AWS_SECRET_ACCESS_KEY", "local"),
                            aws_session_token=credentials.get("AWS_SESSION_TOKEN"))

    def _queue_url(self, arn: str) -> str:
        return str(self.client("sqs").get_queue_url(QueueName=arn.rsplit(":", 1)[-1])["QueueUrl"])

    def _event_invoke_config(self, logical_id: str, props: dict[str, Any]) -> None:
        """Retries of asynchronous invocations, and where an event goes once they are spent."""
        function = props["FunctionName"]
        destination = props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        send: Callable[[Any, dict[str, Any]], None] | None = None
        if destination is not None:
            if ":sqs:" not in destination:
                raise TemplateError(f"{logical_id}: the local cloud sends failed events to SQS queues only")
            url, sqs = self._queue_url(destination), self._as_function(function, "sqs")

            def send(_event: Any, record: dict[str, Any]) -> None:
                sqs.send_message(QueueUrl=url, MessageBody=json.dumps(record))

        self._runtime.configure_async(function, int(props.get("MaximumRetryAttempts", 2)), send)
        self.stack.physical[logical_id] = f"{function}-invoke-config"

    def _event_source_mapping(self, logical_id: str, props: dict[str, Any]) -> None:
        """An SQS queue read by a function, as Lambda's pollers do: a batch in, the messages the function did
        not report failed are deleted, the others come back after their visibility."""
        source, function = props["EventSourceArn"], props["FunctionName"]
        if ":sqs:" not in source:
            raise TemplateError(f"{logical_id}: the local cloud maps SQS queues only")
        sqs, url, size = self._as_function(function, "sqs"), self._queue_url(source), int(props.get("BatchSize", 10))
        # Lambda reads the queue's attributes as the function's role when the mapping is created.
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])
        region = self.stack.region

        def batch() -> bool:
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=min(size, 10),
                                           AttributeNames=["All"]).get("Messages", [])
            if not messages:
                return False
            records = [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                        "attributes": m.get("Attributes", {}), "messageAttributes": {}, "md5OfBody": m["MD5OfBody"],
                        "eventSource": "aws:sqs", "eventSourceARN": source, "awsRegion": region} for m in messages]
            payload, error = self._runtime.invoke(function, {"Records": records})
            if error is not None:
                return False  # the whole batch comes back after its visibility timeout
            failed = {f["itemIdentifier"] for f in (json.loads(payload) or {}).get("batchItemFailures", [])}
            for message in messages:
                if message["MessageId"] not in failed:
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            return len(failed) < len(messages)

        def poll() -> None:
            # Lambda's poller reads the next batch as soon as one is done, while the queue gives any: it
            # waits only when the queue is empty (or every message of a batch came back).
            while batch():
                pass

        # A poller per batch the mapping lets run at once (ScalingConfig.MaximumConcurrency; one without it).
        for n in range(int(props.get("ScalingConfig", {}).get("MaximumConcurrency", 1))):
            self._every(POLL_SECONDS, poll, f"poll-{logical_id}-{n}")
        self.stack.physical[logical_id] = f"{logical_id}-mapping"

    def _topic(self, logical_id: str, props: dict[str, Any]) -> None:
        sns = self.client("sns")
        attributes = {"KmsMasterKeyId": str(props["KmsMasterKeyId"])} if "KmsMasterKeyId" in props else {}
        arn = sns.create_topic(Name=props.get("TopicName") or self._name(logical_id, 256),
                               Attributes=attributes)["TopicArn"]
        for subscription in props.get("Subscription", []):
            sns.subscribe(TopicArn=arn, Protocol=subscription["Protocol"], Endpoint=subscription["Endpoint"])
        self.stack.physical[logical_id] = arn
        self.stack.attributes[logical_id] = {"TopicArn": arn, "TopicName": arn.rsplit(":", 1)[-1]}

    def _alarm(self, logical_id: str, props: dict[str, Any]) -> None:
        name = props.get("AlarmName") or self._name(logical_id, 255)
        request: dict[str, Any] = {
            key: props[key] for key in ("AlarmDescription", "Namespace", "MetricName", "Dimensions", "Statistic",
                                        "ComparisonOperator", "TreatMissingData", "AlarmActions") if key in props}
        request.update({key: int(props[key]) for key in ("Period", "EvaluationPeriods") if key in props})
        request["Threshold"] = float(props["Threshold"])
        self.client("cloudwatch").put_metric_alarm(AlarmName=name, **request)
        self.stack.physical[logical_id] = name
        self.stack.attributes[logical_id] = {"Arn": f"arn:aws:cloudwatch:{self.stack.region}:{ACCOUNT_ID}:alarm:{name}"}

    def _dashboard(self, logical_id: str, props: dict[str, Any]) -> None:
        name = props.get("DashboardName") or self._name(logical_id, 255)
        self.client("cloudwatch").put_dashboard(DashboardName=name, DashboardBody=props["DashboardBody"])
        self.stack.physical[logical_id] = name

    def _events_rule(self, logical_id: str, props: dict[str, Any]) -> None:
        """A schedule: fired by the local cloud itself at its Lambda targets. Not created in moto, whose
        PutEvents tries every rule of the bus as a pattern and fails on a schedule."""
        expression = props.get("ScheduleExpression")
        if expression is None:
            raise TemplateError(f"{logical_id}: the local cloud runs scheduled rules only, not event patterns")
        name = props.get("Name") or self._name(logical_id, 64)
        arn = f"arn:aws:events:{self.stack.region}:{ACCOUNT_ID}:rule/{name}"
        for target in props.get("Targets", []):
            def fire(function: str = target["Arn"], constant: str | None = target.get("Input")) -> None:
                # A target's Input is what EventBridge sends instead of the event.
                event = json.loads(constant) if constant else scheduled_event(arn, self.stack.region, ACCOUNT_ID)
                self._runtime.invoke_async(function, event)

            self._every(rate_seconds(expression), fire, f"schedule-{name}")
        self.stack.physical[logical_id] = name
        self.stack.attributes[logical_id] = {"Arn": arn}

    CREATORS: dict[str, Callable[[StackBuilder, str, dict[str, Any]], None]] = {
        "AWS::SQS::Queue": _queue,
        "AWS::Lambda::EventInvokeConfig": _event_invoke_config,
        "AWS::Lambda::EventSourceMapping": _event_source_mapping,
        "AWS::SNS::Topic": _topic,
        "AWS::CloudWatch::Alarm": _alarm,
        "AWS::CloudWatch::Dashboard": _dashboard,
        "AWS::Events::Rule": _events_rule,
    }
