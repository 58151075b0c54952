"""Issue 32: a seal signs the heads of the cases that changed since the last one, so an hourly seal costs
what changed that hour, not every case ever; `audit verify` still holds every case to every seal."""

from __future__ import annotations

from creditrefunds.domain.history import record_hash
from creditrefunds.usecases import audit
from creditrefunds.usecases.seal import seal_history

from tests.memory.cloud import OPERATORS, MemoryCloud

from .test_insiders import TIER1, credit, told_operators

ACCOUNTS = [f"SW-{n:02d}" for n in range(12)]


def sealed_heads(mem: MemoryCloud, key: str) -> set[str]:
    return set(mem.seals.read(key).heads)


def verified_breaks(mem: MemoryCloud) -> list[str]:
    found = audit.verify_all(mem.cases, mem.history, mem.trusted.refund_book, mem.seals)
    return [str(b) for v in found.cases for b in v.breaks] + found.seal_problems


def test_the_first_seal_signs_every_case_and_the_next_only_those_that_changed(mem: MemoryCloud):
    for account in ACCOUNTS:
        credit(mem, account)
    mem.tick(hours=1)
    first = seal_history(mem.ports, mem.now, OPERATORS)
    everyone = {mem.case(a)["case_id"] for a in ACCOUNTS}
    assert first["cases"] == len(ACCOUNTS) and sealed_heads(mem, first["key"]) == everyone

    mem.tick(hours=1)
    quiet = seal_history(mem.ports, mem.now, OPERATORS)  # a seal looks 20 minutes behind the last one
    assert quiet["cases"] == 0 and sealed_heads(mem, quiet["key"]) == set()

    mem.tick(hours=1)
    for account in ACCOUNTS[:2]:  # two approvals in the hour
        [link] = mem.links(TIER1, account)
        assert mem.decide(link).status == 200
    mem.tick(hours=1)
    second = seal_history(mem.ports, mem.now, OPERATORS)
    decided = {mem.case(a)["case_id"] for a in ACCOUNTS[:2]}
    assert second["cases"] == 2 and sealed_heads(mem, second["key"]) == decided
    heads = {c: mem.history.last(c) for c in decided}
    assert all(mem.seals.read(second["key"]).heads[c] == (int(r["seq"]), r["hash"]) for c, r in heads.items())
    assert verified_breaks(mem) == []  # every case held to the seal that last named it


def test_a_case_rewritten_after_its_seal_is_found_by_verify_though_no_later_seal_names_it(mem: MemoryCloud):
    for account in ACCOUNTS[:3]:
        credit(mem, account)
    mem.tick(hours=1)
    seal_history(mem.ports, mem.now, OPERATORS)
    case_id = mem.case(ACCOUNTS[0])["case_id"]
    chain = mem.history.chains[case_id]  # who opened it, changed and re-hashed, the head moved
    chain[0]["actor"] = "someone.else"
    previous = None
    for record in chain:
        if previous is not None:
            record["prev_hash"] = previous["hash"]
        record["hash"] = record_hash(record)
        previous = record
    mem.cases.items[case_id].update(history_seq=len(chain), history_hash=previous["hash"])
    for hours in (1, 1):
        mem.tick(hours=hours)
        later = seal_history(mem.ports, mem.now, OPERATORS)
        assert case_id not in sealed_heads(mem, later["key"])  # never laundered into a later seal
    assert any(f"case {case_id}: record {len(chain)}: is not the record that was sealed" in b
               for b in verified_breaks(mem))

    mem.tick(hours=1)  # when the case next changes, the seal refuses it and operators hear of it
    [link] = mem.links(TIER1, ACCOUNTS[0])
    mem.decide(link)
    mem.tick(hours=1)
    assert seal_history(mem.ports, mem.now, OPERATORS)["refused"] == [case_id]
    assert told_operators(mem, "History changed under the seal")


def test_a_case_pointed_at_a_seal_that_never_signed_it_is_refused(mem: MemoryCloud):
    for account in ACCOUNTS[:2]:
        credit(mem, account)
    mem.tick(hours=1)
    first = seal_history(mem.ports, mem.now, OPERATORS)
    mem.tick(hours=1)
    [link] = mem.links(TIER1, ACCOUNTS[1])
    mem.decide(link)
    mem.tick(hours=1)
    second = seal_history(mem.ports, mem.now, OPERATORS)
    target, other = (mem.case(a)["case_id"] for a in ACCOUNTS[:2])
    assert sealed_heads(mem, second["key"]) == {other} and first["key"] != second["key"]
    mem.cases.items[target]["sealed_in"] = second["key"]  # a seal that signed another case
    [link] = mem.links(TIER1, ACCOUNTS[0])
    mem.decide(link)
    mem.tick(hours=1)
    refused = seal_history(mem.ports, mem.now, OPERATORS)
    assert refused["refused"] == [target]
    assert any(f"names seal {second['key']}, which does not sign it" in m.text for m in mem.mailer.to(OPERATORS))
