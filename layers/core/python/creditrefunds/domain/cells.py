"""Values bound for a CSV file that people open in a spreadsheet.

Ids and names come from ledgers and remittances, which anyone upstream can write: a cell that
starts like a formula (=, +, -, @, a tab or a carriage return) is run by Excel or Sheets when
the file is opened. Such a value gets a leading apostrophe; amounts pass as they are.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def safe_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) and not _NUMBER.match(text) else text


def safe_row(row: Mapping[str, Any]) -> dict[str, str]:
    return {key: safe_cell(value) for key, value in row.items()}
