"""Issue 33 on the local cloud: the scheduled roll-up, under its own role, counts each case's identification
and refund once into the trends table, and `refunds report trends` reads them back (no scan)."""

from __future__ import annotations

import json
import time

from .conftest import drop, refunds, wait_for_status
from .test_crash_safe import approve_the_waiting_link
from .test_workflow import patient_credit


def roll_up(cloud) -> dict:
    answer = cloud.client("lambda").invoke(FunctionName=cloud.function_name("RollUpFunction"), Payload=b"{}")
    rolled = json.load(answer["Payload"])
    assert "FunctionError" not in answer, rolled
    return rolled


def this_month(cloud) -> dict:
    month = time.strftime("%Y-%m", time.gmtime())  # the local cloud identifies cases today
    done = refunds(cloud, "report", "trends", "--from", month, "--to", month, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_roll_up_counts_each_case_once_and_the_report_reads_it(cloud):
    roll_up(cloud)  # what the tests before left
    before = this_month(cloud)
    for account in ("TRD-1", "TRD-2"):
        drop(cloud, f"{account.lower()}.csv", patient_credit(account))
    for account in ("TRD-1", "TRD-2"):
        wait_for_status(cloud, account, {"AWAITING_APPROVAL"})
    roll_up(cloud)
    assert roll_up(cloud)["counted"] == 0  # read again: nothing counted twice
    after = this_month(cloud)
    month, was = after["months"][0], before["months"][0]
    assert month["identified"]["count"] == was["identified"]["count"] + 2
    patient = after["series"]["payer"]["PATIENT"][0]
    assert patient["identified"]["count"] >= 2

    approve_the_waiting_link(cloud, "TRD-1", approver=None)
    wait_for_status(cloud, "TRD-1", {"REFUND_ISSUED"})
    roll_up(cloud)
    refunded = this_month(cloud)["months"][0]
    assert refunded["refunded"]["count"] == month["refunded"]["count"] + 1
    assert refunded["open"]["count"] == month["open"]["count"] - 1
    assert refunded["refunded"]["days_median"] is not None
