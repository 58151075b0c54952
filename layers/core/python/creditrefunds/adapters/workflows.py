"""Step Functions: start a case's workflow or a file's fan-out, answer a waiting approval task."""

from __future__ import annotations

import json
from typing import Any


def run_name(case_id: str, run: int) -> str:
    """A case's workflow run is named after the case; a second run (a retry) gets its number."""
    return f"{case_id}-run{run}" if run else case_id


class Workflows:
    def __init__(self, sfn: Any, refund_workflow_arn: str | None = None, fan_out_arn: str | None = None) -> None:
        self._sfn = sfn
        self._refund_workflow = refund_workflow_arn
        self._fan_out = fan_out_arn

    def start_case(self, case_id: str, run: int = 0, resume: str | None = None) -> bool:
        """Start the case's refund workflow, named after the case (and its run, after the first): False
        when that run was started before. `resume`: the step a retried run starts at (ISSUE or REVIEW)."""
        payload = {"case_id": case_id, **({"resume": resume} if resume else {})}
        return self._start(self._refund_workflow, run_name(case_id, run), payload)

    def state(self, case_id: str, run: int = 0) -> str | None:
        """The status of the case's run (RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED); None when it was
        never started."""
        if self._refund_workflow is None:
            raise RuntimeError("this function has no state machine (see its environment in template.yaml)")
        prefix, name = self._refund_workflow.split(":stateMachine:", 1)
        try:
            answer = self._sfn.describe_execution(
                executionArn=f"{prefix}:execution:{name}:{run_name(case_id, run)}")
        except self._sfn.exceptions.ExecutionDoesNotExist:
            return None
        return str(answer["status"])

    def start_fan_out(self, name: str, payload: dict[str, Any]) -> bool:
        """Start the fan-out of a large file under `name`: False when it was started before."""
        return self._start(self._fan_out, name, payload)

    def _start(self, arn: str | None, name: str, payload: dict[str, Any]) -> bool:
        if arn is None:
            raise RuntimeError("this function has no state machine to start (see its environment in template.yaml)")
        try:
            self._sfn.start_execution(stateMachineArn=arn, name=name, input=json.dumps(payload))
            return True
        except self._sfn.exceptions.ExecutionAlreadyExists:
            return False

    def answer(self, task_token: str, output: dict[str, Any]) -> bool | None:
        """Complete a waiting task; False when the task is no longer waiting (timed out, gone); None when the
        client's retry heard "gone" after an attempt whose answer was lost (that attempt may have been ours)."""
        return self._settle(self._sfn.send_task_success, taskToken=task_token, output=json.dumps(output))

    def fail_task(self, task_token: str, error: str, cause: str) -> bool:
        """End a waiting task with `error` (the state machine catches it); False when it is no longer waiting."""
        return self._settle(self._sfn.send_task_failure, taskToken=task_token, error=error, cause=cause) is not False

    def _settle(self, call: Any, **kwargs: Any) -> bool | None:
        sfn = self._sfn
        try:
            call(**kwargs)
            return True
        except (sfn.exceptions.TaskTimedOut, sfn.exceptions.TaskDoesNotExist, sfn.exceptions.InvalidToken) as gone:
            retried = gone.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
            return None if retried else False
