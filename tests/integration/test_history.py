"""The case history: written by every step, hash-chained, queried by keys and indexes (issue 5)."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from creditrefunds.adapters.case_store import CaseStore
from creditrefunds.adapters.history_store import HistoryStore
from creditrefunds.adapters.record_keys import RecordKeys
from creditrefunds.adapters.refund_book import RefundBook
from creditrefunds.adapters.transactions import TransactionStore
from creditrefunds.adapters.trusted import TrustedLedger, TrustedRefundBook
from creditrefunds.domain.cases import Case, Line
from creditrefunds.domain.history import Entry
from creditrefunds.domain.instructions import Instruction, ledger_at_issue
from creditrefunds.domain.ledger import parse_row
from creditrefunds.domain.status import STILL_OWED

from tests.conftest import ROOT

from .conftest import all_cases, history_until, refunds, wait_for_status


def tables(cloud):
    return cloud.table("HistoryTableName"), cloud.table("CasesTableName")


def seeded_case(cloud, case_id: str, account: str, patient: str, payer: str | None, steps: list[tuple]) -> Case:
    """A case item and its history, each step (day, action, before, after, amount[, reason]) at noon UTC."""
    history_table, cases_table = tables(cloud)
    payee = ("MEDICARE", payer) if payer else ("PATIENT", "G-" + patient)
    case = Case(case_id, account, patient, "G-" + patient, Decimal("40.00"), date(2026, 9, 1),
                [Line("REFUND", "PAYER_OVERPAYMENT", *payee, Decimal("40.00"), date(2026, 10, 31))], tier=1)
    store = CaseStore(cases_table)
    store.open_new(case)
    history = HistoryStore(history_table, store)
    for day, action, before, after, amount, *reason in steps:
        at = datetime(2026, day[0], day[1], 12, 0, tzinfo=UTC)
        issued = f"{case_id}#0" if action == "ISSUED" else None
        decided = {"link": f"{case_id}-LINK", "decision": "APPROVED", "tier": 1} if action == "DECIDED" else {}
        history.append(case, Entry("system:test", action, before, after, reason[0] if reason else "seeded", amount,
                                   instruction_id=issued, **decided), at)
    cases_table.update_item(Key={"case_id": case_id}, UpdateExpression="SET #s = :s",
                            ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues={":s": steps[-1][3]})
    return case


def test_every_step_of_the_sample_writes_history_and_the_chains_verify(cloud):
    s3 = cloud.client("s3")
    s3.upload_file(str(ROOT / "events/ledger-sample.csv"), cloud.outputs["LedgerBucketName"], "incoming/hist.csv")
    cloud.wait_idle()
    wait_for_status(cloud, "ACC-3003", {"WORK_ITEM"})
    cases = {i["account_id"]: i["case_id"] for i in all_cases(cloud)}
    history_until(cloud, cases["ACC-3003"], "REVIEWED")
    done = refunds(cloud, "audit", "case", cases["ACC-3003"], "--json")
    assert done.returncode == 0, done.stderr
    records = json.loads(done.stdout)
    assert [(r["seq"], r["actor"], r["action"], r["status_before"], r["status_after"]) for r in records][:2] == [
        (1, "system:ingest", "DETECTED", None, "OPEN"),
        (2, "system:review", "REVIEWED", "OPEN", "WORK_ITEM"),
    ]
    assert records[0]["prev_hash"] == "0" * 64 and records[1]["prev_hash"] == records[0]["hash"]
    assert set(records[0]) == {"seq", "at", "actor", "action", "status_before", "status_after", "reason", "amount",
                               "instruction_id", "link", "decision", "tier", "evidence", "hash", "prev_hash"}
    verified = refunds(cloud, "audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.startswith("OK: ")


def test_search_answers_from_keys_and_indexes_exactly(cloud):
    seeded_case(cloud, "CB-SEARCH-1", "S-ACC-1", "S-PAT-1", "MAC-J5",
                [((9, 1), "DETECTED", None, "OPEN", Decimal("40.00")),
                 ((9, 2), "REVIEWED", "OPEN", "AWAITING_APPROVAL", Decimal("40.00"))])
    seeded_case(cloud, "CB-SEARCH-2", "S-ACC-2", "S-PAT-1", None,
                [((10, 5), "DETECTED", None, "OPEN", Decimal("40.00")),
                 ((10, 6), "REVIEWED", "OPEN", "WORK_ITEM", Decimal("40.00"))])
    history_table, _ = tables(cloud)
    requests = []
    def record(model, params, **_):
        requests.append((model.name, params.get("IndexName")))

    history_table.meta.client.meta.events.register("before-parameter-build.dynamodb", record)
    history = HistoryStore(history_table)

    def found(filters, start=None, end=None):
        requests.clear()
        return [(r["case_id"], int(r["seq"])) for r in history.search(filters, start, end)]

    assert found({"account": "S-ACC-1"}) == [("CB-SEARCH-1", 1), ("CB-SEARCH-1", 2)]
    assert requests == [("Query", "by-account")]
    assert found({"patient": "S-PAT-1"}) == [("CB-SEARCH-1", 1), ("CB-SEARCH-1", 2), ("CB-SEARCH-2", 1),
                                             ("CB-SEARCH-2", 2)]
    assert requests == [("Query", "by-patient")]
    assert found({"guarantor": "G-S-PAT-1"}, date(2026, 10, 1), date(2026, 10, 31)) == [
        ("CB-SEARCH-2", 1), ("CB-SEARCH-2", 2)]
    assert requests == [("Query", "by-guarantor")]
    assert found({"payer": "MAC-J5"}) == [("CB-SEARCH-1", 1), ("CB-SEARCH-1", 2)]
    assert requests == [("Query", "by-payer")]
    assert found({"status": "WORK_ITEM", "patient": "S-PAT-1"}) == [("CB-SEARCH-2", 2)]
    assert requests == [("Query", "by-patient")]
    assert found({}, date(2026, 9, 2), date(2026, 9, 2)) == [("CB-SEARCH-1", 2)]
    assert requests == [("Query", "by-month")]
    assert found({}, date(2026, 8, 15), date(2026, 10, 5)) == [("CB-SEARCH-1", 1), ("CB-SEARCH-1", 2),
                                                                ("CB-SEARCH-2", 1)]
    assert requests == [("Query", "by-month")] * 3
    done = refunds(cloud, "audit", "search", "--payer", "MAC-J5", "--csv")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("case_id,seq,at,actor,action") and len(lines) == 3


def issued_case(cloud, case_id: str) -> None:
    """A case whose 40.00 refund went out: four records, the ISSUED one and the refund book agreeing."""
    issued = f"REFUND line 0 to PATIENT: check (instruction {case_id}#0, file of 2026-09-04)"
    steps = [((9, d), action, before, after, Decimal("40.00")) for d, (action, before, after) in enumerate([
        ("DETECTED", None, "OPEN"), ("REVIEWED", "OPEN", "AWAITING_APPROVAL"),
        ("DECIDED", "AWAITING_APPROVAL", "APPROVED")], start=1)]
    steps.append(((9, 4), "ISSUED", "APPROVED", "REFUND_ISSUED", Decimal("40.00"), issued))
    seeded_case(cloud, case_id, f"{case_id}-ACC", f"{case_id}-PAT", None, steps)
    case = Case(case_id, f"{case_id}-ACC", f"{case_id}-PAT", f"G-{case_id}-PAT", Decimal("40.00"), date(2026, 9, 1))
    line = Line("REFUND", "PATIENT_OVERPAYMENT", "PATIENT", f"G-{case_id}-PAT", Decimal("40.00"), date(2026, 10, 31))
    ledger = [parse_row({"txn_id": f"{case_id}-{n}", "account_id": case.account_id, "patient_id": case.patient_id,
                         "guarantor_id": case.guarantor_id, "txn_type": kind, "amount": amount,
                         "posting_date": "2026-09-01", **({"payer_type": "PATIENT"} if kind == "PAYMENT" else {})})
              for n, (kind, amount) in enumerate([("CHARGE", "100.00"), ("PAYMENT", "-140.00")])]
    # As the functions would write them, MACs made with the stack's keys (the tests' own identity may).
    keys = RecordKeys.from_outputs(cloud.client("kms"), cloud.outputs)
    TrustedLedger(TransactionStore(cloud.table("TransactionsTableName")), keys).put_all(ledger)  # the credit
    TrustedRefundBook(RefundBook(cloud.table("RefundsTableName")), keys).issue(
        Instruction.of(case, 0, line, None, date(2026, 9, 4), ledger_at_issue(ledger), frozenset({f"{case_id}-LINK"})))


def _tamper(cloud, case_id: str, how) -> subprocess.CompletedProcess[str]:
    issued_case(cloud, case_id)
    assert refunds(cloud, "audit", "verify", "--case", case_id).returncode == 0
    how(cloud.client("dynamodb"), cloud.outputs["HistoryTableName"], case_id)
    return refunds(cloud, "audit", "verify", "--case", case_id)


def _key(case_id, seq):
    return {"case_id": {"S": case_id}, "seq": {"N": str(seq)}}


def _alter(db, table, case_id):
    db.update_item(TableName=table, Key=_key(case_id, 2), UpdateExpression="SET amount = :a",
                   ExpressionAttributeValues={":a": {"S": "4.00"}})


def _remove_middle(db, table, case_id):
    db.delete_item(TableName=table, Key=_key(case_id, 2))


def _remove_last(db, table, case_id):
    db.delete_item(TableName=table, Key=_key(case_id, 4))


def _reorder(db, table, case_id):
    two = db.get_item(TableName=table, Key=_key(case_id, 2))["Item"]
    three = db.get_item(TableName=table, Key=_key(case_id, 3))["Item"]
    two["seq"], three["seq"] = {"N": "3"}, {"N": "2"}
    db.put_item(TableName=table, Item=two)
    db.put_item(TableName=table, Item=three)


@pytest.mark.parametrize(("how", "place"), [
    (_alter, "record 2: its content does not match its hash: altered"),
    (_remove_middle, "record 3: expected record 2 here"),
    (_remove_last, "the chain: ends at record 3 but the case's head is record 4"),
    (_reorder, "record 2: does not follow the record before it"),
])
def test_each_kind_of_tampering_is_caught_naming_case_and_place(cloud, how, place):
    case_id = f"CB-TAMPER-{how.__name__.strip('_').upper()}"
    done = _tamper(cloud, case_id, how)
    assert done.returncode == 1
    assert f"BROKEN case {case_id}: {place}" in done.stdout


def test_the_audit_api_answers_signed_requests_only(cloud):
    seeded_case(cloud, "CB-API-1", "API-ACC", "API-PAT", "MAC-J5",
                [((9, 1), "DETECTED", None, "OPEN", Decimal("40.00"))])
    url = cloud.outputs["AuditApiUrl"] + "cases/CB-API-1/history"
    body = signed_get(cloud, "cases/CB-API-1/history")
    assert [(r["seq"], r["action"], r["amount"]) for r in body["records"]] == [(1, "DETECTED", "40.00")]
    assert signed_get(cloud, "verify?case=CB-API-1") == {"case_id": "CB-API-1", "whole": True, "breaks": []}
    found = signed_get(cloud, "search?account=API-ACC&from=2026-09-01&to=2026-09-30")["records"]
    assert [(r["case_id"], r["seq"], r["action"]) for r in found] == [("CB-API-1", 1, "DETECTED")]
    with pytest.raises(urllib.error.HTTPError) as bad:
        signed_get(cloud, "search?from=2026-09-01")
    assert bad.value.code == 400 and "date range" in json.load(bad.value)["message"]
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url, timeout=10)
    assert refused.value.code == 403
    for path, message in (("cases/CB-NOWHERE/history", "no history for case CB-NOWHERE"),
                          ("nowhere", "no such audit query: see the module docstring")):
        with pytest.raises(urllib.error.HTTPError) as missing:
            signed_get(cloud, path)
        assert missing.value.code == 404 and json.load(missing.value) == {"message": message}


def signed_get(cloud, path: str) -> dict:
    """GET the audit API, SigV4-signed as an auditor's client would."""
    request = AWSRequest(method="GET", url=cloud.outputs["AuditApiUrl"] + path)
    SigV4Auth(Credentials("local", "local"), "lambda", cloud.region).add_auth(request)
    with urllib.request.urlopen(urllib.request.Request(request.url, headers=dict(request.headers)),
                                timeout=10) as answer:
        return json.load(answer)


def test_reports_through_the_command_line(cloud, tmp_path):
    s3 = cloud.client("s3")
    s3.upload_file(str(ROOT / "events/ledger-sample.csv"), cloud.outputs["LedgerBucketName"], "incoming/rep.csv")
    cloud.wait_idle()
    chart = tmp_path / "aging.png"
    done = refunds(cloud, "report", "aging", "--as-of", "2026-11-27", "--ar", "250000", "--json", "--chart",
                   str(chart))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    owed = [i for i in all_cases(cloud) if i["status"] in STILL_OWED]
    assert report["total"]["count"] == len(owed)
    assert Decimal(report["total"]["amount"]) == sum(Decimal(i["credit"]) for i in owed)
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = refunds(cloud, "report", "aging", "--as-of", "2026-11-27")
    assert text.returncode == 0 and "OVERDUE" in text.stdout and "days to resolve" in text.stdout

    detail = refunds(cloud, "report", "cms838", "--quarter", "2026Q4")
    assert detail.returncode == 0, detail.stderr
    rows = [line.split(",") for line in detail.stdout.splitlines()]
    assert rows[0][:4] == ["case_id", "beneficiary_name", "mbi", "icn"]
    medicare = [line for line in detail.stdout.splitlines() if "1EG4TE5MK73" in line]
    assert medicare and all(",ICN-2026213000101,111,2026-07-01,2026-07-04,2026-08-01," in line for line in medicare)
    assert all(",3100.00,0.00,claim adjustment,3100.00,2," in line for line in medicare)
