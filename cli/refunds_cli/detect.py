"""`refunds detect`: credit balances in a ledger file, as JSON lines, with no AWS at all.

A CSV ledger takes the compiled pass (`creditrefunds.domain.fastpass`): the file mapped into
memory, read once in C, the rows it cannot read as they stand read by Python's reference parser.
Any other file, or where the compiled pass is not built (or REFUNDS_PURE_PYTHON=1 turns it
off), takes the reference reader: two passes in Python, the first validating every row and
summing each account's balance, the second reading again only the rows of the accounts in credit.
The answer is the same either way, byte for byte; only the time differs.
"""

from __future__ import annotations

import contextlib
import json
import mmap
import os
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from creditrefunds.domain import fastpass
from creditrefunds.domain.cases import Case
from creditrefunds.domain.detection import AccountSummary, detect_cases
from creditrefunds.domain.ledger import RowError, Transaction
from creditrefunds.domain.ledger_files import read_ledger
from creditrefunds.domain.settings import Settings, SettingsError, parse_settings

PURE_SWITCH = "REFUNDS_PURE_PYTHON"
_told: list[str] = []


def load_settings(path: Path | None) -> Settings:
    """DOMAIN.md's defaults, overridden by the JSON file at `path` when given."""
    if path is None:
        return Settings()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise SettingsError(f"cannot read settings file {path}: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise SettingsError(f"settings file {path} is not valid JSON: {error}") from None
    return parse_settings(text, f"settings file {path}")


def detect_file_json(
    path: Path,
    fmt: str,
    as_of: date,
    settings: Settings,
    on_reject: Callable[[RowError], Any] = lambda _: None,
) -> tuple[bytes, int]:
    """(the cases of the ledger at `path` as `refunds detect` writes them, how many); each
    rejected row goes to `on_reject`."""
    if fmt == "csv" and compiled_pass_on():
        with open(path, "rb") as stream:
            empty = os.fstat(stream.fileno()).st_size == 0  # (a file of no bytes cannot be mapped)
            mapped = contextlib.nullcontext(b"") if empty else mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ)
            with mapped as data:
                try:
                    return fastpass.detect_csv(data, as_of, settings, on_reject)
                except fastpass.NotClean:
                    pass  # the reference reader says what is wrong with it
    cases = detect_file_by_rows(path, fmt, as_of, settings, on_reject)
    return "".join(case_line(case) for case in cases).encode(), len(cases)


def compiled_pass_on(command: str = "refunds detect") -> bool:
    """Whether the compiled pass is there and not turned off; says once on standard error when not."""
    why = (f"{PURE_SWITCH} is set" if os.environ.get(PURE_SWITCH) else
           None if fastpass.UNAVAILABLE is None else f"it is not built ({fastpass.UNAVAILABLE})")
    if why and not _told:
        _told.append(why)
        print(f"{command}: the compiled detection pass is off: {why}; reading with the reference reader "
              "(the same answer, slower)", file=sys.stderr)
    return why is None


def detect_file_by_rows(
    path: Path,
    fmt: str,
    as_of: date,
    settings: Settings,
    on_reject: Callable[[RowError], Any] = lambda _: None,
) -> list[Case]:
    """The same, with the reference reader: any file, one row at a time."""
    summaries: dict[str, AccountSummary] = {}
    dropped: set[int] = set()
    with open(path, "rb") as stream:
        for item in read_ledger(stream, fmt, dropped_lines=dropped, id_max_length=settings.id_max_length):
            if isinstance(item, RowError):
                on_reject(item)
                continue
            summary = summaries.get(item.account_id)
            if summary is None:
                summary = summaries[item.account_id] = AccountSummary(item.account_id)
            summary.add(item)
    in_credit = {account for account, summary in summaries.items() if summary.has_credit}
    transactions: dict[str, list[Transaction]] = {account: [] for account in in_credit}
    with open(path, "rb") as stream:
        for txn in read_ledger(stream, fmt, accounts=in_credit, dropped_lines=dropped):
            if isinstance(txn, Transaction):  # the first pass dropped every line that is not one
                transactions[txn.account_id].append(txn)
    return detect_cases(summaries, transactions, as_of, settings)


def case_line(case: Case) -> str:
    """One case as a line of `refunds detect`'s output."""
    return json.dumps(case.to_json(), separators=(", ", ": ")) + "\n"
