"""Root-mode gasless claims: the member signs the same EIP-712 Claim as for a push union (the
"DataUnion" domain, at this union's address), and anyone submits it with the member's leaf and
proof."""

import pytest
from brownie import MockERC1271Wallet, chain

from fixtures.accounts import local_account
from fixtures.reverts import reverts_with
from fixtures.union import MAX_UINT, deploy_union, pay, sign_claim

AMOUNT = 1_000_000
NET = 950_000


@pytest.fixture
def funded(roots_union, book, stablecoin, buyer, alice):
    book.post({alice: 1})
    pay(stablecoin, roots_union, buyer, AMOUNT)
    return roots_union


def state(union, token, member, to):
    return (union.claimedBy(member), union.nonces(member), token.balanceOf(to))


def test_signed_claim_pays_the_signed_recipient(funded, book, stablecoin, alice, bob, rando):
    signature, deadline = sign_claim(funded, alice, bob, MAX_UINT)

    tx = funded.claimWithSig(
        alice, bob, MAX_UINT, deadline, *book.claim_args(alice), signature, {"from": rando}
    )

    assert tx.return_value == NET
    assert tx.events["Claimed"] == {"member": alice, "to": bob, "amount": NET}
    assert stablecoin.balanceOf(bob) == NET
    assert funded.nonces(alice) == 1
    assert funded.claimedBy(alice) == NET


def test_signed_claim_from_a_contract_wallet_passes_erc1271(
    roots_union, book, stablecoin, admin, buyer, alice, bob, rando
):
    wallet = MockERC1271Wallet.deploy(alice, {"from": admin})
    book.post({wallet: 1})
    pay(stablecoin, roots_union, buyer, AMOUNT)
    # The wallet's owner key signs for the wallet's address.
    signer = type("Owner", (), {"address": wallet.address, "private_key": alice.private_key})
    signature, deadline = sign_claim(roots_union, signer, bob, 1_000)

    roots_union.claimWithSig(
        wallet, bob, 1_000, deadline, *book.claim_args(wallet), signature, {"from": rando}
    )

    assert stablecoin.balanceOf(bob) == 1_000
    assert roots_union.nonces(wallet) == 1


def test_signed_claim_after_its_deadline_is_refused(funded, book, stablecoin, alice, rando):
    signature, deadline = sign_claim(funded, alice, alice, MAX_UINT, deadline=chain.time() + 60)
    chain.sleep(120)
    before = state(funded, stablecoin, alice, alice)

    with reverts_with("DataUnionSignatureExpired", deadline):
        funded.claimWithSig(
            alice, alice, MAX_UINT, deadline, *book.claim_args(alice), signature, {"from": rando}
        )
    assert state(funded, stablecoin, alice, alice) == before


def test_signed_claim_by_someone_other_than_the_member_is_refused(
    funded, book, stablecoin, alice, rando
):
    mallory = local_account("mallory")
    forged = type("Forged", (), {"address": alice.address, "private_key": mallory.private_key})
    signature, deadline = sign_claim(funded, forged, mallory, MAX_UINT)
    before = state(funded, stablecoin, alice, mallory)

    with reverts_with("DataUnionInvalidSignature", alice):
        funded.claimWithSig(
            alice, mallory, MAX_UINT, deadline, *book.claim_args(alice), signature, {"from": rando}
        )
    assert state(funded, stablecoin, alice, mallory) == before


def test_signed_claim_cannot_be_replayed(funded, book, stablecoin, alice, rando):
    signature, deadline = sign_claim(funded, alice, alice, 1_000)
    args = (alice, alice, 1_000, deadline, *book.claim_args(alice), signature)
    funded.claimWithSig(*args, {"from": rando})
    before = state(funded, stablecoin, alice, alice)

    with reverts_with("DataUnionInvalidSignature", alice):
        funded.claimWithSig(*args, {"from": rando})
    assert state(funded, stablecoin, alice, alice) == before


def test_signature_for_another_union_does_not_claim_from_this_one(
    funded, book, stablecoin, admin, attester, pauser, guardian, fee_recipient, alice, rando
):
    # Both kinds sign in the "DataUnion" domain: the union's address keeps them apart.
    push = deploy_union(stablecoin, admin, attester, pauser, fee_recipient, guardian=guardian)
    signature, deadline = sign_claim(funded, alice, alice, MAX_UINT, verifier=push.address)
    before = state(funded, stablecoin, alice, alice)

    with reverts_with("DataUnionInvalidSignature", alice):
        funded.claimWithSig(
            alice, alice, MAX_UINT, deadline, *book.claim_args(alice), signature, {"from": rando}
        )
    assert state(funded, stablecoin, alice, alice) == before


def test_signed_claim_with_a_wrong_leaf_is_refused_and_keeps_the_nonce(
    funded, book, stablecoin, alice, rando
):
    signature, deadline = sign_claim(funded, alice, alice, MAX_UINT)
    offset, previous, shares = book.leaf(alice)
    before = state(funded, stablecoin, alice, alice)

    with reverts_with("DataUnionInvalidProof", alice, 1):
        funded.claimWithSig(
            alice,
            alice,
            MAX_UINT,
            deadline,
            (offset, previous, shares + 1),
            book.proof(alice),
            signature,
            {"from": rando},
        )
    assert state(funded, stablecoin, alice, alice) == before
    # The signature is still good with the true leaf.
    funded.claimWithSig(
        alice, alice, MAX_UINT, deadline, *book.claim_args(alice), signature, {"from": rando}
    )


def test_signed_claim_works_while_paused(funded, book, pauser, alice, rando):
    funded.pause({"from": pauser})
    signature, deadline = sign_claim(funded, alice, alice, MAX_UINT)
    tx = funded.claimWithSig(
        alice, alice, MAX_UINT, deadline, *book.claim_args(alice), signature, {"from": rando}
    )
    assert tx.return_value == NET
