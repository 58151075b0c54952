"""Property (issue 16): for any sequence of ledger files arriving over days, with approvals and refund
rows coming back in any order, no account is refunded more than the largest credit it held.

The workflow is modelled in a few lines (as the state machine runs its steps); what decides is the
product's own rules: `settle` for each file, `review_case` net of money in flight for every re-check,
the approved lines' digest before issuing, `match_returns` for the rows that come back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from creditrefunds.domain.approvals import case_digest
from creditrefunds.domain.cases import Case
from creditrefunds.domain.detection import build_case, summarize
from creditrefunds.domain.ledger import Transaction
from creditrefunds.domain.refunds import ISSUED_ACTIONS, instruction
from creditrefunds.domain.returns import Instruction, exposure, match_returns, net_of, prior_returns, settle
from creditrefunds.domain.review import Route, review_case
from creditrefunds.domain.settings import Settings
from creditrefunds.domain.status import RESOLVED, Status
from hypothesis import event, given, settings
from hypothesis import strategies as st

from .helpers import row

START = date(2026, 9, 1)
RULES = Settings()
PAYERS = [("PATIENT", "", {}), ("MEDICARE", "MAC", {"coverage_rank": "2"}),
          ("COMMERCIAL", "BCBS", {"coverage_rank": "1"})]


@dataclass
class Held:
    case: Case
    status: Status = Status.OPEN
    asked: str | None = None  # the digest of the lines the approval link shows


@dataclass
class Account:
    ledger: list[Transaction] = field(default_factory=list)
    book: list[Instruction] = field(default_factory=list)
    cases: dict[str, Held] = field(default_factory=dict)
    holder: str | None = None
    day: int = 0

    def today(self) -> date:
        return START + timedelta(days=self.day)

    def summary(self, txns: list[Transaction]):
        return summarize(txns)["A1"]

    def detect(self) -> None:
        """What the detection step does with each file."""
        held = self.cases.get(self.holder or "")
        if held is not None and held.status in RESOLVED:
            held = None
        found = settle(self.holder if held else None, held is not None and held.status is Status.REFUND_ISSUED,
                       self.summary(self.ledger), self.ledger, self.book)
        if held is not None and found.reconciled:
            held.status, held = Status.RECONCILED, None
        if found.claim is None:
            return
        if held is None:
            self.holder = f"C{len(self.cases)}"
            self.cases[self.holder] = Held(build_case(*found.claim, self.today(), RULES, None, self.holder))
        else:
            held.case = build_case(*found.claim, held.case.identified_on, RULES, None, held.case.case_id)

    def review(self, case_id: str) -> None:
        """The workflow's re-check (Review, and again after a decision)."""
        held = self.cases[case_id]
        in_flight = match_returns(self.book, self.ledger).in_flight(but=case_id)
        summary, txns = net_of(self.summary(self.ledger), self.ledger, in_flight)
        found = review_case(held.case, summary, txns, RULES)
        held.case = found.case or held.case
        held.status = found.status
        if found.route is Route.APPROVAL:
            held.asked = case_digest(held.case)

    def approve(self, case_id: str) -> None:
        """An approver approves what the link showed; the case is re-checked, then issued if unchanged."""
        held = self.cases[case_id]
        approved = held.asked
        self.review(case_id)
        if held.status is not Status.AWAITING_APPROVAL or case_digest(held.case) != approved:
            return  # resolved, a work item, or changed: approval is asked again
        prior = prior_returns(self.ledger)
        for index, line in enumerate(held.case.lines):
            if line.action in ISSUED_ACTIONS:
                self.book.append(Instruction.from_row(instruction(held.case, index, line, None, self.today(), prior)))
        held.status = Status.REFUND_ISSUED

    def post_back(self, pick: int) -> None:
        """Accounts payable paid one instruction; the billing system posts its REFUND row."""
        pending = match_returns(self.book, self.ledger).pending
        if pending:
            i = pending[pick % len(pending)]
            payer_id = {"payer_id": i.payee_id} if i.payee_type != "PATIENT" else {}
            self.ledger.append(row("REFUND", f"{i.amount:f}", posted=self.today().isoformat(), account="A1",
                                   payer_type=i.payee_type, **payer_id))
            self.detect()


@st.composite
def files(draw) -> list[dict]:
    rows = []
    for _ in range(draw(st.integers(1, 3))):
        amount = Decimal(draw(st.integers(1, 40))) * 5
        if draw(st.integers(0, 2)) == 0:  # payments twice as often: credits come and go
            rows.append({"type": "CHARGE", "amount": f"{amount:.2f}"})
        else:
            payer, payer_id, extra = draw(st.sampled_from(PAYERS))
            reference = {"reference": f"EFT-{draw(st.integers(1, 3))}"} if payer != "PATIENT" else {}
            rows.append({"type": "PAYMENT", "amount": f"-{amount:.2f}", "payer_type": payer, "payer_id": payer_id,
                         **extra, **reference})
    return rows


STEPS = st.lists(st.one_of(
    st.tuples(st.just("file"), files()),
    st.tuples(st.just("review"), st.integers(0, 5)),
    st.tuples(st.just("approve"), st.integers(0, 5)),
    st.tuples(st.just("approve"), st.integers(0, 5)),
    st.tuples(st.just("post_back"), st.integers(0, 5)),
    st.tuples(st.just("post_back"), st.integers(0, 5)),
    st.tuples(st.just("day"), st.integers(1, 20)),
), min_size=12, max_size=40)


@settings(max_examples=300, deadline=None)
@given(STEPS)
def test_no_account_is_refunded_more_than_the_largest_credit_it_held(steps):
    account = Account()
    for kind, arg in steps:
        if kind == "file":
            for spec in arg:
                fields = {k: v for k, v in spec.items() if k not in ("type", "amount") and v}
                account.ledger.append(row(spec["type"], spec["amount"], posted=account.today().isoformat(),
                                          account="A1", **fields))
            account.detect()
        elif kind == "day":
            account.day += arg
        else:
            waiting = [cid for cid, held in account.cases.items()
                       if held.status in (Status.OPEN, Status.AWAITING_APPROVAL)]
            if kind == "post_back":
                account.post_back(arg)
            elif waiting:
                case_id = waiting[arg % len(waiting)]
                if kind == "review" or account.cases[case_id].status is Status.OPEN:
                    account.review(case_id)  # the workflow asks approval before anyone can give it
                if kind == "approve" and account.cases[case_id].status is Status.AWAITING_APPROVAL:
                    account.approve(case_id)
        found = exposure("A1", account.ledger, account.book)
        assert found.over == 0, (found.why(), account.book, account.cases)
    event(f"instructions={min(len(account.book), 3)} cases={min(len(account.cases), 3)}")
    open_cases = [cid for cid, held in account.cases.items() if held.status not in (*RESOLVED, Status.FAILED)]
    assert len(open_cases) <= 1, open_cases  # one case open per account, whatever the order
