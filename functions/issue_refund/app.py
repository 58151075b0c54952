"""Issue refund: each REFUND and OFFSET line once, as a row of the day's accounts-payable file.

Exactly once per line, whatever retries or duplicate deliveries happen: each instruction is a
conditional put keyed by case and line (`RefundBook.issue`); a repeat finds it and issues
nothing new. The day's `outbound/refunds/<date>.csv` is rendered from the instructions.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger
from creditrefunds.aws import Aws
from creditrefunds.history import Entry
from creditrefunds.outbound import payer_claim
from creditrefunds.stores import case_from_item

logger = Logger()
ISSUED_ACTIONS = ("REFUND", "OFFSET")


@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    aws, now = Aws(), datetime.now(UTC)
    item = aws.cases.require(event["case_id"])
    case = case_from_item(item)
    transactions = aws.transactions.account_transactions(case.account_id)
    issued, new_ids = [], set()
    for index, line in enumerate(case.lines):
        if line.action not in ISSUED_ACTIONS:
            continue
        instruction = aws.refunds.issue(case, index, line, payer_claim(transactions, line), now.date())
        issued.append(instruction)
        if instruction.new:
            new_ids.add(instruction.instruction_id)
            aws.publish("RefundIssued", {k: v for k, v in instruction.row.items() if k != "payee_id"})
            aws.history.append(case, Entry(
                "system:issue-refund", "ISSUED", item["status"], "REFUND_ISSUED",
                f"{line.action} line {index} to {line.payee_type}: {instruction.row['method']} "
                f"(instruction {instruction.instruction_id}, file of {instruction.row['issued_on']})",
                line.amount), now)
    days = {datetime.fromisoformat(i.row["issued_on"]).date() for i in issued}
    files = [aws.refunds.render_day(aws.client("s3"), aws.env["LEDGER_BUCKET"], day,
                                    {i.instruction_id for i in issued if i.row["issued_on"] == day.isoformat()})
             for day in sorted(days)]
    aws.cases.set_status(case.case_id, "REFUND_ISSUED")
    logger.info("refund issued", extra={"case_id": case.case_id, "new_lines": len(new_ids), "lines": len(issued)})
    return {"issued": [i.instruction_id for i in issued], "new": sorted(new_ids), "files": files}
