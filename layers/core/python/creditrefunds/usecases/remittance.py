"""A remittance (X12 835) received: kept as evidence, and the cases of the accounts it names re-checked
(DOMAIN.md section 8). It never changes a balance; it changes what the provider does with one.

- The same interchange twice changes nothing (its digest is recorded last, once all it says is kept); a
  payment or takeback sent again in another file is the same item, kept as it first came.
- A takeback (CLP02 22, PLB WO or 72) of a claim the ledger shows the payer paid turns REFUND lines to
  that payer into CORRECT PAYER_RECOUPED: re-detection applies the evidence, so a case waiting for
  approval is asked again (its old links decide nothing), an approved one is held by the issue step's
  re-check, and the history records the remittance that changed it.
- A takeback that hits a refund already approved or issued tells operators and the compliance officer
  at once, naming each instruction to stop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from creditrefunds.domain.cases import StoredCase
from creditrefunds.domain.evidence import Unmatched, open_takebacks, paid_claims, refunds_payer_of, unmatched
from creditrefunds.domain.history import Entry
from creditrefunds.domain.instructions import Instruction, instruction_id
from creditrefunds.domain.ledger import Dropped
from creditrefunds.domain.mail import takeback_alert
from creditrefunds.domain.money import ZERO, money_text
from creditrefunds.domain.remittance import Evidence, RemittanceFile, Takeback
from creditrefunds.domain.status import Status
from creditrefunds.usecases.detection import Cause, DetectionReport, detect_accounts
from creditrefunds.usecases.ports import Ledger, Ports, Remittances

logger = logging.getLogger(__name__)
ACTOR = "system:remittance"
ALERT = "TAKEBACK_ALERT"
Count = Callable[[str, int], None]


def receive(ports: Ports, found: RemittanceFile, file: Dropped, alert_to: tuple[str, ...], now: datetime,
            count: Count) -> dict[str, Any]:
    """Keep what a read 835 says and act on it, then retire the file from incoming/ (kept as the original);
    a file that breaks the envelope is rejected whole. `alert_to`: operators and the compliance officer,
    told when a takeback hits an approved refund."""
    key = file.key
    name = ports.bucket.incoming_name(key) or key.rsplit("/", 1)[-1]
    if found.rejected is not None:
        reason = "835 rejected: " + "; ".join(str(p) for p in [found.rejected, *found.rejects])
        ports.bucket.reject(key, name, file.upload, reason, file.etag)
        count("RemittancesRejected", 1)
        logger.warning("remittance rejected whole", extra={"key": key, "reason": reason})
        return {"key": key, "rejected": reason}
    if ports.remittances.received(found.digest):
        logger.info("the same interchange again: nothing changes", extra={"key": key})
        ports.bucket.retire(key, name, file.upload, file.etag)
        return {"key": key, "repeat": True}
    takebacks, several = [], []
    for tb in found.takebacks():
        posted_to = [tb.account_id] if tb.account_id else ports.transactions.accounts_of_claim(tb.claim_id)
        if len(posted_to) > 1:  # a claim on several accounts: which one the payer took from is a person's call
            several.append(tb)
        else:
            takebacks.append(replace(tb, account_id=posted_to[0]) if posted_to else tb)
    ports.remittances.keep([*found.claims, *takebacks], held=several, digest=found.digest)
    ports.bucket.save_rejects(name, file.upload, [{**p.to_json(), "rejected": True} for p in found.rejects]
                              + [{**p.to_json(), "rejected": False} for p in found.notes])
    taken_from = {tb.account_id for tb in takebacks if tb.account_id}
    accounts = {c.account_id for c in found.claims} | taken_from
    alerted = sum(_alert_approved(ports, account, alert_to, now) for account in sorted(taken_from))
    report = DetectionReport()
    detect_accounts(ports, accounts, now.date(), now, report, Cause(ACTOR, "REMITTANCE", f"the 835 remittance {name}",
                                                                    ledger=False))
    summary = {"key": key, "claims": len(found.claims), "takebacks": len(takebacks) + len(several),
               "takebacks_of_unknown_claims": sum(1 for tb in takebacks if not tb.account_id),
               "takebacks_of_claims_on_several_accounts": len(several),
               "rejected": len(found.rejects), "notes": len(found.notes), "alerts": alerted,
               "cases_updated": report.updated}
    ports.remittances.mark_received(found.digest, {**summary, "received_at": now.isoformat(), "name": name})
    ports.bucket.retire(key, name, file.upload, file.etag)
    count("RemittanceClaims", len(found.claims))
    count("Takebacks", len(takebacks) + len(several))
    logger.info("remittance received", extra={k: v for k, v in summary.items() if k != "key"} | {"key": key})
    return summary


def _alert_approved(ports: Ports, account_id: str, alert_to: tuple[str, ...], now: datetime) -> int:
    """Every approved or issued refund line a stored takeback hits: operators and the compliance officer are
    told, naming the instructions to stop, and the case's history records it, once per case and takeback
    (a retry or a resend tells nobody twice). Returns how many were told."""
    transactions = ports.transactions.account_transactions(account_id)
    hitting = open_takebacks(ports.remittances.of_account(account_id, paid_claims(transactions)), transactions)
    if not hitting:
        return 0
    told, issued = 0, ports.refund_book.of_account(account_id)
    for stored in ports.cases.of_account(account_id):
        if stored.status not in (Status.APPROVED, Status.REFUND_ISSUED):
            continue
        said = {r.get("evidence") for r in ports.history.records(stored.case.case_id) if r.get("action") == ALERT}
        for tb, amount in hitting:
            if tb.evidence not in said:
                mine = [i for i in issued if i.case_id == stored.case.case_id]
                told += _tell(ports, stored, tb, amount, mine, alert_to, now)
    return told


def _tell(ports: Ports, stored: StoredCase, tb: Takeback, amount: Decimal, sent: list[Instruction],
          alert_to: tuple[str, ...], now: datetime) -> int:
    case = stored.case
    hit = [(index, line) for index, line in enumerate(case.lines) if refunds_payer_of(line, tb)]
    if not hit:
        return 0
    wanted = {instruction_id(case, index) for index, _ in hit}
    issued = [i.instruction_id for i in sent if i.instruction_id in wanted]
    names = issued or sorted(wanted)
    ports.mailer.send(takeback_alert(alert_to, case, tb.payer_id, tb.evidence, names, bool(issued)), now)
    ports.history.append(case, Entry(ACTOR, ALERT, stored.status, stored.status,
                                     f"the payer already took back {money_text(amount)} ({tb.evidence}): stop "
                                     f"instruction {', '.join(names)}; operators and the compliance officer told",
                                     sum((line.amount for _, line in hit), ZERO), evidence=tb.evidence), now)
    return 1


def remittance_report(remittances: Remittances, ledger: Ledger) -> list[Unmatched]:
    """For billing staff: remitted payments the ledger lacks, takebacks it has not posted, remittances of
    accounts it does not know, and takebacks of claims posted to several accounts (a person's call). A
    takeback kept by claim alone is judged on the accounts the ledger now posts that claim to."""
    by_account, by_claim, several = remittances.everything()
    rows: list[Unmatched] = []
    for account_id, evidence in by_account.items():
        rows += unmatched(account_id, evidence, ledger.account_transactions(account_id))
    for takeback in by_claim:
        accounts = ledger.accounts_of_claim(takeback.claim_id)
        alone = Evidence(takebacks=(takeback,))
        rows += unmatched("", alone, []) if not accounts else [
            row for account in accounts for row in unmatched(account, alone, ledger.account_transactions(account))]
    rows += [Unmatched("claim on several accounts", ", ".join(ledger.accounts_of_claim(tb.claim_id)), tb.claim_id,
                       tb.payer_id, tb.amount, tb.evidence) for tb in several]
    return rows
