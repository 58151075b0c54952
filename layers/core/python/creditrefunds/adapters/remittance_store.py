"""Stored remittance evidence in DynamoDB, keyed for matching by account and claim.

Items: ACCT#<account>/PAY#<claim>#<trace>#... a claim payment; ACCT#<account>/TAKE#<claim>#... a
takeback (CLAIM#<claim>/TAKE#... while no stored ledger row names its claim: detection reads the
partitions of an account's claims too, so a takeback that came before the ledger still counts); FILE#<sha256>/FILE an
interchange received (written last: the same interchange again finds it and changes nothing). Keys
come from the content, so a payment or takeback sent again in another file is the same item.

Evidence turns refunds into corrections, so a forged item could keep a patient's money: every item
carries an HMAC (KMS, a key only the remittance function may use to generate) over its key and
content, and an item whose MAC does not verify stops whoever reads it (`TamperedEvidence`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from boto3.dynamodb.conditions import Key

from creditrefunds.adapters.dynamo import put_if_absent, query_all
from creditrefunds.domain.remittance import (
    ClaimPayment,
    Evidence,
    Takeback,
    claim_record,
    from_record,
    takeback_record,
)

MAC_ALGORITHM = "HMAC_SHA_256"


class TamperedEvidence(Exception):
    """A stored remittance item does not carry a valid MAC: it was written by someone else, or altered."""


def item_of(evidence: ClaimPayment | Takeback) -> dict[str, str]:
    """The item (without its MAC) a claim payment or takeback is stored as."""
    if isinstance(evidence, ClaimPayment):
        record = claim_record(evidence)
        sk = f"PAY#{evidence.claim_id}#{evidence.source.trace}#{evidence.status}#{record['paid']}"
        pk = f"ACCT#{evidence.account_id}"
    else:
        record = takeback_record(evidence)
        sk = f"TAKE#{evidence.claim_id}#{evidence.kind}#{evidence.source.trace}#{record['amount']}"
        pk = f"ACCT#{evidence.account_id}" if evidence.account_id else f"CLAIM#{evidence.claim_id}"
    return {"pk": pk, "sk": sk, **record}


def _digest(item: dict[str, Any]) -> bytes:
    content = {k: str(v) for k, v in item.items() if k != "mac"}
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).digest()


class RemittanceStore:
    def __init__(self, table: Any, kms: Any, key_id: str) -> None:
        self._table, self._kms, self._key_id = table, kms, key_id

    def received(self, digest: str) -> dict[str, Any] | None:
        """The interchange's record when it was received before."""
        item = self._table.get_item(Key={"pk": f"FILE#{digest}", "sk": "FILE"}, ConsistentRead=True).get("Item")
        return dict(item) if item else None

    def keep(self, evidence: list[ClaimPayment | Takeback]) -> None:
        """Store each claim payment and takeback (a repeat writes the same item again)."""
        items = [item_of(e) for e in evidence]
        with self._table.batch_writer(overwrite_by_pkeys=["pk", "sk"]) as batch:
            for item in items:
                batch.put_item(Item={**item, "mac": self._mac(item)})

    def mark_received(self, digest: str, summary: dict[str, Any]) -> bool:
        """Record the interchange as received (last, once all it says is stored); False when it was already."""
        return put_if_absent(self._table, {"pk": f"FILE#{digest}", "sk": "FILE", **summary}, "pk")

    def of_account(self, account_id: str, claims: Iterable[str] = ()) -> Evidence:
        """What the stored remittances say of one account, and the takebacks of its `claims` no account was
        known for when they came; each item's MAC verified."""
        found = []
        for pk in [f"ACCT#{account_id}", *(f"CLAIM#{claim}" for claim in sorted(set(claims)))]:
            found += self._verified(query_all(self._table, KeyConditionExpression=Key("pk").eq(pk),
                                              ConsistentRead=True))
        return Evidence.of(found)

    def everything(self) -> dict[str, Evidence]:
        """Every stored claim payment and takeback by account ('' for takebacks no account was known for)."""
        by_account: dict[str, list[ClaimPayment | Takeback]] = {}
        for item in self._verified(i for i in self._scan() if not str(i["pk"]).startswith("FILE#")):
            by_account.setdefault(item.account_id or "", []).append(item)
        return {account: Evidence.of(items) for account, items in sorted(by_account.items())}

    def _scan(self) -> Any:
        answer = self._table.scan(ConsistentRead=True)
        yield from answer["Items"]
        while "LastEvaluatedKey" in answer:
            answer = self._table.scan(ConsistentRead=True, ExclusiveStartKey=answer["LastEvaluatedKey"])
            yield from answer["Items"]

    def _verified(self, items: Any) -> list[ClaimPayment | Takeback]:
        out = []
        for item in items:
            mac = item.get("mac")
            if not mac or not self._valid(item, bytes(mac)):
                raise TamperedEvidence(f"remittance item {item.get('pk')}/{item.get('sk')} has no valid MAC: "
                                       "it was not written by the remittance function, or it was altered")
            out.append(from_record({k: str(v) for k, v in item.items() if k not in ("pk", "sk", "mac")}))
        return out

    def _mac(self, item: dict[str, Any]) -> bytes:
        answer = self._kms.generate_mac(KeyId=self._key_id, Message=_digest(item), MacAlgorithm=MAC_ALGORITHM)
        return bytes(answer["Mac"])

    def _valid(self, item: dict[str, Any], mac: bytes) -> bool:
        try:
            answer = self._kms.verify_mac(KeyId=self._key_id, Message=_digest(item), MacAlgorithm=MAC_ALGORITHM,
                                          Mac=mac)
        except self._kms.exceptions.KMSInvalidMacException:
            return False
        return bool(answer["MacValid"])
