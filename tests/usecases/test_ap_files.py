"""Issue 32: the AP file is written once per instruction, never re-read or rewritten: a day of many refunds
costs one write each, and the day's files together are exactly what was approved."""

from __future__ import annotations

from creditrefunds.domain.refunds import ap_day

from tests.memory.cloud import MemoryCloud

from .test_insiders import TIER1, credit, paid

REFUNDS = 40


def test_a_day_of_many_refunds_writes_each_file_once_and_never_again(mem: MemoryCloud):
    accounts = [f"AP-{n:03d}" for n in range(REFUNDS)]
    for account in accounts:
        credit(mem, account)
    for account in accounts:
        [link] = mem.links(TIER1, account)
        assert mem.decide(link).status == 200
    keys = mem.bucket.keys("outbound/refunds/")
    assert mem.bucket.ap_writes == REFUNDS and len(keys) == REFUNDS
    assert len(mem.bucket.ap_versions) == REFUNDS  # no file was written twice
    day = keys[0].split("/")[2]
    assert all(k.startswith(f"outbound/refunds/{day}/") and k.endswith("#0.csv") for k in keys)
    assert paid(mem) == sorted((f"G-{a}", "90.00") for a in accounts)
    whole = ap_day(mem.bucket.text(k) for k in keys).splitlines()
    assert whole[0].startswith("instruction_id,issued_on,case_id") and len(whole) == REFUNDS + 1
    for key in keys:  # each file holds its own instruction and no other
        [_, row] = mem.bucket.text(key).splitlines()
        assert row.startswith(key.rsplit("/", 1)[1].removesuffix(".csv") + ",")


def test_an_ap_file_someone_wrote_first_stops_the_case_and_is_not_taken_for_the_issue_steps(mem: MemoryCloud):
    credit(mem, "AP-PLANTED")
    case_id = mem.case("AP-PLANTED")["case_id"]
    day = mem.now.date().isoformat()
    mem.bucket.put_text(f"outbound/refunds/{day}/{case_id}#0.csv",  # a writer of the bucket, first
                        "instruction_id,issued_on,case_id,account_id,payee_type,payee_id,amount,method,reason,"
                        f"claim_id,target_account_id,due_date\n{case_id}#0,{day},{case_id},AP-PLANTED,PATIENT,"
                        "ATTACKER,90.00,check,PATIENT_OVERPAYMENT,,,\n")
    [link] = mem.links(TIER1, "AP-PLANTED")
    assert mem.decide(link).status == 200
    assert mem.case("AP-PLANTED")["status"] == "FAILED"
    assert any("was there before the issue step wrote it" in m.text for m in mem.mailer.to("operators@example.org"))
