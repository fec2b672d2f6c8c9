"""Member reads are computed once per (chain head, index position) and never outlive either."""

import json

from fixtures.union import pay, post
from relayer.reads import MemberReads


def claimable(reads, member):
    return int(json.loads(reads.summary_json(member.address))["claimable"]["units"])


class CountingChain:
    """The real chain client, counting member reads."""

    def __init__(self, chain):
        self._chain = chain
        self.reads = 0

    def member_state(self, member, block, leaf=None):
        self.reads += 1
        return self._chain.member_state(member, block, leaf)

    def __getattr__(self, name):
        return getattr(self._chain, name)


def test_repeated_reads_in_one_block_hit_the_chain_once(
    context, union, stablecoin, attester, buyer, alice
):
    post(union, attester, 1, {alice: 10})
    pay(stablecoin, union, buyer, 1_000_000)
    chain = CountingChain(context.chain)
    reads = MemberReads(context.db, chain, max_age=0)
    first = reads.summary_json(alice.address)
    assert reads.summary_json(alice.address) is first
    assert chain.reads == 1
    assert json.loads(first)["claimable"]["units"] == str(union.claimable(alice))


def test_a_new_block_gives_a_fresh_read(context, union, stablecoin, attester, buyer, alice):
    post(union, attester, 1, {alice: 10})
    chain = CountingChain(context.chain)
    reads = MemberReads(context.db, chain, max_age=0)
    before = claimable(reads, alice)
    pay(stablecoin, union, buyer, 1_000_000)
    after = claimable(reads, alice)
    assert chain.reads == 2
    assert after - before == union.claimable(alice)


def test_head_is_reread_only_after_max_age(context, union, stablecoin, attester, buyer, alice):
    post(union, attester, 1, {alice: 10})
    reads = MemberReads(context.db, context.chain, max_age=3600)
    before = reads.summary_json(alice.address)
    assert reads.peek(alice.address) is before
    pay(stablecoin, union, buyer, 1_000_000)
    assert reads.summary_json(alice.address) is before  # within max_age: the cached position
    reads.max_age = 0
    assert reads.peek(alice.address) is None
    assert claimable(reads, alice) == union.claimable(alice)
