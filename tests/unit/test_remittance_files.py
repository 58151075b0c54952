"""X12 835 files read with pyx12 (issue 15): the implementation guide's public examples give the claims,
amounts and ICNs they state; a broken file is rejected with the segment position and why; a bad claim is
rejected alone and the file's other claims still count. Provenance: tests/data/x835/PROVENANCE.md."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from creditrefunds.adapters.x835 import read_835
from creditrefunds.domain.remittance import RemittanceFile, is_remittance

FILES = Path(__file__).parents[1] / "data" / "x835"


def read(name: str) -> RemittanceFile:
    return read_835((FILES / name).read_bytes(), name)


def claims(found: RemittanceFile) -> list[tuple[str, str, Decimal, Decimal | None, str, str]]:
    return [(c.account_id, c.status, c.paid, c.patient_resp, c.claim_id, c.payer_type) for c in found.claims]


def test_medicare_part_a_example():
    found = read("medicare-part-a.835")
    assert found.rejected is None and found.rejects == []
    assert claims(found) == [
        ("666123", "1", Decimal("138018.40"), None, "1999999444444", "MEDICARE"),  # CLP06 MA
        ("777777", "1", Decimal("11980.33"), None, "1999999444445", "MEDICARE"),  # CLP06 MB
    ]
    first = found.claims[0]
    assert (first.charge, first.adjustments) == (Decimal("211366.97"), (("CO", "45", Decimal("73348.57")),))
    assert (first.source.payer_name, first.source.payer_id) == ("INSURANCE COMPANY OF TIMBUCKTU", "999")  # REF*2U
    assert (first.source.trace, first.source.paid_on) == ("12345", date(2002, 9, 13))  # TRN02, BPR16
    # PLB CV:CP -1.27 is a capital pass-through payment to the provider, not a takeback.
    assert [(a.reason, a.claim_id, a.amount) for a in found.adjustments] == [("CV", "CP", Decimal("-1.27"))]
    assert found.takebacks() == []


def test_secondary_payment_example():
    found = read("secondary-payment.835")
    assert found.rejected is None and found.rejects == []
    assert claims(found) == [
        ("L0004828311", "2", Decimal("912.00"), None, "05090256390", "COMMERCIAL"),
        ("0001000053", "2", Decimal("310.00"), Decimal("220.00"), "05630626430", "COMMERCIAL"),
    ]
    assert found.claims[0].source.trace == "0012524965"
    # The example writes its service lines with '>' where ISA16 declares ':': pyx12 cannot place them.
    # They are notes at their positions; no claim payment is lost for them.
    assert {(n.position, n.segment) for n in found.notes} >= {(29, "SVC"), (34, "SVC")}


def test_tertiary_payment_example():
    found = read("tertiary-payment.835")
    assert found.rejected is None and found.rejects == []
    assert claims(found) == [("0001000054", "3", Decimal("187.50"), None, "50580155533", "COMMERCIAL")]
    assert found.claims[0].charge == Decimal("1766.50")
    assert any(n.position == 20 and n.element == "SVC01-02" for n in found.notes)


def test_cob_contractual_adjustment_example():
    found = read("cob-contractual-adjustment.835")
    assert found.rejected is None and found.rejects == []
    assert claims(found) == [("0001000055", "2", Decimal("34.00"), None, "50650619501", "COMMERCIAL")]
    assert found.claims[0].source.paid_on is None  # BPR16 is missing: a note at segment 4
    assert any(n.position == 4 and n.element == "BPR16" for n in found.notes)


def test_managed_care_example():
    found = read("managed-care.835")
    assert found.rejected is None and found.rejects == []
    assert claims(found) == [
        ("5554555444", "1", Decimal("450.00"), Decimal("300.00"), "94060555410000", "COMMERCIAL"),
        ("8765432112", "1", Decimal("495.00"), Decimal("600.00"), "94077799230000", "COMMERCIAL"),
    ]
    assert found.claims[1].adjustments == (("CO", "A2", Decimal("55.00")),)
    assert any(n.position == 4 and "invalid date (20002316)" in n.reason for n in found.notes)


def test_a_plb_wo_is_a_takeback_of_the_claim_it_names():
    found = read("mac-offset.835")
    assert found.rejected is None and found.rejects == [] and found.notes == []
    [takeback] = found.takebacks()
    assert (takeback.kind, takeback.payer_id, takeback.claim_id, takeback.amount) == (
        "PLB WO", "MAC-JL", "ICN-2026-0001", Decimal("500.00"))
    assert takeback.account_id is None  # a PLB names the claim only; the ledger tells the account
    assert takeback.evidence == "PLB WO of 500.00: 835 mac-offset.835, trace EFT-3001, claim ICN-2026-0001, segment 17"


def test_a_reversal_takes_back_what_the_claim_paid():
    [takeback] = read("reversal.835").takebacks()
    assert (takeback.kind, takeback.account_id, takeback.claim_id, takeback.amount, takeback.payer_type) == (
        "CLP02 22", "ACCT-RV1", "ICN-AET-0042", Decimal("300.00"), "COMMERCIAL")


@pytest.mark.parametrize(("name", "position", "pair", "reason"), [
    ("broken-envelope.835", 20, "ISA/IEA", "IEA id=000000102 does not match ISA id=000000101"),
    ("wrong-count.835", 18, "ST/SE", "SE count of 15 for SE02=0001 is wrong. I count 16"),
])
def test_a_broken_envelope_rejects_the_file_at_its_segment(name, position, pair, reason):
    found = read(name)
    assert found.rejected is not None
    assert (found.rejected.position, found.rejected.segment) == (position, pair)
    assert reason in found.rejected.reason
    assert found.claims == [] and found.adjustments == []  # nothing of a rejected file counts


def test_a_bad_claim_is_rejected_alone():
    found = read("bad-claim.835")
    assert found.rejected is None
    assert [c.account_id for c in found.claims] == ["ACCT-OK1"]
    [reject] = found.rejects
    assert (reject.position, reject.segment, reject.element) == (17, "CLP", "CLP04")
    assert "invalid character" in reject.reason


@pytest.mark.parametrize(("data", "why"), [
    (b"txn_id,account_id\n1,2\n", "does not begin with 'ISA'"),
    ((FILES / "mac-offset.835").read_bytes()[:300], "Trailer"),
    ((FILES / "mac-offset.835").read_bytes().replace(b"GS*HP", b"GS*HC"), "segment 2 (): not a readable X12 "
                                                                            "interchange: Map not found"),
])
def test_what_is_not_an_835_is_rejected_whole(data, why):
    found = read_835(data, "x.835")
    assert found.rejected is not None and why in str(found.rejected)


MAC_OFFSET = (FILES / "mac-offset.835").read_bytes()
ONE_PLB = b"PLB*1234567893*20261231*WO:ICN-2026-0001*500.00~"


def with_segments(after: bytes, added: bytes, count: int) -> bytes:
    """mac-offset.835 with segments added after `after`, and SE01 counting them."""
    return MAC_OFFSET.replace(after, after + b"\n" + added).replace(b"SE*16*0001~", f"SE*{16 + count}*0001~".encode())


def test_every_plb_of_a_payment_counts():
    # pyx12 4.0.0 counts a second PLB against the footer loop's count; the guide repeats PLB: a note only.
    found = read_835(with_segments(ONE_PLB, b"PLB*1234567893*20261231*72:ICN-2026-0002*75.00~", 1), "two.835")
    assert found.rejects == []
    assert [(t.kind, t.claim_id, t.amount) for t in found.takebacks()] == [
        ("PLB WO", "ICN-2026-0001", Decimal("500.00")), ("PLB 72", "ICN-2026-0002", Decimal("75.00"))]


def test_a_stray_payer_id_after_the_claims_changes_no_payer():
    found = read_835(with_segments(b"NM1*QC*1*DOE*JANE****MI*1EG4TE5MK72~", b"REF*2U*EVIL~", 1), "stray.835")
    assert [t.payer_id for t in found.takebacks()] == ["MAC-JL"] and found.claims[0].source.payer_id == "MAC-JL"
    assert [(n.position, n.segment) for n in found.notes] == [(17, "REF")]


def test_a_byte_order_mark_or_a_latin1_name_loses_no_claim():
    found = read_835(b"\xef\xbb\xbf\r\n" + MAC_OFFSET.replace(b"DOE*JANE", "DO\u00c9*JOS\u00c9".encode()), "bom.835")
    assert found.rejected is None and [c.account_id for c in found.claims] == ["ACCT-OTHER"]
    assert {n.element for n in found.notes} == {"NM103", "NM104"}  # the guide's character set: notes


def test_a_reversal_with_its_correction_takes_back_the_difference():
    reversal = (FILES / "reversal.835").read_bytes().replace(
        b"NM1*QC*1*ROE*RICHARD****MI*W123456789~",
        b"NM1*QC*1*ROE*RICHARD****MI*W123456789~\nCLP*ACCT-RV1*1*900.00*180.00**12*ICN-AET-0043*11*1~\n"
        b"NM1*QC*1*ROE*RICHARD****MI*W123456789~").replace(b"SE*15*0001~", b"SE*17*0001~")
    [takeback] = read_835(reversal, "corrected.835").takebacks()
    assert (takeback.claim_id, takeback.amount) == ("ICN-AET-0042", Decimal("120.00"))  # 300.00 back, 180.00 again


def test_an_835_is_told_by_extension_or_isa_header():
    assert is_remittance("era.835", b"") and is_remittance("ERA.EDI", b"") and is_remittance("a.x12", b"")
    assert is_remittance("remit.txt", b"ISA*00*          *00*")
    assert not is_remittance("ledger.txt", b"txn_id,account_id")


def test_refunds_remit_prints_claims_and_takebacks_offline(capsys):
    from refunds_cli.main import main

    assert main(["remit", str(FILES / "mac-offset.835")]) == 0
    out = capsys.readouterr().out
    assert "claim ICN-2026-0777  account ACCT-OTHER  status 1  charge 900.00  paid 700.00" in out
    assert "PLB WO ICN-2026-0001  500.00  TAKEBACK (overpayment recovery)  segment 17" in out
    assert main(["remit", "--json", str(FILES / "bad-claim.835")]) == 0
    found = __import__("json").loads(capsys.readouterr().out)
    assert [c["account_id"] for c in found["claims"]] == ["ACCT-OK1"]
    assert found["rejects"][0]["position"] == 17 and found["rejects"][0]["element"] == "CLP04"
    assert main(["remit", str(FILES / "wrong-count.835")]) == 1
    assert "REJECTED at segment 18 (ST/SE): SE count of 15" in capsys.readouterr().out
