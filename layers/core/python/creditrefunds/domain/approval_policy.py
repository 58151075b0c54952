"""Who may decide a refund, and when approvals cover one (DOMAIN.md section 6).

- Tiers by the refund total; an approver of a higher tier may approve a lower one.
- Dual control: from `dual_control_tier` (a setting) two different approvers must approve the
  same lines. The same person twice, or one who already decided the case at another tier, is
  refused.
- Segregation of duties: whoever the history shows preparing, reviewing, noting, taking, working or
  retrying the case is refused.
- Who decides is the one signed-in person the link was sent to (the pool's user id), an approver of
  the link's tier or above.
- Money moves only when used, approving links of a sufficient tier cover the case's digest.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from creditrefunds.domain.approvals import Approval, Outcome, Snapshot, can_investigate
from creditrefunds.domain.identity import Person

BUTTONS = {"approve": Outcome.APPROVED, "reject": Outcome.REJECTED, "investigate": Outcome.INVESTIGATE}
PREPARER_ACTIONS = ("PREPARED", "REVIEWED", "RECHECKED", "NOTED", "RETRIED", "ASSIGNED", "WORKED")  # a person's


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    reason: str


def read_decision(form: dict[str, str], snapshot: Snapshot) -> Decision:
    """The approver's choice from the page's form, or ValueError with what to fix (shown on the page)."""
    outcome = BUTTONS.get(form.get("decision", "").strip())
    reason = form.get("reason", "").strip()[:1000]
    if outcome is None:
        raise ValueError("Choose Approve, Reject or Investigate.")
    if outcome is Outcome.REJECTED and not reason:
        raise ValueError("A rejection needs a reason: say why, then press Reject again.")
    if outcome is Outcome.INVESTIGATE and not can_investigate(snapshot.lines):
        raise ValueError("Only Medicare and Medicaid refunds can be investigated.")
    return Decision(outcome, reason)


def approvers_needed(tier: int, dual_control_tier: int) -> int:
    return 2 if tier >= dual_control_tier else 1


def _is(link: Approval, person: Person | Approval) -> bool:
    """Whether `link` was sent to `person` (or to whom another link was sent). Counting people, either sign is
    enough: the same user id, or the same address (a link from before sign-in names only its address)."""
    other_id, other_address = ((person.approver_id, person.approver) if isinstance(person, Approval)
                               else (person.user_id, person.email))
    return bool(link.approver_id and link.approver_id == other_id) or \
        bool(other_address and link.approver.lower() == other_address.lower())


def refusal(link: Approval, person: Person, others: Iterable[Approval], history: Iterable[dict[str, Any]],
            dual_control_tier: int) -> str | None:
    """Why `person`, signed in, may not decide `link`, or None. `others` are the case's other links,
    `history` its records."""
    if not link.approver_id or person.user_id != link.approver_id:
        return "this approval was sent to another person: only they can decide it"
    if person.approver_tier() < link.tier:
        return f"you are not a tier-{link.tier} approver in the user directory"
    if person.actor in {r["actor"] for r in history if r["action"] in PREPARER_ACTIONS}:
        return "you prepared, reviewed, noted or retried this case (segregation of duties)"
    needs = link.snapshot.tier if link.snapshot is not None else link.tier  # the tier the refund total needs
    if approvers_needed(needs, dual_control_tier) < 2:
        return None
    decided = [a for a in others if a.approval_key != link.approval_key and _is(a, person) and a.decided]
    if any(a.decision is Outcome.APPROVED and a.digest == link.digest for a in decided):
        return "you already approved these lines, and a second approver must approve them too (dual control)"
    earlier = sorted({a.tier for a in decided if a.tier != link.tier})
    if earlier:
        return (f"you already decided this case at tier {earlier[0]}, and a tier-{needs} refund needs two "
                "approvers who have not (dual control)")
    return None


def covering(approvals: Iterable[Approval], digest: str, tier: int) -> list[Approval]:
    """The links that approved exactly these lines, each at `tier` or above."""
    return [a for a in approvals if a.approved and a.digest == digest and a.tier >= tier]


def covered(approvals: Iterable[Approval], digest: str, tier: int, dual_control_tier: int) -> bool:
    """Money may move: enough different people approved exactly these lines at a sufficient tier (two approvals
    are two people only when neither their user ids nor their addresses are the same)."""
    found = covering(approvals, digest, tier)
    if approvers_needed(tier, dual_control_tier) < 2:
        return bool(found)
    return any(not _is(a, b) for a, b in combinations(found, 2))


def pick_approver(tier: int, needs: int, directory: dict[int, list[Person]], digest: str, decided: Iterable[Approval],
                  dual_control_tier: int) -> Person:
    """Who is asked at `tier` (the refund total needs tier `needs`): the first of the tier's approvers
    (then the higher tiers') who has not approved these lines already and, under dual control, has not
    decided the case at another tier; one person is one user of the pool, however their address is
    written. When no one is left, one who may be refused (the page then says why, the history records
    it, and the wait escalates)."""
    decided = [a for a in decided if a.decided]
    candidates: list[Person] = []
    for person in (p for level in sorted(directory) if level >= tier for p in directory[level]):
        if all(person.user_id != c.user_id for c in candidates):  # one person once, however often listed
            candidates.append(person)
    if not candidates:
        raise KeyError(f"no approver for tier {tier}: add a user of the pool's group approver-tier-{tier} whose "
                       f"address is in ApproverTier{tier}Email")
    approved = [a for a in decided if a.decision is Outcome.APPROVED and a.digest == digest]
    other_tier = [a for a in decided if a.tier != tier] if approvers_needed(needs, dual_control_tier) > 1 else []
    not_twice = [p for p in candidates if not any(_is(a, p) for a in approved)]
    eligible = [p for p in not_twice if not any(_is(a, p) for a in other_tier)]
    return (eligible or not_twice or candidates)[0]
