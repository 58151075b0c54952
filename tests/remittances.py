"""The ledgers and 835s the remittance tests of both tiers drop: one Medicare contractor's file, changed."""

from __future__ import annotations

from pathlib import Path

MAC_OFFSET = (Path(__file__).parent / "data" / "x835" / "mac-offset.835").read_text()


def medicare_paid_twice(account: str) -> list[str]:
    """Medicare paid one claim twice (two EFTs): a duplicate payment, a 500.00 refund to Medicare."""
    return [f"{account}-1,{account},P-{account},G-{account},CHARGE,500.00,2026-11-02,,,,,,\"Ruiz, Ana\",TX",
            f"{account}-2,{account},P-{account},G-{account},PAYMENT,-500.00,2026-11-05,MEDICARE,MAC-JL,1,EFT-1,"
            f"ICN-{account},\"Ruiz, Ana\",TX",
            f"{account}-3,{account},P-{account},G-{account},PAYMENT,-500.00,2026-11-09,MEDICARE,MAC-JL,1,EFT-2,"
            f"ICN-{account},\"Ruiz, Ana\",TX"]


def offset_of(account: str) -> str:
    """The contractor's 835: another claim paid, and a PLB WO taking back 500.00 of the account's claim."""
    return MAC_OFFSET.replace("ICN-2026-0001", f"ICN-{account}")


def payment_of(account: str, trace: str) -> str:
    """The contractor's 835 paying the account's claim 500.00 under `trace` (no takeback)."""
    return (MAC_OFFSET.replace("TRN*1*EFT-3001*", f"TRN*1*{trace}*")
            .replace("CLP*ACCT-OTHER*1*900.00*700.00*0*MA*ICN-2026-0777*11*1~",
                     f"CLP*{account}*1*500.00*500.00*0*MA*ICN-{account}*11*1~")
            .replace("CAS*CO*45*200.00~\n", "").replace("PLB*1234567893*20261231*WO:ICN-2026-0001*500.00~\n", "")
            .replace("SE*16*0001~", "SE*14*0001~"))
