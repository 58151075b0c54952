"""A dropped file's lifecycle (issue 30): once read it leaves incoming/ and is kept as it came in the
originals bucket (locked, for the records' retention); what was refused or noted of an upload is kept under
that upload, never overwritten by a re-drop's; a file with a header and no rows is a notice, not silence."""

from __future__ import annotations

import json

from creditrefunds.domain.ledger import Dropped
from creditrefunds.usecases.ingest import ingest_file

from tests.memory.cloud import OPERATORS, MemoryCloud

HEADER = "txn_id,account_id,patient_id,guarantor_id,txn_type,amount,posting_date,payer_type,payer_id,patient_state\n"
GOOD = ["FL-1,FL-ACC,FL-P,FL-G,CHARGE,100.00,2026-09-01,,,TX",
        "FL-2,FL-ACC,FL-P,FL-G,PAYMENT,-130.00,2026-09-05,PATIENT,,TX"]
BAD = "FL-3,FL-ACC,FL-P,FL-G,CHARGE,abc,2026-09-06,,,TX"


def upload(mem: MemoryCloud, name: str, rows: list[str], seconds: int = 0) -> dict:
    """`rows` dropped as `name` and ingested as the ingest function does on S3's notification."""
    mem.tick(seconds=seconds)
    data = HEADER + "".join(r + "\n" for r in rows)
    etag = mem.bucket.drop(name, data)
    dropped = Dropped(key=f"incoming/{name}", etag=etag, sequencer=f"{mem.drops:016x}", event_time=mem.now)
    summary = ingest_file(mem.ports, dropped, mem.config.split_threshold, mem.config.rows_per_part, mem.now,
                          lambda _n, _v: None, OPERATORS)
    mem.run()
    return {**summary, "upload": dropped.upload, "data": data.encode()}


def rejected_rows(mem: MemoryCloud, name: str, upload_id: str) -> list[dict]:
    text = mem.bucket.text(f"rejected/{name}/{upload_id}/errors.jsonl")
    return [json.loads(line) for line in text.splitlines()]


def test_a_read_file_leaves_incoming_and_is_kept_as_it_came(mem: MemoryCloud):
    first = upload(mem, "monday.csv", GOOD)
    assert first["stored"] == 2
    assert mem.bucket.keys("incoming/") == []
    assert mem.bucket.originals == {f"monday.csv/{first['upload']}/monday.csv": first["data"]}
    assert mem.case("FL-ACC")["credit"] == "30.00"


def test_each_upload_keeps_its_own_rejects_and_a_corrected_redrop_leaves_no_stale_list(mem: MemoryCloud):
    first = upload(mem, "tuesday.csv", [*GOOD, BAD])
    assert [r["line"] for r in rejected_rows(mem, "tuesday.csv", first["upload"])] == [4]
    other = BAD.replace("FL-3", "FL-4").replace("abc", "1.2.3")
    second = upload(mem, "tuesday.csv", [*GOOD, other, BAD.replace("abc", "12.00")], seconds=61)
    assert second["upload"] != first["upload"]
    assert [r["txn_id"] for r in rejected_rows(mem, "tuesday.csv", second["upload"])] == ["FL-4"]
    # The first upload's list is as it was, under its own upload: what it names as rejected was, in it.
    assert [r["txn_id"] for r in rejected_rows(mem, "tuesday.csv", first["upload"])] == ["FL-3"]
    # A corrected re-drop rejects nothing: no list of it, and no list beside it that looks current.
    third = upload(mem, "tuesday.csv", GOOD, seconds=61)
    assert mem.bucket.keys(f"rejected/tuesday.csv/{third['upload']}") == []
    assert sorted(mem.bucket.originals) == sorted(f"tuesday.csv/{u['upload']}/tuesday.csv"
                                                  for u in (first, second, third))
    assert mem.bucket.keys("incoming/") == []


def test_a_file_with_a_header_and_no_rows_is_a_notice_to_operators(mem: MemoryCloud):
    empty = upload(mem, "wednesday.csv", [])
    assert (empty["rows_read"], empty["stored"], empty["rejected"]) == (0, 0, 0)
    notice = mem.bucket.text(f"rejected/wednesday.csv/{empty['upload']}/notice.txt")
    assert "no transaction rows" in notice
    [mail] = mem.mailer.to(OPERATORS)
    assert mail.subject == "Dropped ledger held no rows: wednesday.csv"
    assert f"rejected/wednesday.csv/{empty['upload']}/notice.txt" in mail.text
    assert mem.bucket.keys("incoming/") == [] and len(mem.bucket.originals) == 1


def test_a_file_refused_whole_is_kept_for_staff_and_as_the_original(mem: MemoryCloud):
    etag = mem.bucket.drop("thursday.csv", b"account,amount\nA1,5\n")
    dropped = Dropped(key="incoming/thursday.csv", etag=etag, sequencer="1", event_time=mem.now)
    summary = ingest_file(mem.ports, dropped, mem.config.split_threshold, mem.config.rows_per_part, mem.now,
                          lambda _n, _v: None, OPERATORS)
    assert summary["rejected"].startswith("missing required column(s): txn_id")
    where = f"rejected/thursday.csv/{dropped.upload}/"
    assert mem.bucket.keys(where) == [where + "reason.txt", where + "thursday.csv"]
    assert mem.bucket.text(where + "thursday.csv") == "account,amount\nA1,5\n"
    assert mem.bucket.originals == {f"thursday.csv/{dropped.upload}/thursday.csv": b"account,amount\nA1,5\n"}
    assert mem.bucket.keys("incoming/") == []


def test_an_upload_made_while_the_first_was_read_stays_for_its_own_event(mem: MemoryCloud):
    """S3 keeps the first upload as a version; retiring it removes that version only."""
    data = HEADER + GOOD[0] + "\n"
    etag = mem.bucket.drop("friday.csv", data)
    later = mem.bucket.drop("friday.csv", HEADER + GOOD[1] + "\n")
    assert mem.bucket.retire("incoming/friday.csv", "friday.csv", "U1", etag)
    assert mem.bucket.size("incoming/friday.csv", later) == len(HEADER + GOOD[1] + "\n")
    assert mem.bucket.originals == {"friday.csv/U1/friday.csv": data.encode()}
