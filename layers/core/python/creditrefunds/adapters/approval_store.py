"""The approvals table. The task token is written here and read back only to answer the task."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from creditrefunds.adapters.dynamo import is_condition_failure
from creditrefunds.domain.approvals import KEEP_AFTER_EXPIRY, Approval, LinkState, LinkTaken
from creditrefunds.domain.cases import Case
from creditrefunds.domain.money import money_text


class ApprovalStore:
    def __init__(self, table: Any) -> None:
        self._table = table

    def create(self, case: Case, tier: int, approver: str, task_token: str, now: datetime, ttl: int) -> Approval:
        """A new link for `approver`, its random id single-use and expiring after `ttl` seconds."""
        expires = int(now.timestamp()) + ttl
        approval = Approval(secrets.token_urlsafe(32), case.case_id, tier, approver, money_text(case.credit), expires,
                            LinkState.PENDING)
        self._table.put_item(Item={
            "approval_id": approval.approval_id, "case_id": case.case_id, "tier": tier, "approver": approver,
            "credit": approval.credit, "task_token": task_token, "created_at": now.isoformat(),
            "expires_at": expires, "purge_after": expires + KEEP_AFTER_EXPIRY, "state": approval.state,
        }, ConditionExpression="attribute_not_exists(approval_id)")  # fmt: skip
        return approval

    def get(self, approval_id: str) -> Approval | None:
        if not approval_id:
            return None
        item = self._table.get_item(Key={"approval_id": approval_id}, ConsistentRead=True).get("Item")
        return Approval.from_item(item) if item else None

    def take(self, approval: Approval, decision: str, now: datetime) -> str:
        """Use the link once: PENDING and unexpired becomes USED. Returns the task token."""
        try:
            answer = self._table.update_item(
                Key={"approval_id": approval.approval_id},
                UpdateExpression="SET #s = :used, decided_by = :who, decision = :d, decided_at = :at",
                ConditionExpression="#s = :pending AND expires_at > :now",
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={":used": LinkState.USED, ":pending": LinkState.PENDING,
                                           ":who": approval.approver, ":d": decision, ":at": now.isoformat(),
                                           ":now": int(now.timestamp())},
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if is_condition_failure(error):
                raise LinkTaken() from None
            raise
        return str(answer["Attributes"]["task_token"])

    def supersede(self, case_id: str, approval_ids: list[str]) -> list[Approval]:
        """Mark the case's waiting links SUPERSEDED (escalation); returns those that were waiting."""
        moved = []
        for approval_id in approval_ids:
            try:
                answer = self._table.update_item(
                    Key={"approval_id": approval_id}, UpdateExpression="SET #s = :sup",
                    ConditionExpression="#s = :pending AND case_id = :case",
                    ExpressionAttributeNames={"#s": "state"},
                    ExpressionAttributeValues={":sup": LinkState.SUPERSEDED, ":pending": LinkState.PENDING,
                                               ":case": case_id},
                    ReturnValues="ALL_NEW",
                )
                moved.append(Approval.from_item(answer["Attributes"]))
            except ClientError as error:
                if not is_condition_failure(error):
                    raise
        return moved
