"""A holder's report in the NAUPA Standard Electronic File Format (DOMAIN.md section 9): fixed-width ASCII
records of 577 bytes (a TR-CODE byte and 576 of fields), each ended by CR/LF: one HOLDER, a PROPERTY per
property with a PROPADD where a second owner is known, and a SUMINFO with the counts and totals.

Numbers (N) are right-justified and zero-filled with the decimals implied; text (C) is left-justified and
space-filled, upper case ASCII (accents folded: a state's file takes no other byte). Dates are CCYYMMDD.
The layouts are data (`LAYOUTS`): a state whose own variant moves a field changes this table, not code.
Pure."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

RECORD = 577
EOL = b"\r\n"


@dataclass(frozen=True)
class Field:
    name: str
    width: int
    kind: str  # "C" text, "N" number (amounts: 2 implied decimals), "D" date CCYYMMDD (numeric)


def _layout(code: str, *fields: tuple[str, int, str]) -> tuple[Field, ...]:
    used = 1 + sum(width for _, width, _ in fields)
    return (Field("TR-CODE", 1, "C"), *(Field(*f) for f in fields), Field("FILLER", RECORD - used, "C"))


LAYOUTS: dict[str, tuple[Field, ...]] = {
    "1": _layout("1", ("HOLDER-TAX-ID", 9, "C"), ("HOLDER-TAX-ID-EXT", 4, "C"), ("HOLDER-REPORT-YEAR", 4, "N"),
                 ("HOLDER-REPORT-NUMBER", 2, "N"), ("HOLDER-SIC-CODE", 4, "C"), ("HOLDER-INCORP-STATE", 2, "C"),
                 ("HOLDER-INCORP-DATE", 8, "D"), ("HOLDER-NAME", 50, "C"), ("HOLDER-CITY", 30, "C"),
                 ("HOLDER-COUNTY", 20, "C"), ("HOLDER-STATE", 2, "C"), ("HOLDER-CONTACT-NAME", 50, "C"),
                 ("HOLDER-CONTACT-ADDR-1", 50, "C"), ("HOLDER-CONTACT-ADDR-2", 50, "C"),
                 ("HOLDER-CONTACT-CITY", 30, "C"), ("HOLDER-CONTACT-STATE", 2, "C"), ("HOLDER-CONTACT-ZIP", 9, "C"),
                 ("HOLDER-CONTACT-PHONE", 10, "N"), ("HOLDER-CONTACT-EMAIL", 50, "C"), ("HOLDER-REPORT-TYPE", 1, "C"),
                 ("HOLDER-REPORT-STATE", 2, "C"), ("HOLDER-AS-OF-DATE", 8, "D")),
    "2": _layout("2", ("PROP-SEQUENCE-NUMBER", 6, "N"), ("PROP-OWNER-TYPE", 1, "C"), ("PROP-OWNER-NAME-LAST", 40, "C"),
                 ("PROP-OWNER-NAME-FIRST", 30, "C"), ("PROP-OWNER-NAME-MIDDLE", 10, "C"),
                 ("PROP-OWNER-ADDRESS-1", 50, "C"), ("PROP-OWNER-ADDRESS-2", 50, "C"), ("PROP-OWNER-CITY", 30, "C"),
                 ("PROP-OWNER-STATE", 2, "C"), ("PROP-OWNER-ZIP", 9, "C"), ("PROP-OWNER-TAX-ID", 9, "C"),
                 ("PROP-OWNER-DOB", 8, "D"), ("PROP-TYPE-CODE", 4, "C"), ("PROP-START-TRANS-DATE", 8, "D"),
                 ("PROP-END-TRANS-DATE", 8, "D"), ("PROP-AMOUNT-REPORTED", 10, "N"), ("PROP-DEDUCTION-TYPE", 2, "C"),
                 ("PROP-DEDUCTION-AMOUNT", 10, "N"), ("PROP-AMOUNT-ADVERTISED", 10, "N"),
                 ("PROP-AMOUNT-REMITTED", 10, "N"), ("PROP-CHECK-NUMBER", 20, "C"), ("PROP-ACCOUNT-NUMBER", 30, "C"),
                 ("PROP-DESCRIPTION", 50, "C")),
    "3": _layout("3", ("PROPADD-SEQUENCE-NUMBER", 6, "N"), ("PROPADD-RELATIONSHIP", 2, "C"),
                 ("PROPADD-NAME-LAST", 40, "C"), ("PROPADD-NAME-FIRST", 30, "C"), ("PROPADD-NAME-MIDDLE", 10, "C"),
                 ("PROPADD-ADDRESS-1", 50, "C"), ("PROPADD-ADDRESS-2", 50, "C"), ("PROPADD-CITY", 30, "C"),
                 ("PROPADD-STATE", 2, "C"), ("PROPADD-ZIP", 9, "C"), ("PROPADD-TAX-ID", 9, "C")),
    "9": _layout("9", ("SUM-HOLDER-TAX-ID", 9, "C"), ("SUM-NUMBER-OF-RECORDS", 6, "N"),
                 ("SUM-NUMBER-OF-PROPERTIES", 6, "N"), ("SUM-AMOUNT-REPORTED", 12, "N"),
                 ("SUM-DEDUCTION-AMOUNT", 12, "N"), ("SUM-AMOUNT-ADVERTISED", 12, "N"),
                 ("SUM-AMOUNT-REMITTED", 12, "N"), ("SUM-NEGATIVE-REPORT", 1, "C")),
}
AMOUNTS = {"PROP-AMOUNT-REPORTED", "PROP-DEDUCTION-AMOUNT", "PROP-AMOUNT-ADVERTISED", "PROP-AMOUNT-REMITTED",
           "SUM-AMOUNT-REPORTED", "SUM-DEDUCTION-AMOUNT", "SUM-AMOUNT-ADVERTISED", "SUM-AMOUNT-REMITTED"}


class TooWide(ValueError):
    """A number that does not fit its field: the report is refused rather than cut."""


def ascii_text(value: str) -> str:
    """Upper-case printable ASCII: accents folded (José -> JOSE), anything else a space."""
    folded = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    return "".join(c if " " <= c <= "~" else " " for c in folded).upper()


def cell(f: Field, value: str | int | Decimal | date | None) -> str:
    """One field's bytes (as text) at its width."""
    if f.kind == "D":
        text = value.strftime("%Y%m%d") if isinstance(value, date) else "0" * 8
        return text
    if f.kind == "N":
        if isinstance(value, Decimal):
            number = int((value * 100).to_integral_exact()) if f.name in AMOUNTS else int(value)
        else:
            number = int("".join(ch for ch in str(value or 0) if ch.isdigit()) or 0)
        if number < 0 or len(str(number)) > f.width:
            raise TooWide(f"{f.name}: {value} does not fit {f.width} digits")
        return str(number).zfill(f.width)
    return ascii_text(str(value or ""))[:f.width].ljust(f.width)


def record(code: str, values: dict[str, str | int | Decimal | date | None]) -> bytes:
    """One record of type `code` from its fields' values (absent: blank or zero)."""
    unknown = set(values) - {f.name for f in LAYOUTS[code]}
    if unknown:
        raise KeyError(f"no such field in record {code}: {', '.join(sorted(unknown))}")
    text = "".join(code if f.name == "TR-CODE" else cell(f, values.get(f.name)) for f in LAYOUTS[code])
    data = text.encode("ascii")
    assert len(data) == RECORD
    return data


def fields_of(line: bytes) -> dict[str, str]:
    """A record's fields by name, as text (what a reader of the file sees)."""
    out, at = {}, 0
    for f in LAYOUTS[chr(line[0])]:
        out[f.name] = line[at:at + f.width].decode("ascii")
        at += f.width
    return out


@dataclass(frozen=True)
class Owner:
    last: str
    first: str = ""
    middle: str = ""
    kind: str = "P"  # P a person, B a business (an insurer)
    address: str = ""
    city: str = ""
    state: str = ""
    zip: str = ""


@dataclass(frozen=True)
class Item:
    """One property of the report: its owner, a second owner where one is known, and its money."""

    owner: Owner
    amount: Decimal
    type_code: str
    first_date: date
    last_date: date
    check_number: str
    account: str  # the holder's reference: the refund instruction
    description: str
    advertised: bool = False  # a due-diligence letter went out
    second: Owner | None = None
    relationship: str = "AN"


def split_name(name: str) -> tuple[str, str, str]:
    """"LAST, FIRST MIDDLE" or "FIRST MIDDLE LAST" as (last, first, middle)."""
    if "," in name:
        last, rest = (part.strip() for part in name.split(",", 1))
        first, _, middle = rest.partition(" ")
        return last, first, middle.strip()
    parts = name.split()
    if len(parts) < 2:
        return name.strip(), "", ""
    return parts[-1], parts[0], " ".join(parts[1:-1])


def report(holder: dict[str, str | int | Decimal | date | None], items: list[Item]) -> bytes:
    """The whole file: HOLDER, then per item PROPERTY (and PROPADD), then SUMINFO; a negative report when
    there is nothing to report."""
    lines = [record("1", {**holder, "HOLDER-REPORT-TYPE": "R" if items else "N"})]
    total = advertised = Decimal("0.00")
    for seq, item in enumerate(items, start=1):
        o = item.owner
        lines.append(record("2", {
            "PROP-SEQUENCE-NUMBER": seq, "PROP-OWNER-TYPE": o.kind, "PROP-OWNER-NAME-LAST": o.last,
            "PROP-OWNER-NAME-FIRST": o.first, "PROP-OWNER-NAME-MIDDLE": o.middle, "PROP-OWNER-ADDRESS-1": o.address,
            "PROP-OWNER-CITY": o.city, "PROP-OWNER-STATE": o.state, "PROP-OWNER-ZIP": o.zip,
            "PROP-TYPE-CODE": item.type_code, "PROP-START-TRANS-DATE": item.first_date,
            "PROP-END-TRANS-DATE": item.last_date, "PROP-AMOUNT-REPORTED": item.amount,
            "PROP-AMOUNT-ADVERTISED": item.amount if item.advertised else Decimal("0.00"),
            "PROP-AMOUNT-REMITTED": item.amount, "PROP-CHECK-NUMBER": item.check_number,
            "PROP-ACCOUNT-NUMBER": item.account, "PROP-DESCRIPTION": item.description}))
        if item.second is not None:
            s = item.second
            lines.append(record("3", {
                "PROPADD-SEQUENCE-NUMBER": seq, "PROPADD-RELATIONSHIP": item.relationship, "PROPADD-NAME-LAST": s.last,
                "PROPADD-NAME-FIRST": s.first, "PROPADD-NAME-MIDDLE": s.middle, "PROPADD-ADDRESS-1": s.address,
                "PROPADD-CITY": s.city, "PROPADD-STATE": s.state, "PROPADD-ZIP": s.zip}))
        total += item.amount
        advertised += item.amount if item.advertised else Decimal("0.00")
    lines.append(record("9", {
        "SUM-HOLDER-TAX-ID": holder.get("HOLDER-TAX-ID"), "SUM-NUMBER-OF-RECORDS": len(lines) + 1,
        "SUM-NUMBER-OF-PROPERTIES": len(items), "SUM-AMOUNT-REPORTED": total, "SUM-DEDUCTION-AMOUNT": Decimal("0.00"),
        "SUM-AMOUNT-ADVERTISED": advertised, "SUM-AMOUNT-REMITTED": total,
        "SUM-NEGATIVE-REPORT": "N" if items else "Y"}))
    return EOL.join(lines) + EOL
