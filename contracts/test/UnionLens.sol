// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IDataUnion} from "../interfaces/IDataUnion.sol";

/// @notice Test helper: everything the invariant checks read from a union, in one call.
contract UnionLens {
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
        bool posting;
        uint256[] claimable;
        uint256[] shares;
        uint256[] feesOwed;
    }

    function read(IDataUnion union, address[] calldata accounts, address[] calldata feeRecipients)
        external
        view
        returns (State memory state)
    {
        state.balance = union.token().balanceOf(address(union));
        state.totalDeposited = union.totalDeposited();
        state.totalClaimed = union.totalClaimed();
        state.totalFeesWithdrawn = union.totalFeesWithdrawn();
        state.undistributed = union.undistributed();
        state.totalShares = union.totalShares();
        state.feeBps = union.feeBps();
        state.feeRecipient = union.feeRecipient();
        state.paused = union.paused();
        state.posting = union.attributionInProgress();
        state.claimable = new uint256[](accounts.length);
        state.shares = new uint256[](accounts.length);
        for (uint256 i; i < accounts.length; ++i) {
            state.claimable[i] = union.claimable(accounts[i]);
            state.shares[i] = union.sharesOf(accounts[i]);
        }
        state.feesOwed = new uint256[](feeRecipients.length);
        for (uint256 i; i < feeRecipients.length; ++i) {
            state.feesOwed[i] = union.feesOwed(feeRecipients[i]);
        }
    }
}
