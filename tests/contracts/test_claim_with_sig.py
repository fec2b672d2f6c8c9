"""Gasless claims: the member signs an EIP-712 Claim and anyone submits it. A signature works once,
on one chain, for one union, until its deadline, and only for what it says."""

from brownie import MockERC1271Wallet, chain
from eth_account import Account

from fixtures.reverts import reverts_with
from fixtures.union import MAX_UINT, deploy_union, pay, post, sign_claim

AMOUNT = 1_000_000
NET = 950_000
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def fund(union, stablecoin, attester, buyer, member):
    post(union, attester, 1, {member: 1})
    pay(stablecoin, union, buyer, AMOUNT)


def test_signed_claim_pays_the_signed_recipient(
    union, stablecoin, attester, buyer, alice, bob, rando
):
    fund(union, stablecoin, attester, buyer, alice)
    signature, deadline = sign_claim(union, alice, bob, MAX_UINT)

    tx = union.claimWithSig(alice, bob, MAX_UINT, deadline, signature, {"from": rando})

    assert tx.return_value == NET
    assert tx.events["Claimed"] == {"member": alice, "to": bob, "amount": NET}
    assert stablecoin.balanceOf(bob) == NET
    assert union.nonces(alice) == 1


def test_signed_claim_for_part_of_earnings(union, stablecoin, attester, buyer, alice, rando):
    fund(union, stablecoin, attester, buyer, alice)
    signature, deadline = sign_claim(union, alice, alice, 1_234)

    union.claimWithSig(alice, alice, 1_234, deadline, signature, {"from": rando})

    assert union.claimable(alice) == NET - 1_234


def test_signed_claim_cannot_be_replayed(union, stablecoin, attester, buyer, alice, rando):
    fund(union, stablecoin, attester, buyer, alice)
    signature, deadline = sign_claim(union, alice, alice, 1_000)
    union.claimWithSig(alice, alice, 1_000, deadline, signature, {"from": rando})

    with reverts_with("DataUnionInvalidSignature", alice):
        union.claimWithSig(alice, alice, 1_000, deadline, signature, {"from": rando})
    assert union.claimable(alice) == NET - 1_000


def test_signed_claim_reverts_after_deadline(union, stablecoin, attester, buyer, alice, rando):
    fund(union, stablecoin, attester, buyer, alice)
    signature, deadline = sign_claim(union, alice, alice, MAX_UINT, deadline=chain.time() + 60)
    chain.sleep(120)

    with reverts_with("DataUnionSignatureExpired", deadline):
        union.claimWithSig(alice, alice, MAX_UINT, deadline, signature, {"from": rando})
    assert union.nonces(alice) == 0


def test_signed_claim_for_another_chain_is_rejected(
    union, stablecoin, attester, buyer, alice, rando
):
    fund(union, stablecoin, attester, buyer, alice)
    signature, deadline = sign_claim(union, alice, alice, MAX_UINT, chain_id=chain.id + 1)

    with reverts_with("DataUnionInvalidSignature", alice):
        union.claimWithSig(alice, alice, MAX_UINT, deadline, signature, {"from": rando})


def test_signed_claim_for_another_union_is_rejected(
    union, stablecoin, admin, attester, pauser, fee_recipient, buyer, alice, rando
):
    other = deploy_union(stablecoin, admin, attester, pauser, fee_recipient)
    fund(union, stablecoin, attester, buyer, alice)
    signature, deadline = sign_claim(union, alice, alice, MAX_UINT, verifier=other.address)

    with reverts_with("DataUnionInvalidSignature", alice):
        union.claimWithSig(alice, alice, MAX_UINT, deadline, signature, {"from": rando})


def test_signed_claim_with_a_future_nonce_is_rejected(
    union, stablecoin, attester, buyer, alice, rando
):
    fund(union, stablecoin, attester, buyer, alice)
    signature, deadline = sign_claim(union, alice, alice, MAX_UINT, nonce=1)

    with reverts_with("DataUnionInvalidSignature", alice):
        union.claimWithSig(alice, alice, MAX_UINT, deadline, signature, {"from": rando})


def test_signed_claim_cannot_be_redirected(union, stablecoin, attester, buyer, alice, rando):
    fund(union, stablecoin, attester, buyer, alice)
    signature, deadline = sign_claim(union, alice, alice, MAX_UINT)

    with reverts_with("DataUnionInvalidSignature", alice):
        union.claimWithSig(alice, rando, MAX_UINT, deadline, signature, {"from": rando})


def test_signed_claim_by_someone_else_is_rejected(union, stablecoin, attester, buyer, alice, bob):
    fund(union, stablecoin, attester, buyer, alice)
    signature, deadline = sign_claim(union, bob, bob, MAX_UINT)  # bob signs, names himself

    with reverts_with("DataUnionInvalidSignature", alice):
        union.claimWithSig(alice, bob, MAX_UINT, deadline, signature, {"from": bob})


def test_signed_claim_with_high_s_signature_is_rejected(union, stablecoin, attester, buyer, alice):
    fund(union, stablecoin, attester, buyer, alice)
    signature, deadline = sign_claim(union, alice, alice, MAX_UINT)
    r, s, v = signature[:32], int.from_bytes(signature[32:64], "big"), signature[64]
    malleable = r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])  # 27 <-> 28

    with reverts_with("DataUnionInvalidSignature", alice):
        union.claimWithSig(alice, alice, MAX_UINT, deadline, malleable, {"from": alice})


def test_member_revokes_an_unsubmitted_signature_by_invalidating_its_nonce(
    union, stablecoin, attester, buyer, alice, rando
):
    fund(union, stablecoin, attester, buyer, alice)
    signature, deadline = sign_claim(union, alice, rando, MAX_UINT)

    tx = union.invalidateNonce({"from": alice})

    assert tx.return_value == 0
    assert union.nonces(alice) == 1
    with reverts_with("DataUnionInvalidSignature", alice):
        union.claimWithSig(alice, rando, MAX_UINT, deadline, signature, {"from": rando})


def test_signed_claim_works_while_paused(union, stablecoin, attester, pauser, buyer, alice, rando):
    fund(union, stablecoin, attester, buyer, alice)
    union.pause({"from": pauser})
    signature, deadline = sign_claim(union, alice, alice, MAX_UINT)

    union.claimWithSig(alice, alice, MAX_UINT, deadline, signature, {"from": rando})

    assert stablecoin.balanceOf(alice) == NET


def test_contract_wallet_member_claims_with_erc1271_signature(
    union, stablecoin, admin, attester, buyer, rando
):
    owner = Account.create()
    wallet = MockERC1271Wallet.deploy(owner.address, {"from": admin})
    fund(union, stablecoin, attester, buyer, wallet)
    signer = type("WalletSigner", (), {"address": wallet.address, "private_key": owner.key})
    signature, deadline = sign_claim(union, signer, rando, MAX_UINT)

    union.claimWithSig(wallet, rando, MAX_UINT, deadline, signature, {"from": rando})

    assert stablecoin.balanceOf(rando) == NET
