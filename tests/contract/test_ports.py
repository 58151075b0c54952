"""One contract for every store port, run against the in-memory ports (`tests/memory/`) and against the
real adapters on the local cloud: the same assertions, so the fast tier's ports cannot drift from AWS's.

The local cloud is shared with the integration tier: every id here is unique to the run, and what a
store lists across all keys is checked to contain (not to equal) what the test wrote.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from creditrefunds.adapters.trusted import TrustedApprovals, TrustedLedger, TrustedRefundBook
from creditrefunds.domain.approvals import LinkState, LinkTaken, Outcome, Snapshot
from creditrefunds.domain.authentic import Tampered
from creditrefunds.domain.cases import Case, Line
from creditrefunds.domain.history import Entry, stamp, verify_chain
from creditrefunds.domain.identity import Person
from creditrefunds.domain.instructions import REFUND_COLUMNS, Instruction
from creditrefunds.domain.ledger import LedgerGone, LedgerReplaced, parse_row
from creditrefunds.domain.remittance import ClaimPayment, Source, Takeback
from creditrefunds.domain.status import Status

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
APPROVER = Person("sub-tier1", "tier1@example.org", frozenset({"approver-tier-1"}))


@dataclass
class Stores:
    transactions: Any
    cases: Any
    history: Any
    approvals: Any
    refund_book: Any
    bucket: Any
    remittances: Any
    drop: Any  # (name, bytes) -> the etag of the upload
    original: Any  # (key) -> the bytes the originals bucket keeps under `key`, or None
    forget: Any  # (instruction id) -> None: an instruction of no stored case, out of later tests' way
    rollups: Any
    unclaimed: Any


def memory_stores() -> Stores:
    from tests.memory.books import MemoryApprovals, MemoryRefundBook, MemoryRemittances
    from tests.memory.outside import MemoryBucket, MemoryKeys
    from tests.memory.rollups import MemoryRollups
    from tests.memory.stores import MemoryCases, MemoryHistory, MemoryLedger
    from tests.memory.unclaimed import MemoryUnclaimed

    cases, bucket, keys, book = MemoryCases(), MemoryBucket(), MemoryKeys(), MemoryRefundBook()
    return Stores(TrustedLedger(MemoryLedger(), keys), cases, MemoryHistory(cases),
                  TrustedApprovals(MemoryApprovals(), keys), TrustedRefundBook(book, keys), bucket,
                  MemoryRemittances(), bucket.drop, bucket.originals.get, lambda iid: book.items.pop(iid, None),
                  MemoryRollups(), MemoryUnclaimed())


def cloud_stores(cloud: Any) -> Stores:
    from creditrefunds.adapters.approval_store import ApprovalStore
    from creditrefunds.adapters.case_store import CaseStore
    from creditrefunds.adapters.history_store import HistoryStore
    from creditrefunds.adapters.ledger_bucket import LedgerBucket
    from creditrefunds.adapters.record_keys import RecordKeys
    from creditrefunds.adapters.refund_book import RefundBook
    from creditrefunds.adapters.remittance_store import RemittanceStore
    from creditrefunds.adapters.rollup_store import RollupStore
    from creditrefunds.adapters.transactions import TransactionStore
    from creditrefunds.adapters.unclaimed_store import UnclaimedStore

    s3, bucket_name = cloud.client("s3"), cloud.outputs["LedgerBucketName"]
    cases = CaseStore(cloud.table("CasesTableName"))

    def drop(name: str, body: bytes) -> str:
        """Into incoming/ with the bucket's notification off: the deployed ingest function must not read (and
        retire) what the test reads."""
        notifications = s3.get_bucket_notification_configuration(Bucket=bucket_name)
        notifications.pop("ResponseMetadata")
        s3.put_bucket_notification_configuration(Bucket=bucket_name, NotificationConfiguration={})
        try:
            return s3.put_object(Bucket=bucket_name, Key=f"incoming/{name}", Body=body)["ETag"].strip('"')
        finally:
            s3.put_bucket_notification_configuration(Bucket=bucket_name, NotificationConfiguration=notifications)

    def original(key: str) -> bytes | None:
        try:
            body: bytes = s3.get_object(Bucket=cloud.outputs["OriginalsBucketName"], Key=key)["Body"].read()
            return body
        except s3.exceptions.NoSuchKey:
            return None

    keys = RecordKeys.from_outputs(cloud.client("kms"), cloud.outputs)
    return Stores(TrustedLedger(TransactionStore(cloud.table("TransactionsTableName")), keys), cases,
                  HistoryStore(cloud.table("HistoryTableName"), cases),
                  TrustedApprovals(ApprovalStore(cloud.table("ApprovalsTableName"), cloud.table("TaskTokensTableName"),
                                                 cloud.client("kms"), cloud.outputs["DataKeyArn"]), keys),
                  TrustedRefundBook(RefundBook(cloud.table("RefundsTableName")), keys),
                  LedgerBucket(s3, bucket_name, cloud.outputs["OriginalsBucketName"]),
                  RemittanceStore(cloud.table("RemittancesTableName"), cloud.client("kms"),
                                  cloud.outputs["EvidenceKeyArn"]), drop, original,
                  lambda iid: cloud.table("RefundsTableName").delete_item(Key={"instruction_id": iid}),
                  RollupStore(cloud.table("TrendsTableName")), UnclaimedStore(cloud.table("UnclaimedTableName")))


@pytest.fixture(params=["memory", pytest.param("cloud", marks=pytest.mark.integration)])
def stores(request: pytest.FixtureRequest) -> Stores:
    if request.param == "memory":
        return memory_stores()
    return cloud_stores(request.getfixturevalue("cloud"))


@pytest.fixture
def uid() -> str:
    return "K" + uuid.uuid4().hex[:10].upper()


def txn(uid: str, n: int, amount: str = "-50.00", account: str = "A", **extra: str) -> Any:
    fields = {"txn_id": f"{uid}-{n}", "account_id": f"{uid}-{account}", "patient_id": f"{uid}-P",
              "guarantor_id": f"{uid}-G", "txn_type": "PAYMENT" if amount.startswith("-") else "CHARGE",
              "amount": amount, "posting_date": f"2026-11-{n:02d}",
              **({"payer_type": "PATIENT"} if amount.startswith("-") else {}), **extra}
    return parse_row(fields)


def a_case(uid: str, credit: str = "50.00", account: str = "A") -> Case:
    line = Line("REFUND", "PATIENT_OVERPAYMENT", "PATIENT", f"{uid}-G", Decimal(credit), date(2026, 12, 20))
    return Case(f"C-{uid}-{account}", f"{uid}-{account}", f"{uid}-P", f"{uid}-G", Decimal(credit),
                date(2026, 11, 20), [line], tier=1)


# --- the ledger ---

def test_a_transaction_is_stored_once_and_another_content_under_its_id_is_a_conflict(stores: Stores, uid: str):
    first = [txn(uid, 1, "100.00"), txn(uid, 2, "-150.00", patient_name="Rivera, Ana", claim_id=f"{uid}-CLM")]
    assert [o.result for o in stores.transactions.put_all(first)] == ["new", "new"]
    changed = txn(uid, 2, "-151.00")
    outcomes = stores.transactions.put_all([first[0], changed, txn(uid, 3, "-1.00", account="B")])
    assert [(o.result, o.stored_account) for o in outcomes] == [("same", None), ("conflict", f"{uid}-A"),
                                                            ("new", None)]
    rows = stores.transactions.account_transactions(f"{uid}-A")
    assert [(t.txn_id, t.amount) for t in rows] == [(f"{uid}-1", Decimal("100.00")), (f"{uid}-2", Decimal("-150.00"))]
    summary, _ = stores.transactions.summary(f"{uid}-A")
    assert summary.balance == Decimal("-50.00")
    assert set(stores.transactions.summaries({f"{uid}-A", f"{uid}-B"})) == {f"{uid}-A", f"{uid}-B"}
    assert stores.transactions.guarantor_accounts(f"{uid}-G") == [f"{uid}-A", f"{uid}-B"]
    assert stores.transactions.accounts_of_claim(f"{uid}-CLM") == [f"{uid}-A"]
    assert stores.transactions.patient_name(f"{uid}-A") == "Rivera, Ana"
    assert stores.transactions.account_transactions(f"{uid}-NONE") == []


# --- cases ---

def test_a_case_opens_once_and_moves_only_from_the_status_it_is_in(stores: Stores, uid: str):
    cases, case = stores.cases, a_case(uid)
    assert cases.open_new(case, at=NOW) and not cases.open_new(case, at=NOW)
    stored = cases.require(case.case_id)
    assert (stored.case, stored.status, stored.escalation_level, stored.overdue) == (case, Status.OPEN, 0, False)
    assert cases.item(case.case_id)["credit"] == "50.00"  # every amount of a case two-place text
    assert cases.get("C-none") is None
    with pytest.raises(Exception, match="not stored"):
        cases.require(f"C-{uid}-none")
    assert not cases.transition(case.case_id, Status.APPROVED, Status.REFUND_ISSUED)
    assert cases.transition(case.case_id, Status.OPEN, Status.AWAITING_APPROVAL, approval_key="k1", tier=2)
    assert not cases.decide(case.case_id, "k2", Status.APPROVED)
    assert cases.decide(case.case_id, "k1", Status.APPROVED)
    assert not cases.decide(case.case_id, "k1", Status.WORK_ITEM)  # no longer waiting
    # The same move sent again (it landed, its answer was lost): the case holds what it meant to write.
    assert cases.decide(case.case_id, "k1", Status.APPROVED)
    assert not cases.transition(case.case_id, Status.OPEN, Status.AWAITING_APPROVAL, approval_key="k1", tier=3)
    changed = a_case(uid, "60.00")
    assert not cases.update_figures(changed, expected=Status.OPEN)
    assert cases.update_figures(changed, expected=Status.APPROVED)
    cases.set_status(case.case_id, None, overdue=True)
    stored = cases.require(case.case_id)
    assert (stored.status, stored.case.credit, stored.overdue, stored.case.tier) == (Status.APPROVED, Decimal("60.00"),
                                                                                     True, 1)
    assert [s.case.case_id for s in cases.of_account(f"{uid}-A")] == [case.case_id]
    assert case.case_id in [s.case.case_id for s in cases.in_status((Status.APPROVED,))]
    assert case.case_id not in [s.case.case_id for s in cases.in_status((Status.OPEN,))]
    assert case.case_id in cases.ids()


def test_one_case_holds_an_account_until_a_named_successor_takes_it(stores: Stores, uid: str):
    cases, account = stores.cases, f"{uid}-A"
    assert cases.holder(account) is None
    assert cases.claim(account, "C1", None) and cases.claim(account, "C1", None)
    assert not cases.claim(account, "C2", None)
    assert cases.claim(account, "C2", "C1")
    assert cases.holders([account, f"{uid}-B"]) == {account: "C2", f"{uid}-B": None}


def test_the_to_check_index_holds_what_moved_until_the_sweep_lets_it_go(stores: Stores, uid: str):
    cases, case = stores.cases, a_case(uid)
    cases.open_new(case, at=NOW)
    assert dict(cases.due(NOW))[case.case_id] == stamp(NOW)
    assert case.case_id not in dict(cases.due(NOW - timedelta(seconds=1)))
    later, again = NOW + timedelta(hours=1), NOW + timedelta(hours=2)
    stores.history.append_first(case, Entry("system:ingest", "DETECTED", None, "OPEN", "credit"), later)
    assert dict(cases.due(later))[case.case_id] == stamp(later)
    cases.checked(case.case_id, stamp(NOW), None)  # looked at as it was before its history moved: kept
    assert dict(cases.due(later))[case.case_id] == stamp(later)
    cases.checked(case.case_id, stamp(later), again)
    assert case.case_id not in dict(cases.due(later)) and dict(cases.due(again))[case.case_id] == stamp(again)
    cases.checked(case.case_id, stamp(again), None)
    assert case.case_id not in dict(cases.due(NOW + timedelta(days=365)))
    assert "check_at" not in cases.item(case.case_id)
    cases.checked(case.case_id, None, again)  # the whole sweep puts back a case the index did not hold ...
    assert dict(cases.due(again))[case.case_id] == stamp(again)
    cases.checked(case.case_id, None, NOW)  # ... unless something has put it there since
    assert dict(cases.due(again))[case.case_id] == stamp(again)
    cases.checked(f"C-{uid}-none", None, again)  # no case: nothing made
    assert cases.item(f"C-{uid}-none") is None


def test_the_seal_finds_what_moved_and_names_itself_on_what_it_signed(stores: Stores, uid: str):
    case, at = a_case(uid), NOW + timedelta(days=40, minutes=7)  # into the next month
    stores.cases.open_new(case)
    stores.history.append_first(case, Entry("system:ingest", "DETECTED", None, "OPEN", "credit"), at)
    assert case.case_id in stores.history.changed(NOW, at)
    assert case.case_id in stores.history.changed(at - timedelta(days=35), at + timedelta(minutes=1))
    assert case.case_id not in stores.history.changed(at + timedelta(seconds=1), at + timedelta(hours=1))
    assert case.case_id not in stores.history.changed(NOW, at - timedelta(seconds=1))
    assert case.case_id in stores.cases.to_seal()
    stores.cases.mark_sealed(case.case_id, "seals/2026-12-30T10-00-00.000000Z.json", 0)  # its head moved on since
    assert stores.cases.item(case.case_id)["sealed_in"] == "seals/2026-12-30T10-00-00.000000Z.json"
    assert case.case_id in stores.cases.to_seal()
    stores.cases.mark_sealed(case.case_id, "seals/2026-12-30T11-00-00.000000Z.json", 1)
    assert stores.cases.item(case.case_id)["sealed_in"] == "seals/2026-12-30T11-00-00.000000Z.json"
    assert case.case_id not in stores.cases.to_seal()
    stores.cases.mark_sealed(f"C-{uid}-none", "seals/x.json", 1)  # no case: nothing made
    assert stores.cases.item(f"C-{uid}-none") is None


# --- history ---

def test_history_appends_a_chain_whose_head_is_kept_on_the_case(stores: Stores, uid: str):
    case = a_case(uid)
    stores.cases.open_new(case)
    detected = Entry("system:ingest", "DETECTED", None, "OPEN", "credit")
    assert stores.history.append_first(case, detected, NOW)
    assert stores.history.append_first(case, detected, NOW)  # the same record: a put whose answer was lost
    assert not stores.history.append_first(case, Entry("system:ingest", "DETECTED", None, "OPEN", "other"), NOW)
    assert len(stores.history.records(case.case_id)) == 1
    later = NOW + timedelta(days=1)
    record = stores.history.append(case, Entry("system:review", "REVIEWED", "OPEN", "OPEN", "why",
                                               Decimal("50")), later)
    assert (record["seq"], record["amount"]) == (2, "50.00")
    records = stores.history.records(case.case_id)
    assert [r["action"] for r in records] == ["DETECTED", "REVIEWED"]
    assert stores.history.last(case.case_id)["hash"] == record["hash"]
    head = stores.cases.get(case.case_id).head
    assert head == (2, record["hash"]) and verify_chain(case.case_id, records, head) == []
    found = stores.history.search({"account": case.account_id}, later.date(), later.date())
    assert [(r["case_id"], r["action"]) for r in found] == [(case.case_id, "REVIEWED")]
    assert [r["seq"] for r in stores.history.search({"account": case.account_id, "status": "OPEN"})] == [1, 2]


# --- approvals ---

def test_a_link_decides_once_and_the_case_index_never_shows_its_token(stores: Stores, uid: str):
    case = a_case(uid)
    snapshot = Snapshot.of(case, 1, "R*****")
    link_id, approval = stores.approvals.create(snapshot, 1, APPROVER, f"token-{uid}", NOW, 3600)
    assert stores.approvals.get(link_id) == approval and stores.approvals.get("") is None
    # The link's put sent again (it landed, its answer was lost): it is this very link, not a taken key.
    stores.approvals._inner.put_new(approval, f"token-{uid}", NOW, link_id)
    with pytest.raises(Exception, match=r"taken|ConditionalCheckFailed"):  # another link under its key
        stores.approvals._inner.put_new(replace(approval, link_mac="forged"), f"token-{uid}", NOW, link_id)
    assert stores.approvals.by_key(approval.approval_key).snapshot == snapshot
    [listed] = stores.approvals.of_case(case.case_id)
    assert listed.snapshot is None and listed.state is LinkState.PENDING and not listed.mailed
    stores.approvals.mark_mailed(approval, NOW)
    assert stores.approvals.by_key(approval.approval_key).mailed
    assert [(a.approval_key, token) for a, token in stores.approvals.open_links(case.case_id)] == [
        (approval.approval_key, f"token-{uid}")]
    assert stores.approvals.pending(case.case_id) == [approval.approval_key]
    with pytest.raises(LinkTaken):  # expired
        stores.approvals.take(approval, Outcome.APPROVED, "", "here", NOW + timedelta(hours=2), link_id)
    # The token comes back unsealed only with the link's id (the one the approver's request carries).
    assert stores.approvals.take(approval, Outcome.APPROVED, "ok", "here", NOW, link_id) == f"token-{uid}"
    with pytest.raises(LinkTaken):
        stores.approvals.take(approval, Outcome.REJECTED, "no", "here", NOW, link_id)
    # The same take sent again (it landed, its answer was lost): the link holds this very decision.
    assert stores.approvals.take(approval, Outcome.APPROVED, "ok", "here", NOW, link_id) == f"token-{uid}"
    assert stores.approvals.supersede(case.case_id, [approval.approval_key]) == []  # DECIDING, not PENDING
    assert stores.approvals.mark_late(approval.approval_key, "C-other") is None
    accepted = stores.approvals.accept(approval)
    assert accepted is not None and accepted.state is LinkState.USED and accepted.decision is Outcome.APPROVED
    assert stores.approvals.accept(approval) is None and stores.approvals.mark_late(approval.approval_key,
                                                                                    case.case_id) is None
    assert [a.approved for a in stores.approvals.of_case(case.case_id)] == [True]


def test_a_waiting_link_is_superseded_once_with_its_token(stores: Stores, uid: str):
    case = a_case(uid)
    _, approval = stores.approvals.create(Snapshot.of(case, 1, "R*****"), 1, APPROVER, "tok", NOW, 3600)
    [moved] = stores.approvals.supersede(case.case_id, [approval.approval_key])
    assert moved.state is LinkState.SUPERSEDED
    assert stores.approvals.tokens([approval.approval_key, "unknown"]) == {approval.approval_key: "tok"}
    assert stores.approvals.supersede(case.case_id, [approval.approval_key]) == []
    assert stores.approvals.pending(case.case_id) == [] and stores.approvals.open_links(case.case_id) == []


# --- the refund book ---

def test_an_instruction_is_issued_once_and_posted_back_once(stores: Stores, uid: str):
    case = a_case(uid)
    issued = Instruction.of(case, 0, case.lines[0], None, NOW.date(), frozenset({"T1", "T2"}))
    first = stores.refund_book.issue(issued)
    again = stores.refund_book.issue(replace(issued, amount=Decimal("999.99")))
    assert (first.new, first.instruction, again.new, again.instruction) == (True, issued, False, issued)
    key = issued.instruction_id
    assert stores.refund_book.get(key) == issued and stores.refund_book.get(f"{key}9") is None
    assert stores.refund_book.of_case(case.case_id) == [issued] == stores.refund_book.of_account(case.account_id)
    assert stores.refund_book.mark_returned(key, "T9", date(2026, 12, 1))
    assert not stores.refund_book.mark_returned(key, "T10", date(2026, 12, 2))
    assert not stores.refund_book.mark_returned(f"{key}9", "T10", date(2026, 12, 2))
    back = stores.refund_book.get(key)
    assert (back.returned_by, back.returned_on, back.prior) == ("T9", date(2026, 12, 1), frozenset({"T1", "T2"}))
    stores.forget(key)  # its case is not stored: the whole audit would name it (rightly) in later tests


# --- the bucket ---

def test_a_dropped_file_is_read_as_that_upload_only_and_leaves_incoming_kept_as_its_original(stores: Stores, uid: str):
    bucket, name = stores.bucket, f"{uid}.csv"
    etag = stores.drop(name, b"txn_id,account_id\n1,2\n")
    key = f"incoming/{name}"
    assert bucket.incoming_name(key) == name and bucket.incoming_name("outbound/x") is None
    assert bucket.size(key, etag) == 22 and bucket.head(key, etag, 6) == b"txn_id"
    with bucket.open(key, etag) as stream:
        assert stream.read() == b"txn_id,account_id\n1,2\n"
    with bucket.download(key, etag) as local:
        assert local.read_bytes().endswith(b"1,2\n")
    new_etag = stores.drop(name, b"txn_id,account_id\n1,3\n")
    with pytest.raises(LedgerReplaced):
        bucket.size(key, etag)
    # The first upload, refused after a newer one came: that upload (not the current one) is copied for billing
    # staff with its reason, and kept as the original; the upload made since stays for its own event.
    assert bucket.reject(key, name, "U1", "no header", etag) and not bucket.reject(key, name, "U1", "again", etag)
    assert stores.original(f"{name}/U1/{name}") == b"txn_id,account_id\n1,2\n"
    with bucket.open(f"rejected/{name}/U1/{name}") as kept:
        assert kept.read() == b"txn_id,account_id\n1,2\n"
    assert bucket.size(key, new_etag) == 22
    # The newer upload, read, leaves incoming/ for the originals.
    assert bucket.retire(key, name, "U2", new_etag) and not bucket.retire(key, name, "U2", new_etag)
    with pytest.raises(LedgerGone):
        bucket.size(key, new_etag)
    assert stores.original(f"{name}/U2/{name}") == b"txn_id,account_id\n1,3\n"
    bucket.save_rejects(name, "U2", [{"line": 2, "reason": "bad"}])
    assert bucket.notice(name, "U3", "no rows") == f"rejected/{name}/U3/notice.txt"
    assert bucket.put_json(bucket.work_key(uid, "a.json"), {"n": 1}) == f"work/{uid}/a.json"
    assert bucket.get_json(f"work/{uid}/a.json") == {"n": 1}
    bucket.clear_work(uid)
    ap_key = f"outbound/refunds/2026-11-20/C-{uid}#0.csv"
    header = ",".join(REFUND_COLUMNS) + "\n"  # a file with no rows: the shared cloud's audit pays nothing of it
    assert bucket.put_ap_file(NOW.date(), f"C-{uid}#0", header) == ap_key
    assert bucket.put_ap_file(NOW.date(), f"C-{uid}#0", header) == ap_key  # a retry: written once
    with pytest.raises(Tampered, match="was there before"):  # someone else's file under the key: not ours
        bucket.put_ap_file(NOW.date(), f"C-{uid}#0", header + "\n")
    assert [(k, text) for k, _, text in bucket.ap_files() if k == ap_key] == [(ap_key, header)]
    assert bucket.put_work_item(f"C-{uid}", {"x": 1}) == f"outbound/work-items/C-{uid}.json"


# --- remittances ---

def test_evidence_is_kept_once_by_account_and_claim_and_a_file_is_received_once(stores: Stores, uid: str):
    source = Source(f"{uid}.835", "d" * 64, "MEDICARE J1", "MAC-J1", "EFT-1", date(2026, 11, 18), 17)
    paid = ClaimPayment(f"{uid}-A", "1", Decimal("500.00"), Decimal("400.00"), Decimal("0.00"), "MA", f"{uid}-ICN",
                        source, (("CO", "45", Decimal("100.00")),))
    taken = Takeback("PLB WO", "MAC-J1", None, f"{uid}-ICN", f"{uid}-A", Decimal("400.00"), source)
    unknown = Takeback("PLB WO", "MAC-J1", None, f"{uid}-ICN2", None, Decimal("10.00"), source)
    several = Takeback("PLB 72", "MAC-J1", None, f"{uid}-ICN3", None, Decimal("5.00"), source)
    remittances = stores.remittances
    assert remittances.received(uid) is None
    remittances.keep([paid, taken, unknown], held=[several])
    remittances.keep([paid, taken])  # the same evidence in another file: kept as it first came
    evidence = remittances.of_account(f"{uid}-A", [f"{uid}-ICN2"])
    assert (evidence.claims, sorted(t.amount for t in evidence.takebacks)) == ((paid,), [Decimal("10.00"),
                                                                                        Decimal("400.00")])
    assert remittances.mark_received(uid, {"name": f"{uid}.835"}) and not remittances.mark_received(uid, {})
    assert remittances.received(uid)["name"] == f"{uid}.835"
    by_account, by_claim, held = remittances.everything()
    assert by_account[f"{uid}-A"].takebacks == (taken,)
    assert unknown in by_claim and several in held


def test_trends_count_a_moment_once_and_keep_a_few_examples(stores: Stores, uid: str):
    key = f"reason#{uid}"
    increments = {(key, "2026-10"): {"identified_count": 1, "identified_amount": Decimal("12.50"), "days_3": 1},
                  (key, "2026-12"): {"overdue_in_count": 1, "overdue_in_amount": Decimal("12.50")}}
    counted = {"month": "2026-10", "amounts": {key: "12.50"}}
    for n in range(7):
        assert stores.rollups.apply(f"{uid}-{n}", "identified", counted, increments)
    assert not stores.rollups.apply(f"{uid}-0", "identified", counted, increments)  # read again: counted once
    assert stores.rollups.markers(f"{uid}-0") == {"identified": counted}
    mine = stores.rollups.counters("2026-11")[key]
    assert set(mine) == {"2026-10"}  # up to the month asked
    october = mine["2026-10"]
    assert (october["identified_count"], october["identified_amount"], october["days_3"]) == (7, Decimal("87.50"), 7)
    assert october["examples"] == [f"{uid}-{n}" for n in range(5)]
    from creditrefunds.domain.rollups import Progress

    kept = stores.rollups.cursor()  # (the local cloud's roll-up keeps its own: put back after)
    try:
        for progress in (Progress(NOW - timedelta(hours=1), NOW, f"{uid}-3"), Progress(NOW)):
            stores.rollups.move_cursor(progress)
            assert stores.rollups.cursor() == progress
    finally:
        stores.rollups.move_cursor(kept)


def test_an_unclaimed_refund_is_tracked_once_and_an_address_confirmed_only_as_it_was_asked(stores: Stores, uid: str):
    iid, address = f"C-{uid}#0", {"line1": "12 Elm St", "city": "Dallas", "state": "TX", "zip": "75201"}
    stores.unclaimed.track(iid, f"C-{uid}")
    stores.unclaimed.track(iid, f"C-{uid}")  # a repeated register row: still one
    assert stores.unclaimed.tracked().count(iid) == 1
    assert stores.unclaimed.address(iid) == {} and stores.unclaimed.asked(iid) is None
    stores.unclaimed.ask_address(iid, address, "sub-billing")
    assert stores.unclaimed.asked(iid) == (address, "sub-billing")
    assert not stores.unclaimed.confirm_address(iid, {**address, "line1": "1 Other Rd"})  # not the one asked
    assert stores.unclaimed.confirm_address(iid, address)
    assert stores.unclaimed.address(iid) == address and stores.unclaimed.asked(iid) is None
    assert not stores.unclaimed.confirm_address(iid, address)  # confirmed once
    stores.unclaimed.note(iid, "REPORTED", date(2030, 7, 1))
    assert stores.unclaimed.address(iid) == address

