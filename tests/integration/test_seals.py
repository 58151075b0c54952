"""The history cannot be rewritten unseen (issue 11): what a writer of the tables can do to a chain
after a seal, `refunds audit verify` reports, naming the case and the record; seals cannot be
deleted and cannot be forged."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from creditrefunds.adapters.case_store import CaseStore
from creditrefunds.adapters.history_store import HistoryStore
from creditrefunds.domain.cases import Case
from creditrefunds.domain.history import Entry, record_hash

from .test_history import issued_case, refunds


def sealed_case(cloud, case_id: str) -> None:
    """A case whose refund went out (its ISSUED record and its instruction agree), then a seal."""
    issued_case(cloud, case_id)
    sealed = refunds(cloud, "audit", "seal")
    assert sealed.returncode == 0 and sealed.stdout.startswith("sealed "), sealed.stdout + sealed.stderr
    checked = refunds(cloud, "audit", "verify", "--case", case_id)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def records(cloud, case_id: str) -> list[dict]:
    table = cloud.table("HistoryTableName")
    return sorted(table.query(KeyConditionExpression="case_id = :c", ExpressionAttributeValues={":c": case_id})
                  ["Items"], key=lambda r: int(r["seq"]))


def rewrite_who_decided(cloud, case_id: str) -> None:
    """Change the decider of record 3, re-hash it and every record after it, and move the head: the
    chain is whole again, as a script with PutItem on the history and UpdateItem on cases makes it."""
    table, previous = cloud.table("HistoryTableName"), None
    for record in records(cloud, case_id):
        if int(record["seq"]) == 3:
            record["actor"] = "someone.else@example.org"
        if previous is not None:
            record["prev_hash"] = previous["hash"]
        record["hash"] = record_hash(record)
        table.put_item(Item=record)
        previous = record
    move_head(cloud, case_id, int(previous["seq"]), previous["hash"])


def cut_the_tail(cloud, case_id: str) -> None:
    """Delete the last record and move the head back onto the one before."""
    last, before = records(cloud, case_id)[-1], records(cloud, case_id)[-2]
    cloud.table("HistoryTableName").delete_item(Key={"case_id": case_id, "seq": last["seq"]})
    move_head(cloud, case_id, int(before["seq"]), before["hash"])


def change_the_month(cloud, case_id: str) -> None:
    cloud.table("HistoryTableName").update_item(Key={"case_id": case_id, "seq": 2}, UpdateExpression="SET #m = :m",
                                                ExpressionAttributeNames={"#m": "month"},
                                                ExpressionAttributeValues={":m": "2031-01"})


def delete_the_case(cloud, case_id: str) -> None:
    cloud.table("CasesTableName").delete_item(Key={"case_id": case_id})


def change_the_refund(cloud, case_id: str) -> None:
    cloud.table("RefundsTableName").update_item(Key={"instruction_id": f"{case_id}#0"},
                                                UpdateExpression="SET amount = :a",
                                                ExpressionAttributeValues={":a": "4000.00"})


def note(cloud, case_id: str) -> None:
    """A record appended now, as the console appends a note (the case's head moved with it, where it is)."""
    first = records(cloud, case_id)[0]
    case = Case(case_id, first["account_id"], first["patient_id"], first["guarantor_id"], Decimal("0.00"),
                date(2026, 9, 1))
    cases = CaseStore(cloud.table("CasesTableName")) if cases_item(cloud, case_id) else None
    HistoryStore(cloud.table("HistoryTableName"), cases).append(
        case, Entry("user:billing", "NOTED", "REFUND_ISSUED", "REFUND_ISSUED", "called the patient"), datetime.now(UTC))


def cases_item(cloud, case_id: str) -> dict | None:
    return cloud.table("CasesTableName").get_item(Key={"case_id": case_id}).get("Item")


def move_head(cloud, case_id: str, seq: int, head: str) -> None:
    cloud.table("CasesTableName").update_item(
        Key={"case_id": case_id}, UpdateExpression="SET history_seq = :s, history_hash = :h",
        ExpressionAttributeValues={":s": seq, ":h": head})


@pytest.mark.parametrize(("attack", "said"), [
    (rewrite_who_decided, "record 4: is not the record that was sealed: the chain was rewritten"),
    (cut_the_tail, "the chain: was sealed at record 4 but ends at record 3: records were removed"),
    (change_the_month, "record 2: its content does not match its hash: altered"),
    (delete_the_case, "the chain: was sealed with 4 record(s) but the case is gone: deleted"),
    (change_the_refund, "the chain: refund instruction"),  # its MAC fails before its record is compared
])
def test_each_rewrite_after_a_seal_is_reported_naming_case_and_record(cloud, attack, said):
    case_id = f"CB-SEALED-{attack.__name__.upper()}"
    sealed_case(cloud, case_id)
    attack(cloud, case_id)
    done = refunds(cloud, "audit", "verify", "--case", case_id)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"BROKEN case {case_id}: {said}" in done.stdout
    if attack is change_the_refund:
        return  # the refund book, not the chain: nothing for the seal to refuse
    # The next seal does not launder it: it signs only the cases that moved since the last one (the attack
    # kept the records' old stamps), and verify still holds the case to the seal that signed it.
    next_seal = refunds(cloud, "audit", "seal").stdout.split()[-1]
    signed = json.loads(cloud.client("s3").get_object(Bucket=cloud.outputs["SealBucketName"], Key=next_seal)["Body"]
                        .read())["seal"]["heads"]
    assert case_id not in [head[0] for head in signed]
    again = refunds(cloud, "audit", "verify", "--case", case_id)
    assert again.returncode == 1 and f"BROKEN case {case_id}: {said}" in again.stdout, again.stdout
    # Once the case moves again, the seal refuses its chain, says so in the seal, and tells operators.
    note(cloud, case_id)
    assert refunds(cloud, "audit", "seal").returncode == 0
    again = refunds(cloud, "audit", "verify", "--case", case_id)
    assert again.returncode == 1 and f"refused case {case_id}" in again.stdout, again.stdout
    assert [m for m in cloud.mailbox.messages() if m.subject.startswith("History changed under the seal")
            and case_id in m.text]


def test_a_seal_cannot_be_deleted_nor_forged(cloud):
    sealed_case(cloud, "CB-SEALED-FORGE")
    s3, bucket = cloud.client("s3"), cloud.outputs["SealBucketName"]
    [latest] = sorted(s3.list_objects_v2(Bucket=bucket, Prefix="seals/")["Contents"], key=lambda o: o["Key"])[-1:]
    version = s3.head_object(Bucket=bucket, Key=latest["Key"])["VersionId"]
    with pytest.raises(s3.exceptions.ClientError, match="AccessDenied"):  # S3 Object Lock, compliance mode
        s3.delete_object(Bucket=bucket, Key=latest["Key"], VersionId=version)
    # A writer of the bucket adds a seal of their own; it follows the last one, but they cannot sign it.
    body = s3.get_object(Bucket=bucket, Key=latest["Key"])["Body"].read()
    document = json.loads(body)
    forged = dict(document["seal"], previous={"key": latest["Key"], "sha256": hashlib.sha256(body).hexdigest()},
                  heads=[])
    key = "seals/9999-12-31T00-00-00.000000Z.json"
    s3.put_object(Bucket=bucket, Key=key, ChecksumAlgorithm="SHA256",
                  Body=json.dumps({**document, "seal": forged}).encode())
    try:
        done = refunds(cloud, "audit", "verify", "--case", "CB-SEALED-FORGE")
        assert done.returncode == 1
        assert f"BROKEN seal {key}: its signature does not match its content: altered" in done.stdout
    finally:
        s3.delete_object(Bucket=bucket, Key=key)  # a delete marker: the seals read whole again
    assert refunds(cloud, "audit", "verify", "--case", "CB-SEALED-FORGE").returncode == 0
