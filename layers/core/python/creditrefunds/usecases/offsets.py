"""A debit is offset once (DOMAIN §4): the guarantor's debits, less what cases already promised of them.

A debit promised to another case's OFFSET line (a case in progress that has issued nothing yet, or an
offset issued whose transfer has not yet arrived in the debit's own ledger) is not there to take again,
whether the two credits came in one file or in two, whichever case is reviewed first, and whichever
guarantor the accounts name now. Promises are found from the debit's side: every account of every
guarantor the debit's rows ever named.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from creditrefunds.domain.detection import AccountSummary, DebitPool, Promise, guarantor_debits
from creditrefunds.domain.instructions import Instruction
from creditrefunds.domain.returns import IN_PROGRESS, offsets_received
from creditrefunds.usecases.ports import Ports


@dataclass
class Promised:
    """What cases promised of some debits, and every offset instruction into them that was read (`read`:
    whether or not it still promises anything), so that one read again elsewhere is not counted twice."""

    promises: list[Promise] = field(default_factory=list)
    read: set[str] = field(default_factory=set)


def promised_offsets(ports: Ports, accounts: list[str], debits: list[str]) -> Promised:
    """Every promise into `debits` made by the cases of `accounts` and of every account of a guarantor the
    debits' own rows name: offsets issued whose transfer the debit's ledger does not show yet, and the OFFSET
    lines of a case in progress that has issued nothing yet."""
    ledgers = {debit: ports.transactions.account_transactions(debit) for debit in debits}
    sources = set(accounts)
    for guarantor in sorted({t.guarantor_id for rows in ledgers.values() for t in rows}):
        sources.update(ports.transactions.guarantor_accounts(guarantor))
    ordered = sorted(sources)
    holders = ports.cases.holders(ordered)
    found = Promised()
    into: dict[str, list[Instruction]] = {debit: [] for debit in debits}
    for account_id in ordered:
        instructions = ports.refund_book.of_account(account_id)
        for i in instructions:
            if i.target in into:
                into[i.target].append(i)
                found.read.add(i.instruction_id)
        holder_id = holders.get(account_id)
        if holder_id is None or any(i.case_id == holder_id for i in instructions):
            continue
        stored = ports.cases.get(holder_id, strict=False)
        if stored is not None and stored.status in IN_PROGRESS:
            found.promises += [Promise(holder_id, holder_id, line.target_account_id, line.amount)
                               for line in stored.case.lines
                               if line.action == "OFFSET" and line.target_account_id in into]
    for debit, offsets in into.items():
        arrived = offsets_received(debit, ledgers[debit], offsets)
        found.promises += [Promise(i.instruction_id, i.case_id, debit, i.amount)
                           for i in offsets if i.instruction_id not in arrived]
    return found


def debits_for(ports: Ports, summary: AccountSummary, known: dict[str, AccountSummary] | None = None,
               but: str | None = None) -> DebitPool:
    """The guarantor's other debits from the stored ledger (`known`: summaries already read), less what cases
    promised of them: every case's but `but`'s (the case being worked)."""
    known = known or {}
    accounts = [a for a in ports.transactions.guarantor_accounts(summary.guarantor_id) if a != summary.account_id]
    unread = ports.transactions.summaries({a for a in accounts if a not in known}) if set(accounts) - set(known) else {}
    others = [known[a] if a in known else unread[a][0] for a in accounts if a in known or a in unread]
    pool = guarantor_debits(summary, others)
    if pool.debits:  # most guarantors owe nothing elsewhere: nothing more to read
        promised = promised_offsets(ports, [*accounts, summary.account_id], [str(d[1]) for d in pool.debits])
        pool.promise(p for p in promised.promises if p.case_id != but)
        pool.read |= promised.read
    return pool
