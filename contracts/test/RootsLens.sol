// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IDataUnionRoots} from "../interfaces/IDataUnionRoots.sol";

/// @notice Test helper: everything the root-mode invariant checks read from a union, in one call.
/// A leaf the union refuses reads as `type(uint256).max` claimable, so one bad leaf does not hide
/// the rest of the state.
contract RootsLens {
    struct State {
        uint256 balance;
        uint256 totalDeposited;
        uint256 totalClaimed;
        uint256 totalFeesWithdrawn;
        uint256 undistributed;
        uint256 totalShares;
        uint256 feeBps;
        address feeRecipient;
        bool paused;
        uint256 pendingTotal;
        uint256[] claimable;
        uint256[] claimed;
        bool[] left;
        uint256[] feesOwed;
    }

    function read(
        IDataUnionRoots union,
        address[] calldata accounts,
        IDataUnionRoots.Leaf[] calldata leaves,
        bytes32[][] calldata proofs,
        address[] calldata feeRecipients
    ) external view returns (State memory state) {
        state.balance = union.token().balanceOf(address(union));
        state.totalDeposited = union.totalDeposited();
        state.totalClaimed = union.totalClaimed();
        state.totalFeesWithdrawn = union.totalFeesWithdrawn();
        state.undistributed = union.undistributed();
        state.totalShares = union.totalShares();
        state.feeBps = union.feeBps();
        state.feeRecipient = union.feeRecipient();
        state.paused = union.paused();
        (, state.pendingTotal) = union.pendingRoot();
        state.claimable = new uint256[](accounts.length);
        state.claimed = new uint256[](accounts.length);
        state.left = new bool[](accounts.length);
        for (uint256 i; i < accounts.length; ++i) {
            try union.claimable(accounts[i], leaves[i], proofs[i]) returns (uint256 amount) {
                state.claimable[i] = amount;
            } catch {
                state.claimable[i] = type(uint256).max;
            }
            state.claimed[i] = union.claimedBy(accounts[i]);
            state.left[i] = union.hasLeft(accounts[i]);
        }
        state.feesOwed = new uint256[](feeRecipients.length);
        for (uint256 i; i < feeRecipients.length; ++i) {
            state.feesOwed[i] = union.feesOwed(feeRecipients[i]);
        }
    }
}
