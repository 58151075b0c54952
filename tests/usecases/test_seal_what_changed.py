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


def test_a_case_deleted_or_cut_short_after_its_seal_is_refused_though_it_never_moves_again(mem: MemoryCloud):
    """A writer of the tables deletes one sealed case whole (item and records) and cuts another's chain back,
    removing what points at its seal: neither moves again, so neither is among what changed. The next seal's
    rolling re-check of earlier seals' heads refuses both, signs why, and operators are told once."""
    for account in ACCOUNTS[:4]:
        credit(mem, account)
    mem.tick(hours=1)
    first = seal_history(mem.ports, mem.now, OPERATORS)
    gone, cut = (mem.case(a)["case_id"] for a in ACCOUNTS[:2])
    del mem.cases.items[gone], mem.history.chains[gone]
    chain = mem.history.chains[cut] = mem.history.chains[cut][:1]
    mem.cases.items[cut].update(history_seq=1, history_hash=chain[0]["hash"])
    mem.cases.items[cut].pop("sealed_in")
    mem.tick(hours=1)
    later = seal_history(mem.ports, mem.now, OPERATORS)
    assert later["cases"] == 0 and sorted(later["refused"]) == sorted([gone, cut])
    why = mem.seals.read(later["key"]).refused
    assert why[gone].startswith("the case is gone: deleted") and f"since seal {first['key']}" in why[cut]
    assert told_operators(mem, "History changed under the seal")
    mails = len(mem.mailer.to(OPERATORS))
    mem.tick(hours=1)
    again = seal_history(mem.ports, mem.now, OPERATORS)
    assert sorted(again["refused"]) == sorted([gone, cut])  # signed again, until a person has looked
    assert len(mem.mailer.to(OPERATORS)) == mails  # told once
    breaks = verified_breaks(mem)
    assert any(gone in b for b in breaks) and any(cut in b for b in breaks)  # and verify names both


def test_the_re_check_walks_earlier_seals_a_bounded_slice_at_a_time(mem: MemoryCloud, monkeypatch):
    """Quiet seals re-check RECHECK_MORE heads each (a seal read counts as one), continuing where the last
    stopped: a case deleted at the far end of the first seal is found when the walk reaches it, and stays
    refused."""
    from creditrefunds.usecases import seal

    monkeypatch.setattr(seal, "RECHECK_MORE", 2)
    for account in ACCOUNTS[:6]:
        credit(mem, account)
    mem.tick(hours=1)
    seal_history(mem.ports, mem.now, OPERATORS)
    last = max(mem.case(a)["case_id"] for a in ACCOUNTS[:6])
    del mem.cases.items[last], mem.history.chains[last]
    found = []
    for _ in range(7):
        mem.tick(hours=1)
        made = seal_history(mem.ports, mem.now, OPERATORS)
        found.append(made["refused"])
        assert mem.seals.read(made["key"]).content["rechecked"] is not None
    assert found == [[]] * 5 + [[last]] * 2  # the seal read and one head a seal: the 6th case in the sixth


def test_a_chain_cut_back_to_an_older_sealed_head_and_pointed_there_is_refused_and_stays_refused(mem: MemoryCloud):
    """Sealed at its third record, then at its fifth; a writer of the tables cuts it back to the third, points its
    item at the older seal and puts it back among what changed every hour: the walk holds it to the newer
    seal's head, the seal refuses it (and does not sign it), and every later seal refuses it too."""
    credit(mem, ACCOUNTS[0])
    case_id = mem.case(ACCOUNTS[0])["case_id"]
    mem.tick(hours=1)
    older = seal_history(mem.ports, mem.now, OPERATORS)
    kept = len(mem.history.chains[case_id])
    [link] = mem.links(TIER1, ACCOUNTS[0])
    assert mem.decide(link).status == 200 and len(mem.history.chains[case_id]) > kept
    mem.tick(hours=1)
    assert case_id in sealed_heads(mem, seal_history(mem.ports, mem.now, OPERATORS)["key"])
    chain = mem.history.chains[case_id] = mem.history.chains[case_id][:kept]
    for hour in range(3):
        mem.cases.items[case_id].update(history_seq=kept, history_hash=chain[-1]["hash"], sealed_in=older["key"],
                                        seal_shard="00")
        mem.tick(hours=1)
        made = seal_history(mem.ports, mem.now, OPERATORS)
        assert made["refused"] == [case_id] and case_id not in sealed_heads(mem, made["key"]), hour
