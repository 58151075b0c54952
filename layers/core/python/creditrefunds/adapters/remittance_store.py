"""Stored remittance evidence in DynamoDB, keyed for matching by account and claim.

Items, each under a key made from what identifies it (a hash: payer, claim, trace, amount and kind), so
that a payment or takeback sent again in another file is the same item, written once and never
overwritten:
- ACCT#<account>/PAY#<hash>: a remitted claim payment; ACCT#<account>/TAKE#<hash>: a takeback;
- CLAIM#<claim>/TAKE#<hash>: a takeback of a claim no stored ledger row named when it came (detection
  reads the partitions of an account's claims too, so a takeback that came before the ledger counts);
- SEVERAL#<claim>/TAKE#<hash>: a takeback of a claim posted to several accounts (for a person, in the
  report; never applied by itself);
- <partition>/MANIFEST#<sha256>: what one interchange stored in that partition (the items' sort keys), so that
  an item deleted since is noticed whenever the partition is read;
- FILE#<sha256>/FILE: an interchange received (written last: the same file again changes nothing).

Evidence turns refunds into corrections, so a forged item could keep money that is owed: every item
carries an HMAC (KMS) over its key and content. The key's policy lets only the remittance function's role
generate one; an item whose MAC does not verify stops whoever reads it (`TamperedEvidence`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from typing import Any

from boto3.dynamodb.conditions import Key

from creditrefunds.adapters.dynamo import put_if_absent, query_all
from creditrefunds.domain.authentic import Tampered
from creditrefunds.domain.remittance import (
    ClaimPayment,
    Evidence,
    Takeback,
    claim_record,
    from_record,
    takeback_record,
)

MAC_ALGORITHM = "HMAC_SHA_256"
MANIFEST = "MANIFEST#"


class TamperedEvidence(Tampered):
    """A stored remittance item does not carry a valid MAC: it was written by someone else, or altered."""


def _hash(*parts: str) -> str:
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:40]


def item_of(evidence: ClaimPayment | Takeback, held: bool = False) -> dict[str, str]:
    """The item (without its MAC) a claim payment or takeback is stored as."""
    if isinstance(evidence, ClaimPayment):
        record = claim_record(evidence)
        sk = "PAY#" + _hash(evidence.source.payer_id, evidence.claim_id, evidence.source.trace, evidence.status,
                            record["paid"])
        return {"pk": f"ACCT#{evidence.account_id}", "sk": sk, **record}
    record = takeback_record(evidence)
    sk = "TAKE#" + _hash(evidence.source.payer_id, evidence.claim_id, evidence.source.trace, evidence.kind,
                         record["amount"])
    pk = (f"SEVERAL#{evidence.claim_id}" if held else
          f"ACCT#{evidence.account_id}" if evidence.account_id else f"CLAIM#{evidence.claim_id}")
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

    def keep(self, evidence: list[ClaimPayment | Takeback], held: Iterable[Takeback] = (), digest: str = "") -> None:
        """Store each claim payment and takeback once (`held`: takebacks for a person only); an item already
        stored, from this file or another, stays as it first came. Then, per partition, the interchange's
        manifest (`digest`: the interchange's SHA-256): the sort keys it stored there, MACed."""
        items = [item_of(e) for e in evidence] + [item_of(t, held=True) for t in held]
        for item in items:
            put_if_absent(self._table, {**item, "mac": self._mac(item)}, "pk")
        partitions: dict[str, set[str]] = {}
        for item in items:
            partitions.setdefault(item["pk"], set()).add(item["sk"])
        for pk, sks in sorted(partitions.items()):
            manifest = {"pk": pk, "sk": f"{MANIFEST}{digest}", "items": " ".join(sorted(sks))}
            put_if_absent(self._table, {**manifest, "mac": self._mac(manifest)}, "pk")

    def mark_received(self, digest: str, summary: dict[str, Any]) -> bool:
        """Record the interchange as received (last, once all it says is stored); False when it was already."""
        return put_if_absent(self._table, {"pk": f"FILE#{digest}", "sk": "FILE", **summary}, "pk")

    def of_account(self, account_id: str, claims: Iterable[str] = ()) -> Evidence:
        """What the stored remittances say of one account, and the takebacks of its `claims` no account was
        known for when they came; each item's MAC verified."""
        found = []
        for pk in [f"ACCT#{account_id}", *(f"CLAIM#{claim}" for claim in sorted(set(claims)))]:
            found += self._verified(self._whole(list(query_all(self._table, KeyConditionExpression=Key("pk").eq(pk),
                                                               ConsistentRead=True))))
        return Evidence.of(found)

    def everything(self) -> tuple[dict[str, Evidence], list[Takeback], list[Takeback]]:
        """Every stored item, verified: by account; the takebacks kept by claim; those held for a person."""
        by_account: dict[str, list[ClaimPayment | Takeback]] = {}
        by_claim: list[Takeback] = []
        several: list[Takeback] = []
        partitions: dict[str, list[dict[str, Any]]] = {}
        for raw in self._scan():
            partitions.setdefault(str(raw["pk"]), []).append(raw)
        for raw in (item for pk, found in sorted(partitions.items()) for item in self._whole(found)):
            pk = str(raw["pk"])
            if pk.startswith("FILE#"):
                continue
            [item] = self._verified([raw])
            if pk.startswith("ACCT#"):
                by_account.setdefault(pk.removeprefix("ACCT#"), []).append(item)
            elif isinstance(item, Takeback):
                (several if pk.startswith("SEVERAL#") else by_claim).append(item)
        return {a: Evidence.of(items) for a, items in sorted(by_account.items())}, by_claim, several

    def _scan(self) -> Iterator[dict[str, Any]]:
        answer = self._table.scan(ConsistentRead=True)
        yield from answer["Items"]
        while "LastEvaluatedKey" in answer:
            answer = self._table.scan(ConsistentRead=True, ExclusiveStartKey=answer["LastEvaluatedKey"])
            yield from answer["Items"]

    def _whole(self, partition: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """A partition's evidence items, once every manifest in it is genuine and every item a manifest lists
        is there; else TamperedEvidence naming what is missing."""
        items = [i for i in partition if not str(i["sk"]).startswith(MANIFEST)]
        present = {str(i["sk"]) for i in items}
        for manifest in (i for i in partition if str(i["sk"]).startswith(MANIFEST)):
            mac = manifest.get("mac")
            if not mac or not self._valid(manifest, bytes(mac)):
                raise TamperedEvidence(f"remittance manifest {manifest['pk']}/{manifest['sk']} has no valid MAC")
            missing = sorted(set(str(manifest.get("items", "")).split()) - present)
            if missing:
                raise TamperedEvidence(f"remittance item {manifest['pk']}/{missing[0]}, stored from interchange "
                                       f"{str(manifest['sk']).removeprefix(MANIFEST)[:12]}, is gone: deleted")
        return items

    def _verified(self, items: Iterable[dict[str, Any]]) -> list[ClaimPayment | Takeback]:
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
