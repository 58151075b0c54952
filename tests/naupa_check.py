"""A validator of NAUPA holder files (the Standard Electronic File Format, 577-byte records), for the tests:
every record's length and separator, every field's width, type and justification, the order of records,
the PROPADD's link to its PROPERTY, and the SUMINFO's counts and totals. It returns the problems it found,
each naming the record and field, so that a failing test says what a state's intake would refuse."""

from __future__ import annotations

from datetime import date

from creditrefunds.domain.naupa import AMOUNTS, LAYOUTS, RECORD


def problems(data: bytes) -> list[str]:
    found: list[str] = []
    if not data.endswith(b"\r\n"):
        found.append("the file does not end with CR/LF")
    lines = data.split(b"\r\n")[:-1]
    for code, fields in LAYOUTS.items():
        if sum(f.width for f in fields) != RECORD:
            found.append(f"layout {code} is {sum(f.width for f in fields)} bytes, not {RECORD}")
    parsed: list[tuple[str, dict[str, str]]] = []
    for n, line in enumerate(lines, start=1):
        if len(line) != RECORD:
            found.append(f"record {n}: {len(line)} bytes, not {RECORD}")
            continue
        if any(b < 0x20 or b > 0x7E for b in line):
            found.append(f"record {n}: a byte outside printable ASCII")
            continue
        code = chr(line[0])
        if code not in LAYOUTS:
            found.append(f"record {n}: TR-CODE {code!r} is no record type")
            continue
        at, values = 0, {}
        for f in LAYOUTS[code]:
            text = line[at:at + f.width].decode("ascii")
            at += f.width
            values[f.name] = text
            found += [f"record {n} ({code}) {f.name}: {why}" for why in _field(f.kind, text)]
        parsed.append((code, values))
    found += _structure(parsed)
    return found


def _field(kind: str, text: str) -> list[str]:
    if kind == "N" and not text.isdigit():
        return [f"{text!r} is not right-justified zero-filled digits"]
    if kind == "D":
        if not text.isdigit():
            return [f"{text!r} is not CCYYMMDD"]
        if text != "0" * 8:
            try:
                date(int(text[:4]), int(text[4:6]), int(text[6:]))
            except ValueError:
                return [f"{text!r} is not a date"]
    if kind == "C":
        if text.strip() and text[0] == " ":
            return [f"{text!r} is not left-justified"]
        if text != text.upper():
            return [f"{text!r} has lower case"]
    return []


def _amount(text: str) -> int:
    return int(text)


def _structure(parsed: list[tuple[str, dict[str, str]]]) -> list[str]:
    found: list[str] = []
    codes = [code for code, _ in parsed]
    if not codes or codes[0] != "1" or codes[-1] != "9" or codes.count("1") != 1 or codes.count("9") != 1:
        return [f"records must be one HOLDER first and one SUMINFO last: {''.join(codes)}"]
    properties = [v for c, v in parsed if c == "2"]
    seqs = [int(v["PROP-SEQUENCE-NUMBER"]) for v in properties]
    if seqs != list(range(1, len(seqs) + 1)):
        found.append(f"PROPERTY sequence numbers run {seqs}, not 1..{len(seqs)}")
    last = 0
    for code, v in parsed:
        if code == "2":
            last = int(v["PROP-SEQUENCE-NUMBER"])
        if code == "3" and int(v["PROPADD-SEQUENCE-NUMBER"]) != last:
            found.append(f"a PROPADD names property {v['PROPADD-SEQUENCE-NUMBER']} after property {last}")
    s = parsed[-1][1]
    sums = {name: sum(_amount(v[name.replace("SUM-", "PROP-")]) for v in properties)
            for name in AMOUNTS if name.startswith("SUM-")}
    for name, total in sums.items():
        if _amount(s[name]) != total:
            found.append(f"SUMINFO {name} {int(s[name])} is not the properties' {total}")
    if int(s["SUM-NUMBER-OF-PROPERTIES"]) != len(properties):
        found.append("SUMINFO SUM-NUMBER-OF-PROPERTIES is not the count of PROPERTY records")
    if int(s["SUM-NUMBER-OF-RECORDS"]) != len(parsed):
        found.append("SUMINFO SUM-NUMBER-OF-RECORDS is not the count of records")
    holder = parsed[0][1]
    if s["SUM-HOLDER-TAX-ID"] != holder["HOLDER-TAX-ID"]:
        found.append("SUMINFO's holder tax id is not the HOLDER's")
    negative = holder["HOLDER-REPORT-TYPE"] == "N"
    if negative != (not properties) or (s["SUM-NEGATIVE-REPORT"] == "Y") != negative:
        found.append("a negative report is one with no property, marked so in HOLDER and SUMINFO")
    return found
