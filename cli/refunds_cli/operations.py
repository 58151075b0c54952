"""What operators do when a person had to look: `refunds case ID --retry`, `refunds report stuck`,
`refunds sweep`. The same use cases the sweeper function runs, against the stack's tables."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from creditrefunds.adapters.case_store import CaseStore
from creditrefunds.adapters.history_store import HistoryStore
from creditrefunds.adapters.workflows import Workflows
from creditrefunds.usecases.operations import NotRetryable, find_stuck, retry

from refunds_cli.target import Target


class StackPorts:
    """The parts of a stack the operators' commands use (the use cases' `Ports`, as far as they need)."""

    def __init__(self, target: Target) -> None:
        self._target = target

    @cached_property
    def cases(self) -> CaseStore:
        return CaseStore(self._target.table("CasesTableName"))

    @cached_property
    def history(self) -> HistoryStore:
        return HistoryStore(self._target.table("HistoryTableName"), self.cases)

    @cached_property
    def refund_book(self) -> Any:
        return self._target.refund_book()

    @cached_property
    def workflows(self) -> Workflows:
        return Workflows(self._target.client("stepfunctions"), self._target.output("RefundStateMachineArn"))


def retry_case(target: Target, case_id: str) -> int:
    """Restart a FAILED case from its last good step, under the operator's name."""
    operator = "operator:" + target.client("sts").get_caller_identity()["Arn"]
    try:
        done = retry(StackPorts(target), case_id, operator, datetime.now(UTC))  # type: ignore[arg-type]
    except NotRetryable as error:
        print(f"refunds: {error}", file=sys.stderr)
        return 1
    print(f"{case_id}: restarted ({done['status']}, workflow run {done['run']}, from "
          f"{'the issue step' if done['resume'] == 'ISSUE' else 'review'})")
    return 0


def stuck(target: Target, grace_minutes: float, as_json: bool) -> int:
    """Cases no workflow is moving (FAILED ones too), and instructions no history record tells of; exit 1
    when any."""
    found = find_stuck(StackPorts(target), datetime.now(UTC), timedelta(minutes=grace_minutes),  # type: ignore[arg-type]
                       failed=True)
    if as_json:
        print(json.dumps([s.to_json() for s in found], indent=2))
    else:
        for s in found:
            print(f"{s.case_id}  {s.account_id}  {s.status}: {s.problem} (the sweeper will {s.repair})")
        print(f"{len(found)} stuck" if found else "nothing stuck: every working case has its workflow running")
    return 1 if found else 0


def sweep_now(target: Target) -> int:
    """Invoke the sweeper function now (it repairs what it can and records the rest FAILED)."""
    answer = target.client("lambda").invoke(FunctionName=target.output("SweepFunctionName"), Payload=b"{}")
    result: dict[str, Any] = json.load(answer["Payload"])
    if answer.get("FunctionError"):
        print(f"refunds: the sweeper failed: {result.get('errorMessage')}", file=sys.stderr)
        return 1
    for s in result["stuck"]:
        print(f"{s['case_id']}  {s['status']}: {s['problem']} -> {s['repair']}")
    print(f"swept: {len(result['stuck'])} case(s) repaired or recorded")
    return 0


def register(commands: Any, target_of: Any) -> None:
    sweeping = commands.add_parser("sweep", help="run the sweeper now: start missing workflows, write missing records")
    sweeping.set_defaults(func=lambda a: sweep_now(target_of(a)))
