"""The approvals table: one item per link, keyed by the SHA-256 of its id (the mail holds the
only copy of the id).

The task token that answers the link's wait is kept twice, never where the public approval page can use
it for another link:
- in the task tokens table (approval key -> token), which the functions that end waits read and the page
  has no grant on;
- on the link's item, encrypted by KMS under an encryption context made from the link id
  (`token_context`): the page, given the id by the approver's request, decrypts the one token it answers;
  whoever reads the table (the page's own role included) holds no link id and decrypts none.

Index by-case (case_id, created_at) projects what the policy reads (tier, approver, digest, state,
decision, and their MACs), never the token or the snapshot.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from creditrefunds.adapters.dynamo import get_all, is_condition_failure, query_all
from creditrefunds.domain.approvals import (
    KEEP_AFTER_EXPIRY,
    Approval,
    LinkState,
    LinkTaken,
    link_key,
    token_context,
)


class ApprovalStore:
    def __init__(self, table: Any, tokens: Any, kms: Any, token_key: str) -> None:
        self._table, self._tokens, self._kms, self._token_key = table, tokens, kms, token_key

    def put_new(self, approval: Approval, task_token: str, now: datetime, link_id: str) -> None:
        """Keep a new link (`approval`, with its MAC), its task token, and the token sealed to its id."""
        snapshot = approval.snapshot
        assert snapshot is not None
        purge = approval.expires_at + KEEP_AFTER_EXPIRY
        sealed = self._kms.encrypt(KeyId=self._token_key, Plaintext=task_token.encode(),
                                   EncryptionContext=token_context(link_id))["CiphertextBlob"]
        self._tokens.put_item(Item={"approval_key": approval.approval_key, "task_token": task_token,
                                    "purge_after": purge})
        item = {
            "approval_key": approval.approval_key, "case_id": approval.case_id, "tier": approval.tier,
            "approver": approval.approver, "digest": approval.digest, "snapshot": snapshot.to_item(),
            "sealed_token": sealed, "created_at": now.isoformat(), "expires_at": approval.expires_at,
            "purge_after": purge, "state": approval.state, "snapshot_digest": approval.snapshot_digest,
            "link_mac": approval.link_mac, "approver_id": approval.approver_id,
        }
        try:
            self._table.put_item(Item=item, ConditionExpression="attribute_not_exists(approval_key)")
        except ClientError as error:
            if not is_condition_failure(error):
                raise
            landed = self._table.get_item(Key={"approval_key": approval.approval_key}, ConsistentRead=True).get("Item")
            if landed is None or landed.get("link_mac") != approval.link_mac:
                raise
            # this very link: the put landed, its answer was lost and the client sent it again

    def get(self, link_id: str) -> Approval | None:
        """The approval behind a link id (as the mail gave it)."""
        return self.by_key(link_key(link_id)) if link_id else None

    def by_key(self, approval_key: str) -> Approval | None:
        item = self._table.get_item(Key={"approval_key": approval_key}, ConsistentRead=True).get("Item")
        return Approval.from_item(item) if item else None

    def mark_mailed(self, approval: Approval, now: datetime) -> None:
        """Its mail went out: a retry of the step may keep the link rather than mail another."""
        self._table.update_item(Key={"approval_key": approval.approval_key}, UpdateExpression="SET mailed_at = :at",
                                ExpressionAttributeValues={":at": now.isoformat()})

    def mark_moved_on(self, approval: Approval, now: datetime) -> None:
        """Its approver was told an escalation moved the approval on: a retry of the escalation tells nobody twice."""
        self._table.update_item(Key={"approval_key": approval.approval_key}, UpdateExpression="SET moved_on_at = :at",
                                ExpressionAttributeValues={":at": now.isoformat()})

    def tokens(self, approval_keys: list[str]) -> dict[str, str]:
        """The task tokens of these links (those not purged)."""
        items = get_all(self._tokens, [{"approval_key": key} for key in dict.fromkeys(approval_keys)])
        return {str(item["approval_key"]): str(item["task_token"]) for item in items}

    def open_links(self, case_id: str) -> list[tuple[Approval, str]]:
        """The case's links still waiting or being decided, each with its task token (read by key)."""
        waiting = [a for a in self.of_case(case_id) if a.state in (LinkState.PENDING, LinkState.DECIDING)]
        tokens = self.tokens([a.approval_key for a in waiting])
        found = []
        for approval in waiting:
            item = self._table.get_item(Key={"approval_key": approval.approval_key}, ConsistentRead=True).get("Item")
            if item is not None and approval.approval_key in tokens:  # not purged since the index listed it
                found.append((Approval.from_item(item), tokens[approval.approval_key]))
        return found

    def of_case(self, case_id: str) -> list[Approval]:
        """Every link of the case, oldest first (by-case index: no token, no snapshot)."""
        items = query_all(self._table, IndexName="by-case", KeyConditionExpression=Key("case_id").eq(case_id))
        return [Approval.from_item(item) for item in items]

    def take(self, approval: Approval, decision: str, reason: str, source: str, now: datetime, mac: str,
             link_id: str) -> str:
        """Use the link once: PENDING and unexpired becomes DECIDING, the decision and its MAC on it. Returns the
        task token, unsealed with the link's id (the workflow, once it accepts the decision, makes the link
        USED)."""
        try:
            answer = self._table.update_item(
                Key={"approval_key": approval.approval_key},
                UpdateExpression=("SET #s = :deciding, decision = :d, reason = :r, decided_at = :at, "
                                  "decided_from = :f, decision_mac = :mac"),
                ConditionExpression="#s = :pending AND expires_at > :now",
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={":deciding": LinkState.DECIDING, ":pending": LinkState.PENDING,
                                           ":d": decision, ":r": reason, ":at": now.isoformat(), ":f": source,
                                           ":mac": mac, ":now": int(now.timestamp())},
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if not is_condition_failure(error):
                raise
            landed = self._table.get_item(Key={"approval_key": approval.approval_key}, ConsistentRead=True).get("Item")
            if landed is None or landed.get("decision_mac") != mac or landed.get("state") != LinkState.DECIDING:
                raise LinkTaken() from None
            answer = {"Attributes": landed}  # this very decision: it landed, its answer was lost, asked again
        sealed = bytes(answer["Attributes"]["sealed_token"])
        return self._kms.decrypt(CiphertextBlob=sealed, KeyId=self._token_key,
                                 EncryptionContext=token_context(link_id))["Plaintext"].decode()

    def mark_late(self, approval_key: str, case_id: str) -> Approval | None:
        """A decision the workflow never took (its wait ran out): the link counts for nothing. The link as it
        was decided, or None when it was not DECIDING. The move is named after the link: an escalation run
        again after it landed (it died before its record) gets the link back."""
        return self._move(approval_key, case_id, LinkState.DECIDING, LinkState.LATE, f"late:{approval_key}")

    def accept(self, approval: Approval) -> Approval | None:
        """The workflow took the decision: DECIDING becomes USED. None when it was accepted before."""
        return self._move(approval.approval_key, approval.case_id, LinkState.DECIDING, LinkState.USED)

    def supersede(self, case_id: str, approval_keys: list[str], by: str = "") -> list[Approval]:
        """Mark the case's waiting links SUPERSEDED; returns those that were waiting. `by` names the move (an
        escalation of one wait): run again after it landed, it returns the links it moved then."""
        return [moved for key in approval_keys
                if (moved := self._move(key, case_id, LinkState.PENDING, LinkState.SUPERSEDED, by)) is not None]

    def pending(self, case_id: str) -> list[str]:
        """The keys of the case's links still waiting for a decision."""
        return [a.approval_key for a in self.of_case(case_id) if a.state is LinkState.PENDING]

    def _move(self, key: str, case_id: str, before: LinkState, after: LinkState, by: str = "") -> Approval | None:
        """The link moved from `before` to `after`, or None when it was not `before`. The move carries a
        nonce (`by`, or one of its own): sent again after its reply was lost (botocore retries the same
        request), it is told from another actor's move to the same state, and counts as this one's."""
        nonce = by or secrets.token_hex(16)
        try:
            answer = self._table.update_item(
                Key={"approval_key": key}, UpdateExpression="SET #s = :after, moved_by = :nonce",
                ConditionExpression="#s = :before AND case_id = :case",
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={":after": after, ":before": before, ":case": case_id, ":nonce": nonce},
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if not is_condition_failure(error):
                raise
            landed = self._table.get_item(Key={"approval_key": key}, ConsistentRead=True).get("Item")
            if landed is None or landed.get("moved_by") != nonce or landed.get("state") != after:
                return None
            answer = {"Attributes": landed}  # this very move: it landed, its answer was lost, sent again
        return Approval.from_item(answer["Attributes"])
