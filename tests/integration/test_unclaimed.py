"""Issue 34 on the local cloud: a refund issued with its notice (the issue step's role writes the PDF), a check
register dropped beside the ledgers (the ingest function's role records it), then, as of a day years later,
the escheat function's steps and due-diligence letter, the NAUPA report of Texas and the case's letters written
again; and a reissue asked by billing staff in the console and confirmed there by the compliance officer."""

from __future__ import annotations

import hashlib
import io
import json
import re
from datetime import UTC, date, datetime, timedelta

from creditrefunds.domain.escheat import add_years
from creditrefunds.domain.naupa import fields_of
from creditrefunds.domain.unclaimed import Unclaimed
from pypdf import PdfReader
from refunds_cli.demo import http, token_of

from tests.naupa_check import problems

from .conftest import case_of, history_until, refunds, rejected, wait_for_mail_subject, wait_for_status
from .conftest import drop as drop_ledger
from .test_crash_safe import approve_the_waiting_link
from .test_workflow import patient_credit

REGISTER = "instruction_id,check_number,amount,status,status_date\n"


def issued(cloud, account: str) -> str:
    drop_ledger(cloud, f"{account.lower()}.csv", patient_credit(account))
    wait_for_status(cloud, account, {"AWAITING_APPROVAL"})
    approve_the_waiting_link(cloud, account, approver=None)
    wait_for_status(cloud, account, {"REFUND_ISSUED"})
    case_id = case_of(cloud, account)["case_id"]
    history_until(cloud, case_id, "LETTER_WRITTEN")
    return case_id


def drop_register(cloud, name: str, rows: list[str]) -> None:
    cloud.client("s3").put_object(Bucket=cloud.outputs["LedgerBucketName"], Key=f"incoming/{name}",
                                  Body=(REGISTER + "".join(r + "\n" for r in rows)).encode())
    cloud.wait_idle()


def records(cloud, case_id: str, action: str) -> list[dict]:
    items = cloud.table("HistoryTableName").query(
        KeyConditionExpression="case_id = :c", ExpressionAttributeValues={":c": case_id})["Items"]
    return [r for r in items if r["action"] == action]


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_years_after_a_check_went_astray_the_report_and_the_letters(cloud, tmp_path):
    case_id = issued(cloud, "UNC-TX")
    iid, today = f"{case_id}#0", datetime.now(UTC).date()
    [notice] = records(cloud, case_id, "LETTER_WRITTEN")
    facts = json.loads(notice["evidence"])
    kept = cloud.client("s3").get_object(Bucket=cloud.outputs["LedgerBucketName"], Key=facts["key"])["Body"].read()
    assert hashlib.sha256(kept).hexdigest() == facts["sha256"] and "Rivera, Ana" in pdf_text(kept)
    assert "Saint Ann's Test Hospital" in pdf_text(kept)  # the stack's RuleSettings name the holder

    # Accounts payable cut the check and the billing system posted the refund back: the case is reconciled,
    # and the escheat function reads the instruction with its match (both MACs checked).
    drop_ledger(cloud, "unc-tx-back.csv", [f"UNC-TX-9,UNC-TX,P-UNC-TX,G-UNC-TX,REFUND,50.00,{today},PATIENT,,,900100,,"
                                           "\"Rivera, Ana\",TX"])
    wait_for_status(cloud, "UNC-TX", {"RECONCILED"})
    drop_register(cloud, "ap-checks-unc.csv", [f"{iid},900100,50.00,ISSUED,{today}",
                                              f"CB-NONE#0,1,5.00,ISSUED,{today}"])
    assert [json.loads(r["evidence"])["check_number"] for r in records(cloud, case_id, "CHECK_STATUS")] == ["900100"]
    errors = [json.loads(x) for x in (rejected(cloud, "ap-checks-unc.csv", "errors.jsonl") or b"").splitlines()]
    assert [(e["line"], e["field"]) for e in errors] == [(3, "instruction_id")]

    due = Unclaimed().calendar_of("TX").report_due(add_years(today, 3))
    in_window = due - timedelta(days=100)  # Texas's letter goes 60 to 120 days before its report
    shown = refunds(cloud, "escheat", "status", "--as-of", in_window.isoformat(), "--json")
    assert shown.returncode == 0, shown.stderr
    [path] = [p for p in json.loads(shown.stdout) if p["instruction_id"] == iid]
    assert (path["stage"], path["report_due"]) == ("LETTER_DUE", due.isoformat())

    moved = refunds(cloud, "escheat", "advance", "--as-of", in_window.isoformat())
    assert moved.returncode == 0, moved.stderr
    assert {f"{iid} CHECK_STALE", f"{iid} LETTER_WRITTEN", f"{iid} ESCHEAT_REPORTABLE"} <= set(moved.stdout.split("\n"))
    told = wait_for_mail_subject(cloud, "compliance@example.org", "Unclaimed property")
    assert iid in told.text and "Rivera" not in told.text

    out = tmp_path / "tx.naupa"
    filed = refunds(cloud, "escheat", "report", "--state", "TX", "--as-of", (due - timedelta(days=1)).isoformat(),
                    "--out", str(out))
    assert filed.returncode == 0, filed.stderr
    data = out.read_bytes()
    assert problems(data) == []
    [ours] = [fields_of(line) for line in data.split(b"\r\n")[:-1] if line[:1] == b"2"
              and fields_of(line)["PROP-ACCOUNT-NUMBER"].rstrip() == iid]
    assert ours["PROP-OWNER-NAME-LAST"].rstrip() == "RIVERA" and ours["PROP-AMOUNT-REPORTED"] == "0000005000"
    assert ours["PROP-AMOUNT-ADVERTISED"] == "0000005000"  # the due-diligence letter went out
    [reported] = records(cloud, case_id, "ESCHEAT_REPORTED")
    assert json.loads(reported["evidence"])["state"] == "TX" and reported["actor"].startswith("operator:")
    kept_report = cloud.client("s3").get_object(Bucket=cloud.outputs["LedgerBucketName"],
                                                Key=json.loads(reported["evidence"])["file"])["Body"].read()
    assert kept_report == data and fields_of(data.split(b"\r\n")[0])["HOLDER-TAX-ID"] == "741234567"

    again = refunds(cloud, "letters", case_id, "--out", str(tmp_path / "letters"))
    assert again.returncode == 0, again.stdout + again.stderr
    written = sorted(p.name for p in (tmp_path / "letters").iterdir())
    assert written[0].startswith("due-diligence-line0-") and written[1] == "patient-notice-line0.pdf"
    letter = pdf_text((tmp_path / "letters" / written[0]).read_bytes())
    assert "Rivera, Ana" in letter and "State of TX" in letter and "50.00" in letter
    verified = refunds(cloud, "audit", "verify", "--case", case_id)  # the history's check, tracked to the state
    assert verified.returncode == 0 and "every check told of is followed" in verified.stdout, verified.stdout


def test_a_reissue_is_asked_by_billing_staff_and_sent_once_the_compliance_officer_confirms(cloud):
    case_id = issued(cloud, "UNC-RE")
    iid, today = f"{case_id}#0", datetime.now(UTC).date()
    drop_register(cloud, "ap-checks-re.csv", [f"{iid},900200,50.00,ISSUED,{today}",
                                              f"{iid},900200,50.00,RETURNED_MAIL,{today}"])
    site = cloud.outputs["ApprovalSiteUrl"]
    address = {"instruction_id": iid, "line1": "12 Elm St", "city": "Dallas", "state": "TX", "zip": "75201"}
    status, page = http(f"{site}unclaimed/address", address, token_of(cloud, "billing@example.org"))
    assert status == 200 and "12 Elm St" in page, page
    status, page = http(f"{site}unclaimed/confirm", {"instruction_id": iid}, token_of(cloud, "auditor@example.org"))
    assert status == 409 and "Nothing was sent" in page
    status, page = http(f"{site}unclaimed", None, token_of(cloud, "compliance@example.org"))
    assert status == 200 and "Confirm the reissue" in page
    seen = re.search(r"name='seen' value='([0-9a-f]{32})'", page)
    assert seen is not None
    status, page = http(f"{site}unclaimed/confirm", {"instruction_id": iid, "seen": seen.group(1)},
                        token_of(cloud, "compliance@example.org"))
    assert status == 200, page
    key = f"outbound/reissues/{iid.replace('#', '-')}-1.json"
    sent = json.loads(cloud.client("s3").get_object(Bucket=cloud.outputs["LedgerBucketName"], Key=key)["Body"].read())
    assert sent["address"]["line1"] == "12 Elm St" and sent["amount"] == "50.00"
    assert [r["action"] for r in records(cloud, case_id, "REISSUED")] == ["REISSUED"]
    assert date.fromisoformat(sent["on"]) == today
