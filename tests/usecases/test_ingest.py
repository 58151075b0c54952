"""Ingest over the real use-cases (issue 3): overlapping extracts, conflicts, a file refused whole, a row whose id
no key can hold, a notification delivered again."""

from __future__ import annotations

import copy
import json
from typing import Any

from creditrefunds.domain.ledger import Dropped
from creditrefunds.usecases.ingest import file_failed, ingest_file

from tests.memory.cloud import OPERATORS, MemoryCloud

HEADER = "txn_id,account_id,patient_id,guarantor_id,txn_type,amount,posting_date,payer_type,payer_id,patient_state\n"
ROWS = [
    "OV-1,OV-ACC,OV-P,OV-G,CHARGE,100.00,2026-09-01,,,TX",
    "OV-2,OV-ACC,OV-P,OV-G,PAYMENT,-80.00,2026-09-05,MEDICARE,MAC,TX",
    "OV-3,OV-ACC,OV-P,OV-G,PAYMENT,-60.00,2026-09-09,PATIENT,,TX",
]


def stored_ids(mem: MemoryCloud, account: str) -> list[str]:
    return [t.txn_id for t in mem.trusted.transactions.account_transactions(account)]


def cases_of(mem: MemoryCloud, account: str) -> list[dict[str, Any]]:
    return [i for i in mem.cases.items.values() if i.get("account_id") == account and "status" in i]


def errors(mem: MemoryCloud, name: str) -> list[dict[str, Any]]:
    """The file's rejected rows, as the operator finds them beside it in rejected/."""
    return [json.loads(line) for line in mem.bucket.rejected(name, "errors.jsonl").splitlines()]


def notified(mem: MemoryCloud, name: str, data: bytes) -> Dropped:
    """`data` into incoming/ as the billing system drops it; the notification S3 makes of it."""
    etag = mem.bucket.drop(name, data)
    return Dropped(key=f"incoming/{name}", etag=etag, sequencer=f"{len(mem.bucket.objects):016x}", event_time=mem.now)


def ingest(mem: MemoryCloud, dropped: Dropped) -> dict[str, Any]:
    """The ingest function on one notification, then every workflow it started."""
    summary = ingest_file(mem.ports, dropped, mem.config.split_threshold, mem.config.rows_per_part, mem.now,
                          _uncounted, OPERATORS)
    mem.run()
    return summary


def _uncounted(_name: str, _value: int) -> None:
    """Metrics: nobody reads them here."""


def test_overlapping_extracts_count_each_transaction_once_and_report_a_conflict(mem: MemoryCloud):
    changed = ROWS[0].replace("100.00", "150.00")  # the same txn_id with other content
    mem.drop([ROWS[0], ROWS[1]], "extract-1.csv", header=HEADER)
    mem.drop([ROWS[1], ROWS[2], changed], "extract-2.csv", header=HEADER)
    assert stored_ids(mem, "OV-ACC") == ["OV-1", "OV-2", "OV-3"]
    [case] = cases_of(mem, "OV-ACC")
    assert case["credit"] == "40.00"  # 100 - 80 - 60: OV-2 counted once, OV-1 as first stored
    assert errors(mem, "extract-2.csv") == [{
        "line": 4, "txn_id": "OV-1", "field": "txn_id",
        "reason": "conflicts with the stored transaction of the same txn_id; the stored one is kept"}]


def test_a_bad_byte_deep_in_a_file_stores_nothing_of_it(mem: MemoryCloud):
    good = "".join(f"BB-{n},BB-ACC,BB-P,BB-G,CHARGE,10.00,2026-09-01,,,TX\n" for n in range(50))
    data = (HEADER + good).encode() + b"BB-X,BB-ACC,BB-P,BB-G,CHARGE,1.00,2026-09-01,,,\xff\n"
    ingest(mem, notified(mem, "broken-late.csv", data))
    reason = mem.bucket.rejected("broken-late.csv", "reason.txt")
    assert reason.startswith("not UTF-8 text (invalid start byte at byte ")
    assert stored_ids(mem, "BB-ACC") == []


def test_an_id_too_long_for_a_key_is_a_rejected_row_and_the_rest_is_stored(mem: MemoryCloud):
    """A 3,000-character account id would make DynamoDB refuse the key and the file fail whole,
    silently: it is a rejected row with its reason instead."""
    long_row = "LI-9," + "A" * 3000 + ",LI-P,LI-G,CHARGE,5.00,2026-09-01,,,TX"
    mem.drop([ROWS[0].replace("OV-", "LI-"), long_row], "long-id.csv", header=HEADER)
    assert errors(mem, "long-id.csv") == [{
        "line": 3, "txn_id": "LI-9", "field": "account_id",
        "reason": "an id is at most 64 characters; this one has 3000"}]
    assert stored_ids(mem, "LI-ACC") == ["LI-1"]


def test_a_notification_repeated_after_the_file_was_read_changes_nothing_and_fails_nothing(mem: MemoryCloud):
    """S3 delivers a notification at least once. A repeat for a file already read changes nothing; for a file
    no longer in incoming/ it is answered "gone"; a failure record for a file no longer in incoming/ still
    tells operators, saying so."""
    dropped = notified(mem, "read-before.csv", (HEADER + "".join(r + "\n" for r in ROWS)).encode())
    first = ingest(mem, dropped)
    assert first["stored"] == 3

    def everything() -> Any:
        return copy.deepcopy((mem.transactions.rows, mem.cases.items, mem.history.chains, mem.approvals.items,
                              mem.refund_book.items, mem.mailer.sent, mem.bucket.keys("rejected/"),
                              sorted(mem.workflows.executions)))

    before = everything()
    assert mem.bucket.keys("incoming/") == []  # read, so retired: kept as the original
    assert ingest(mem, dropped) == {"key": "incoming/read-before.csv", "gone": True}
    assert everything() == before
    # Lambda's failure destination delivers the event too (the ingest-failed function): nothing raises.
    failed = file_failed(mem.ports, dropped, "Boom: it broke", OPERATORS, mem.now)
    assert failed["rejected"] is False
    [mail] = [m for m in mem.mailer.sent if "read-before.csv" in m.subject]
    assert list(mail.to) == [OPERATORS] and "no longer in incoming/" in mail.text
