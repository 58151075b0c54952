"""`refunds detect`: credit balances in a ledger file, as JSON lines, with no AWS at all.

Two passes over the file keep memory to what the accounts need: the first validates every
row and sums each account's balance; the second reads again only the rows of the accounts
that are in credit, which the rules then split. A clean-shaped CSV file takes the columnar
passes (`refunds_cli.columnar`); any other file the reference reader, with the same answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import IO, Any

from creditrefunds.domain.cases import Case
from creditrefunds.domain.detection import AccountSummary, detect_cases
from creditrefunds.domain.ledger import RowError, Transaction, read_ledger
from creditrefunds.domain.settings import Settings, SettingsError, parse_settings

from refunds_cli import columnar


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


def detect_file(
    path: Path,
    fmt: str,
    as_of: date,
    settings: Settings,
    on_reject: Callable[[RowError], Any] = lambda _: None,
) -> list[Case]:
    """The cases of the ledger at `path`; each rejected row goes to `on_reject`."""
    if fmt == "csv":
        try:
            scan = columnar.scan(path, on_reject, settings.id_max_length)
        except columnar.NotColumnar:
            pass
        else:
            in_credit = {account for account, summary in scan.summaries.items() if summary.has_credit}
            return detect_cases(scan.summaries, scan.transactions(in_credit), as_of, settings)
    return detect_file_by_rows(path, fmt, as_of, settings, on_reject)


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


def write_cases(cases: list[Case], out: IO[str]) -> None:
    for case in cases:
        out.write(json.dumps(case.to_json(), separators=(", ", ": ")) + "\n")
