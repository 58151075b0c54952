"""Property (issue 28), over the real use-cases on the in-memory ports: whatever an attacker writes into the
tables (insert, change or delete any item of the refund book, the approvals, the stored ledger), between any
steps of normal work (files, approvals, escalations), every row of every AP file pays a payee and amount a
person approved on the approval page, and `audit verify` names every change it can see.

The attacker holds no key: they write items as the tables keep them, nothing more. What the product does not
see yet (a deleted ledger row or refund instruction, docs/security.md) is written but not asked of verify.
"""

from __future__ import annotations

import csv
import io
import itertools

from creditrefunds.domain.approvals import LinkState, Outcome, link_key
from creditrefunds.domain.ledger import parse_row
from creditrefunds.domain.status import Status
from creditrefunds.usecases import audit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.memory.cloud import MemoryCloud

ACCOUNTS = ("B1", "B2", "B3")


class Siege:
    def __init__(self) -> None:
        self.mem = MemoryCloud()
        self.ids = (f"S{n:04d}" for n in itertools.count(1))
        self.approved: set[tuple[str, str]] = set()  # (payee, amount) a person approved on the page
        self.changed: set[str] = set()  # instructions and links changed or planted, still there: verify names them
        self.forged_accounts: set[str] = set()  # ledger rows forged (verify reads the accounts of cases)

    def file(self, account: str, paid: int, charge: int) -> None:
        day = self.mem.now.date().isoformat()
        self.mem.drop([f"{next(self.ids)},{account},P-{account},G-{account},CHARGE,{charge}.00,{day},,,,,,,TX",
                       f"{next(self.ids)},{account},P-{account},G-{account},PAYMENT,-{paid}.00,{day},PATIENT,,,,,,TX"])

    def approve(self, pick: int) -> None:
        links = sorted({link for tier in self.mem.config.directory.values() for address in tier
                        for link in self.mem.links(address)})
        shown = [link for link in links if self.mem.show(link).status == 200]
        if not shown:
            return
        link = shown[pick % len(shown)]
        snapshot = self.mem.approvals.items[link_key(link.rsplit("/", 1)[-1])]["snapshot"]  # what the page showed
        if self.mem.decide(link).status == 200:
            self.approved |= {(li["payee_id"], li["amount"]) for li in snapshot["lines"]
                              if li["action"] in ("REFUND", "OFFSET")}

    def escalate(self, pick: int) -> None:
        waiting = sorted(c for c in self.mem.cases.ids() if self.mem.workflows.waiting(c))
        if waiting:
            self.mem.time_out(waiting[pick % len(waiting)])

    def attack(self, kind: str, pick: int) -> None:
        book, approvals, ledger = self.mem.refund_book.items, self.mem.approvals.items, self.mem.transactions
        if kind == "plant":  # an instruction at the key the issue step will use for some case
            case_ids = sorted(self.mem.cases.ids())
            if case_ids:
                case_id = case_ids[pick % len(case_ids)]
                book[f"{case_id}#0"] = {"instruction_id": f"{case_id}#0", "issued_on": "2026-11-20",
                                        "case_id": case_id, "account_id": "B1", "payee_type": "PATIENT",
                                        "payee_id": "ATTACKER", "amount": "777.00", "method": "check", "reason": "",
                                        "claim_id": "", "target_account_id": "", "due_date": "", "line": 0,
                                        "action": "REFUND", "ledger_at_issue": []}
                self.changed.add(f"{case_id}#0")
        elif kind in ("change", "delete", "return") and book:
            key = sorted(book)[pick % len(book)]
            if kind == "delete":
                del book[key]
                self.changed.discard(key)  # a deleted instruction is not seen (docs/security.md)
            else:
                book[key].update(payee_id="ATTACKER", amount="999.00") if kind == "change" else \
                    book[key].update(returned_by="FAKE", returned_on="2026-11-21")
                self.changed.add(key)
        elif kind == "flip" and approvals:
            key = sorted(approvals)[pick % len(approvals)]
            if approvals[key].get("decision") != Outcome.APPROVED:
                approvals[key].update(decision=Outcome.APPROVED, state=LinkState.USED)
                self.changed.add(key)
        elif kind == "forge" and approvals:
            real = approvals[sorted(approvals)[pick % len(approvals)]]
            key = "e" * 63 + str(pick % 10)
            approvals[key] = {**real, "approval_key": key, "approver": "deputy@example.org",
                              "state": LinkState.USED, "decision": Outcome.APPROVED}
            self.changed.add(key)
        elif kind == "ledger":
            account = ACCOUNTS[pick % len(ACCOUNTS)]
            ledger.rows.setdefault(account, {})[f"X{pick}"] = parse_row(
                {"txn_id": f"X{pick}", "account_id": account, "patient_id": f"P-{account}", "guarantor_id": "ATTACKER",
                 "txn_type": "PAYMENT", "amount": "-5000.00", "posting_date": "2026-11-10", "payer_type": "PATIENT"},
                id_max_length=None)
            self.forged_accounts.add(account)

    def check(self) -> None:
        paid = {(r["payee_id"], r["amount"]) for _, _, text in self.mem.bucket.ap_files()
                for r in _rows(text)}
        assert paid <= self.approved, (paid - self.approved, self.approved)
        found = audit.verify_all(self.mem.cases, self.mem.history, self.mem.trusted.refund_book, self.mem.seals,
                                 ledger=self.mem.trusted.transactions, bucket=self.mem.bucket,
                                 approvals=self.mem.trusted.approvals)
        with_case = {s.case.account_id for s in self.mem.cases.in_status(tuple(Status))}
        cases = set(self.mem.cases.ids())  # verify reads the instructions and links of every stored case
        named = {k for k in self.changed if k.split("#")[0] in cases
                 or self.mem.approvals.items.get(k, {}).get("case_id") in cases}
        if named or self.forged_accounts & with_case:
            assert not found.whole, found


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


STEPS = st.lists(st.one_of(
    st.tuples(st.just("file"), st.sampled_from(ACCOUNTS), st.integers(1, 30), st.integers(0, 20)),
    st.tuples(st.just("approve"), st.integers(0, 9)),
    st.tuples(st.just("approve"), st.integers(0, 9)),
    st.tuples(st.just("escalate"), st.integers(0, 9)),
    st.tuples(st.just("attack"), st.sampled_from(["plant", "change", "delete", "return", "flip", "forge", "ledger"]),
              st.integers(0, 9)),
), min_size=3, max_size=14)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(STEPS)
def test_no_write_to_the_tables_pays_what_no_person_approved(steps):
    siege = Siege()
    for step in steps:
        kind, *args = step
        if kind == "file":
            account, paid, charge = args
            siege.file(account, paid * 10, charge * 10)
        elif kind == "attack":
            siege.attack(*args)
        else:
            getattr(siege, kind)(*args)
    siege.check()
