"""Letters as PDF (DOMAIN.md section 10), with fpdf2: DejaVu Sans is embedded (the fonts beside this module,
under their licence), so that an accented or non-Latin name prints as written. The same letter renders to the
same bytes (its creation date is the day it was written), so a letter written again has the SHA-256 its
history record holds. Every value is plain text in a text cell: no markup is read from the data."""

from __future__ import annotations

import base64
import hashlib
import unicodedata
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.enums import WrapMode, XPos, YPos

from creditrefunds.domain.letters import Letter

FONTS = Path(__file__).with_name("fonts")
FONT = "DejaVu"


def _plain(value: str) -> str:
    """Text as printed: control and format characters (a bidi override, a zero-width joiner) dropped."""
    return "".join(c for c in value if unicodedata.category(c)[0] != "C" or c == " ")


def render(letter: Letter) -> bytes:
    """The letter's PDF bytes."""
    pdf = FPDF(format="Letter")
    pdf.set_title(_plain(letter.title))
    pdf.set_author(_plain(letter.sender[0]) if letter.sender else "")
    pdf.set_creation_date(datetime.combine(letter.written_on or datetime.now(UTC).date(), time(), UTC))
    pdf.add_font(FONT, "", str(FONTS / "DejaVuSans.ttf"))
    pdf.add_font(FONT, "B", str(FONTS / "DejaVuSans-Bold.ttf"))
    pdf.set_auto_page_break(True, margin=20)
    pdf.add_page()
    width = pdf.epw

    def text(value: str, size: float = 10, style: str = "", align: str = "L", gap: float = 1.5) -> None:
        pdf.set_font(FONT, style, size)
        pdf.multi_cell(width, size * 0.5, _plain(value), align=align, wrapmode=WrapMode.CHAR,
                       new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(gap)

    if letter.heading:  # the state's required words: centred at the top, in capitals where the law gives them so
        text(letter.heading, 12, "B", "C", 4)
    for line in letter.sender:
        text(line, 9, gap=0)
    pdf.ln(6)
    if letter.written_on:
        text(letter.written_on.strftime("%B %d, %Y"), gap=4)
    for line in letter.recipient:
        text(line, gap=0)
    pdf.ln(6)
    text(letter.title, 14, "B", gap=4)
    for paragraph in letter.paragraphs:
        text(paragraph, gap=3)
    pdf.ln(2)
    for label, value in letter.rows:
        pdf.set_font(FONT, "B", 9)
        pdf.cell(width * 0.4, 6, _plain(label))
        pdf.set_font(FONT, "", 9)
        pdf.multi_cell(width * 0.6, 6, _plain(value), wrapmode=WrapMode.CHAR, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class LetterStore:
    """Letters kept in the ledger bucket under letters/ (the print or mail vendor's outbound folder)."""

    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3, self._bucket = s3, bucket

    def render(self, letter: Letter) -> tuple[bytes, str]:
        data = render(letter)
        return data, digest(data)

    def write(self, letter: Letter) -> tuple[str, str]:
        data, sha = self.render(letter)
        self._s3.put_object(Bucket=self._bucket, Key=letter.key, Body=data, ContentType="application/pdf",
                            ChecksumSHA256=base64.b64encode(bytes.fromhex(sha)).decode())
        return letter.key, sha
