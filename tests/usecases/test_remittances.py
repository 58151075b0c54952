"""835 remittances (issue 15) over the real use-cases: a takeback of an issued refund names the instruction to
stop, once; a broken 835 is rejected with its segment position; a takeback that came before the ledger still
counts; two remitted payments prove a duplicate; an 835 under any name is told by its ISA header."""

from __future__ import annotations

from typing import Any

from creditrefunds.adapters.x835 import read_835
from creditrefunds.domain.ledger import Dropped, LedgerGone, LedgerReplaced
from creditrefunds.usecases.ingest import ingest_file
from creditrefunds.usecases.remittance import receive

from tests.memory.cloud import COMPLIANCE, OPERATORS, MemoryCloud
from tests.remittances import MAC_OFFSET, medicare_paid_twice, offset_of, payment_of

from .test_crash_safe import approve_the_waiting_link
from .test_workflow_paths import TIER1


def drop_835(mem: MemoryCloud, name: str, text: str) -> dict[str, Any]:
    """An 835 into incoming/ as the billing system drops it: the ingest use-case hands it on (by its name or
    its ISA header), and the remittance use-case receives it as `functions/remit/app.py` does, under Lambda's
    asynchronous retries and failure destination; then every workflow it touched runs. The remittance's
    summary."""
    etag = mem.bucket.drop(name, text)
    key = f"incoming/{name}"
    dropped = Dropped(key=key, etag=etag, sequencer=f"{len(mem.handoff.handed) + 1:016x}", event_time=mem.now)
    answer = mem.invoke_async("IngestFunction", lambda: ingest_file(
        mem.ports, dropped, mem.config.split_threshold, mem.config.rows_per_part, mem.now, _uncounted, OPERATORS),
        dropped)
    assert answer == {"key": key, "remittance": "handed to the remittance function"}, answer
    handed = mem.handoff.handed[-1]
    assert (handed.key, handed.etag) == (key, etag)

    def remit() -> dict[str, Any]:
        try:
            with mem.bucket.open(handed.key, handed.etag) as stream:
                data = stream.read()
        except (LedgerGone, LedgerReplaced) as why:  # read and kept already (a retry after the file left)
            return {"key": key, "skipped": type(why).__name__}
        return receive(mem.ports, read_835(data, mem.bucket.incoming_name(handed.key) or handed.key), dropped,
                       (OPERATORS, COMPLIANCE), mem.now, _uncounted)

    summary = mem.invoke_async("RemitFunction", remit, dropped)
    mem.run()
    return summary


def _uncounted(_name: str, _value: int) -> None:
    """Metrics: nobody reads them here."""


def reasons(mem: MemoryCloud, case_id: str) -> list[tuple[str, str | None]]:
    return [(r["action"], r.get("reason")) for r in mem.history.records(case_id)]


def test_a_takeback_of_an_issued_refund_tells_operators_and_compliance_which_instruction_to_stop(mem: MemoryCloud):
    account = "RM-SENT"
    mem.drop(medicare_paid_twice(account), "rm-sent.csv")
    assert mem.links(TIER1, account)
    approve_the_waiting_link(mem, account)
    case = mem.case(account)
    assert case["status"] == "REFUND_ISSUED"
    [issued] = mem.refund_book.of_case(case["case_id"])
    drop_835(mem, "rm-sent-era.835", offset_of(account))
    for to in (OPERATORS, COMPLIANCE):
        alert = next(m for m in mem.mailer.to(to) if account in m.subject)
        assert alert.subject == (f"STOP refund instruction {issued.instruction_id}: the payer already recouped "
                                 f"(account {account})")
        assert "PLB WO of 500.00" in alert.text and "trace EFT-3001" in alert.text
    assert "TAKEBACK_ALERT" in mem.actions(case["case_id"])
    assert mem.case(account)["status"] == "REFUND_ISSUED"  # what was sent stays on record
    # The payer sends the same remittance again in a new interchange: nobody is told twice.
    drop_835(mem, "rm-sent-era-again.835", offset_of(account).replace("000000101", "000000177"))
    [stop] = [m for m in mem.mailer.sent if account in m.subject and m.subject.startswith("STOP")]
    assert set(stop.to) == {OPERATORS, COMPLIANCE}
    assert mem.actions(case["case_id"]).count("TAKEBACK_ALERT") == 1


def test_a_broken_835_is_rejected_with_its_segment_position(mem: MemoryCloud):
    broken = MAC_OFFSET.replace("IEA*1*000000101~", "IEA*1*000000109~")
    drop_835(mem, "broken-era.edi", broken)
    reason = mem.bucket.rejected("broken-era.edi", "reason.txt")
    assert reason.startswith("835 rejected: segment 20 (ISA/IEA): IEA id=000000109 does not match ISA id=000000101")
    assert mem.bucket.keys("incoming/broken-era.edi") == []


def test_a_takeback_that_came_before_the_ledger_still_counts(mem: MemoryCloud):
    account = "RM-EARLY"
    drop_835(mem, "rm-early-era.835", offset_of(account))  # the ledger does not know the claim yet
    mem.drop(medicare_paid_twice(account), "rm-early.csv")
    case = mem.case(account)
    assert case["status"] == "WORK_ITEM"
    assert [(li["action"], li["reason"], li["amount"]) for li in case["lines"]] == [
        ("CORRECT", "PAYER_RECOUPED", "500.00")]
    assert [m.subject for m in mem.mailer.sent if account in m.subject] == []  # no approval was asked


def test_two_remitted_payments_prove_the_duplicate_and_the_refund_goes_out_with_its_proof(mem: MemoryCloud):
    account = "RM-DUP"
    mem.drop(medicare_paid_twice(account), "rm-dup.csv")
    assert len(mem.links(TIER1, account)) == 1
    drop_835(mem, "rm-dup-era-1.835", payment_of(account, "EFT-1"))
    drop_835(mem, "rm-dup-era-2.835", payment_of(account, "EFT-2"))
    # The line now names its proof: what was asked is withdrawn and asked again of the line as it is.
    assert len(mem.links(TIER1, account)) >= 2
    approve_the_waiting_link(mem, account)
    case = mem.case(account)
    assert case["status"] == "REFUND_ISSUED"
    [line] = case["lines"]
    assert (line["action"], line["reason"], line["amount"]) == ("REFUND", "DUPLICATE_PAYMENT", "500.00")
    assert line["evidence"] == (f"remitted twice: 835 rm-dup-era-1.835, trace EFT-1, claim ICN-{account}, segment 14; "
                                f"835 rm-dup-era-2.835, trace EFT-2, claim ICN-{account}, segment 14")
    [issued] = mem.refund_book.of_case(case["case_id"])
    assert (issued.payee_id, f"{issued.amount}", issued.claim_id) == ("MAC-JL", "500.00", f"ICN-{account}")
    [row] = [r for r in mem.bucket.ap_rows() if r["case_id"] == case["case_id"]]  # what accounts payable pays
    assert (row["payee_id"], row["amount"], row["claim_id"]) == ("MAC-JL", "500.00", f"ICN-{account}")


def test_an_835_under_any_name_is_told_by_its_isa_header(mem: MemoryCloud):
    account = "RM-TXT"
    mem.drop(medicare_paid_twice(account), "rm-txt.csv")
    assert mem.links(TIER1, account)
    drop_835(mem, "remit-2026-11-18.txt", "\ufeff" + offset_of(account))  # a .txt, with a byte-order mark
    assert [h.key for h in mem.handoff.handed] == ["incoming/remit-2026-11-18.txt"]
    case = mem.case(account)
    assert case["status"] == "WORK_ITEM"
    assert [li["reason"] for li in case["lines"]] == ["PAYER_RECOUPED"]
