"""A debit is offset once (DOMAIN §4): the guarantor's debits, less what its cases already promised.

A debit promised to another case's OFFSET line (a case in progress that has issued nothing yet, or an
offset issued and not yet posted back) is not there to take again, whether the two credits came in one
file or in two, and whichever case is reviewed first.
"""

from __future__ import annotations

from collections.abc import Iterable

from creditrefunds.domain.detection import AccountSummary, DebitPool, Promise, guarantor_debits
from creditrefunds.domain.returns import IN_PROGRESS, in_flight_offsets
from creditrefunds.usecases.ports import Ports


def promised_offsets(ports: Ports, accounts: list[str]) -> list[Promise]:
    """What the cases of `accounts` promised of any debit: offsets in flight (the refund book's, not posted
    back) and the OFFSET lines of a case in progress that has issued nothing yet."""
    holders = ports.cases.holders(accounts)
    promised: list[Promise] = []
    for account_id in accounts:
        instructions = ports.refund_book.of_account(account_id)
        promised += in_flight_offsets(i for i in instructions if not i.returned_by)
        holder_id = holders.get(account_id)
        if holder_id is None or any(i.case_id == holder_id for i in instructions):
            continue
        stored = ports.cases.get(holder_id, strict=False)
        if stored is not None and stored.status in IN_PROGRESS:
            promised += [Promise(holder_id, holder_id, line.target_account_id, line.amount)
                         for line in stored.case.lines if line.action == "OFFSET" and line.target_account_id]
    return promised


def debits_for(ports: Ports, summary: AccountSummary, known: dict[str, AccountSummary] | None = None,
               own: Iterable[Promise] = ()) -> DebitPool:
    """The guarantor's other debits from the stored ledger (`known`: summaries already read), less what the
    cases of its other accounts promised of them and `own` (what the account's own other cases have in flight:
    the caller read them with the account's ledger)."""
    known = known or {}
    accounts = [a for a in ports.transactions.guarantor_accounts(summary.guarantor_id) if a != summary.account_id]
    unread = ports.transactions.summaries({a for a in accounts if a not in known}) if set(accounts) - set(known) else {}
    others = [known[a] if a in known else unread[a][0] for a in accounts if a in known or a in unread]
    pool = guarantor_debits(summary, others)
    if pool.debits:  # most guarantors owe nothing elsewhere: nothing more to read
        pool.promise(promised_offsets(ports, accounts))
        pool.promise(own)
    return pool
