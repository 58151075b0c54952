"""The functions the state machines call, wired as their handlers wire them (`functions/*/app.py`): the same
use-case, the same arguments from the template's parameters (`Config`), the test's clock in place of
`datetime.now`. Keyed by the definitions' placeholders ("ReviewFunctionArn" -> the step)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from creditrefunds.usecases import approval, escalate, failures, fanout, issue, review

if TYPE_CHECKING:
    from .cloud import MemoryCloud

Step = Callable[[dict[str, Any]], dict[str, Any]]
OPERATORS, COMPLIANCE = "operators@example.org", "compliance@example.org"


def _uncounted(_name: str, _value: int) -> None:
    """Metrics: nobody reads them here."""


def refund_steps(mem: MemoryCloud) -> dict[str, Step]:
    c = mem.config
    return {
        "ReviewFunctionArn": lambda p: review.review(mem.ports, p["case_id"], c.timing, mem.now),
        "RequestApprovalFunctionArn": lambda p: approval.request_approval(
            mem.ports, p["case_id"], p["tier"], p["task_token"], c.directory, c.site_url, c.link_ttl, mem.now),
        "EscalateFunctionArn": lambda p: escalate.escalate_case(mem.ports, p["case_id"], p["tier"], c.timing,
                                                                COMPLIANCE, mem.now),
        "AfterDecisionFunctionArn": lambda p: review.after_decision(mem.ports, p["case_id"], c.timing,
                                                                    c.pause_seconds, OPERATORS, mem.now),
        "IssueRefundFunctionArn": lambda p: issue.issue_refund(mem.ports, p["case_id"], mem.now),
        "RecordFailureFunctionArn": lambda p: failures.record_failure(mem.ports, p["case_id"], p.get("error"),
                                                                      OPERATORS, mem.now),
    }


def fan_out_steps(mem: MemoryCloud) -> dict[str, Step]:
    c = mem.config
    return {
        "StorePartFunctionArn": lambda p: fanout.store_part(mem.ports, p["part"]["key"], p["part"]["format"],
                                                            p["part"]["first_line"]),
        "PlanDetectionFunctionArn": lambda p: fanout.plan_detection(
            mem.ports, p["key"], p["name"], p["upload"], [part["key"] for part in p["parts"]], c.detect_batch_accounts,
            _uncounted),
        "DetectBatchFunctionArn": lambda p: fanout.detect_batch(
            mem.ports, p["batch"]["key"], datetime.fromisoformat(p["event_time"]), mem.now, _uncounted),
        "FinishLedgerFunctionArn": lambda p: fanout.finish(mem.ports, p["key"], p["name"], p["etag"], p["upload"],
                                                           len(p["parts"]), p["plan"], p["detected"]),
        "LedgerFailedFunctionArn": lambda p: fanout.fail(mem.ports, p["key"], p["name"], p["etag"], p["upload"],
                                                         p.get("error"), OPERATORS, mem.now),
    }
