"""The stored ledger in DynamoDB: transactions once by id, and by account for detection."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from creditrefunds.adapters.dynamo import get_all, query_all
from creditrefunds.adapters.transient import CLIENT_CONNECTIONS, Throttled
from creditrefunds.domain.authentic import Tampered
from creditrefunds.domain.ledger import RowRefused, StoreOutcome, Transaction, parse_row

WRITERS = CLIENT_CONNECTIONS  # concurrent DynamoDB writers per ingest (latency-bound), a connection each
MARKS_PER_TRANSACTION = 100  # TransactWriteItems' limit
BATCH = 25  # BatchWriteItem's limit
ROW_MANIFEST, ROW_PATH = "manifest", "path"  # what vouches for a row (adapters/trusted.py)
NOT_ROW = ("pk", "sk", ROW_MANIFEST, ROW_PATH)


def content_hash(txn: Transaction) -> str:
    return hashlib.sha256(json.dumps(txn.to_record(), sort_keys=True).encode()).hexdigest()


class TransactionStore:
    """Transactions by id (globally unique) and by account.

    Items: TXN#<txn_id>/TXN marks an id as taken (with the content hash); ACCT#<account>/TXN#<id>
    holds the row for detection; GUAR#<guarantor>/ACCT#<account> lists a guarantor's accounts;
    CLAIM#<claim_id>/ACCT#<account> the accounts a payer's claim was posted to (a remittance's PLB
    names only the claim).
    """

    def __init__(self, table: Any, writers: int = WRITERS) -> None:
        self._table = table
        self._writers = writers

    def put_all(self, txns: list[Transaction], manifest: dict[str, Any], paths: list[str]) -> list[StoreOutcome]:
        """Store each transaction once; outcomes in the order given. Ids must be distinct. `manifest` (the
        MACed root of the rows' Merkle tree, adapters/trusted.py) is kept first, and each row with its path.

        The id markers go first, up to 100 in one TransactWriteItems, each on the condition
        that the id is not taken: race-free against another file storing the same id at the
        same moment. The account rows follow as idempotent batch puts, written again on a
        repeat, so a write cut short between the two is healed by the next delivery of the
        file. Groups run in parallel on the resource's client, which threads may share (the
        resource objects may not). About one request per 20 rows.
        """
        groups = [txns[i:i + MARKS_PER_TRANSACTION] for i in range(0, len(txns), MARKS_PER_TRANSACTION)]
        marked = self._parallel(self._mark_group, groups)
        outcomes = [outcome for group in marked for outcome in group]
        self._table.put_item(Item={"pk": f"MANIFEST#{manifest['manifest']}", "sk": "MANIFEST", **manifest})
        rows: list[dict[str, Any]] = []
        accounts: set[tuple[str, str]] = set()
        claims: set[tuple[str, str]] = set()
        for txn, outcome, path in zip(txns, outcomes, paths, strict=True):
            if outcome.result != "conflict":
                rows.append({"pk": f"ACCT#{txn.account_id}", "sk": f"TXN#{txn.txn_id}", **txn.to_record(),
                             ROW_MANIFEST: manifest["manifest"], ROW_PATH: path})
                accounts.add((txn.guarantor_id, txn.account_id))
                if txn.claim_id:
                    claims.add((txn.claim_id, txn.account_id))
        rows += [{"pk": f"GUAR#{guarantor}", "sk": f"ACCT#{account}"} for guarantor, account in sorted(accounts)]
        rows += [{"pk": f"CLAIM#{claim}", "sk": f"ACCT#{account}"} for claim, account in sorted(claims)]
        self._parallel(self._write_batch, [rows[i:i + BATCH] for i in range(0, len(rows), BATCH)])
        return outcomes

    def _parallel(self, work: Any, items: list[Any]) -> list[Any]:
        if len(items) <= 1 or self._writers <= 1:
            return [work(item) for item in items]
        with ThreadPoolExecutor(max_workers=self._writers) as pool:
            return list(pool.map(work, items))

    def _mark_group(self, txns: list[Transaction]) -> list[StoreOutcome]:
        """Take the ids of `txns`; an id already taken is 'same' or 'conflict' by content hash."""
        client = self._table.meta.client
        digests = {t.txn_id: content_hash(t) for t in txns}
        outcomes: dict[str, StoreOutcome] = {}
        pending = list(txns)
        for attempt in range(12):
            if not pending:
                break
            try:
                # The token makes botocore's resend of this very request (its reply lost) succeed as it did,
                # so ids it took are counted new, not "same" (DynamoDB keeps it 10 minutes).
                client.transact_write_items(ClientRequestToken=secrets.token_hex(16), TransactItems=[{"Put": {
                    "TableName": self._table.name,
                    "Item": {"pk": f"TXN#{t.txn_id}", "sk": "TXN", "hash": digests[t.txn_id],
                             "account_id": t.account_id},
                    "ConditionExpression": "attribute_not_exists(pk)",
                }} for t in pending])  # fmt: skip
                outcomes.update({t.txn_id: StoreOutcome("new") for t in pending})
                break
            except ClientError as error:
                if error.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
            # Some id is taken (or another writer held one): settle the taken ones, retry the rest.
            stored = self._markers([t.txn_id for t in pending])
            for t in pending:
                item = stored.get(t.txn_id)
                if item is not None:
                    same = item["hash"] == digests[t.txn_id]
                    outcomes[t.txn_id] = StoreOutcome("same") if same else StoreOutcome("conflict", item["account_id"])
            if all(t.txn_id in outcomes for t in pending):
                break
            pending = [t for t in pending if t.txn_id not in outcomes]
            time.sleep(min(0.02 * 2**attempt, 1.0))
        missing = [t.txn_id for t in txns if t.txn_id not in outcomes]
        if missing:
            raise Throttled(f"could not take {len(missing)} transaction id(s) after retries, e.g. {missing[0]}")
        return [outcomes[t.txn_id] for t in txns]

    def _markers(self, txn_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The stored id markers of `txn_ids`."""
        items = get_all(self._table, [{"pk": f"TXN#{txn_id}", "sk": "TXN"} for txn_id in txn_ids])
        return {item["pk"].removeprefix("TXN#"): item for item in items}

    def _write_batch(self, items: list[dict[str, Any]]) -> None:
        """One BatchWriteItem, its unprocessed items sent again with exponential backoff until none is
        left, as DynamoDB asks. Not boto3's `batch_writer`: it re-sends unprocessed items at once, with no
        backoff and no limit (boto/boto3#4150), which under throttling only throttles harder."""
        client = self._table.meta.client
        requests = {self._table.name: [{"PutRequest": {"Item": item}} for item in items]}
        for attempt in range(12):
            left = client.batch_write_item(RequestItems=requests).get("UnprocessedItems") or {}
            if not left:
                return
            requests = left
            time.sleep(min(0.05 * 2**attempt, 2.0))
        raise Throttled(f"DynamoDB left {sum(len(v) for v in left.values())} item(s) unwritten after retries")

    def account_rows(self, account_id: str) -> list[tuple[Transaction, str, str]]:
        """The account's rows, each with the manifest and path that vouch for it (checked by the caller); a row
        kept under a sort key not its own vouches for nothing, and one that cannot be read stops the read."""
        rows = []
        for item in self._query(f"ACCT#{account_id}"):
            try:
                txn = parse_row({k: str(v) for k, v in item.items() if k not in NOT_ROW}, id_max_length=None)
            except (RowRefused, KeyError, ValueError, ArithmeticError):
                raise Tampered(f"account {account_id}: the stored item {item.get('sk')!r} is not a ledger row "
                               "the store wrote") from None
            kept_right = item.get("sk") == f"TXN#{txn.txn_id}"
            rows.append((txn, str(item.get(ROW_MANIFEST, "")) if kept_right else "", str(item.get(ROW_PATH, ""))))
        return rows

    def manifest(self, manifest_id: str) -> dict[str, Any] | None:
        item = self._table.get_item(Key={"pk": f"MANIFEST#{manifest_id}", "sk": "MANIFEST"},
                                    ConsistentRead=True).get("Item")
        return {k: str(v) if k != "rows" else int(v) for k, v in item.items()} if item else None

    def accounts_of_claim(self, claim_id: str) -> list[str]:
        return [item["sk"].removeprefix("ACCT#") for item in self._query(f"CLAIM#{claim_id}")]

    def guarantor_accounts(self, guarantor_id: str) -> list[str]:
        return [item["sk"].removeprefix("ACCT#") for item in self._query(f"GUAR#{guarantor_id}")]

    def _query(self, pk: str) -> Iterator[dict[str, Any]]:
        """Every item of one partition."""
        return query_all(self._table, KeyConditionExpression=Key("pk").eq(pk), ConsistentRead=True)
