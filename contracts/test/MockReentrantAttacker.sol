// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IDataUnion} from "../interfaces/IDataUnion.sol";
import {MockHookToken} from "./MockHookToken.sol";

/// @notice Test attacker: a buyer, member or fee recipient contract that, from inside a pool-token
/// transfer hook, calls back into the union once with calldata set in advance. It catches the
/// outcome instead of reverting, so the outer call goes on and the test can read what happened.
contract MockReentrantAttacker {
    IDataUnion public immutable UNION;
    MockHookToken public immutable TOKEN;

    bytes public reentry;
    bool public reentered;
    bool public reentrySucceeded;
    bytes public reentryResult;

    constructor(IDataUnion union, MockHookToken token) {
        UNION = union;
        TOKEN = token;
        token.registerHook();
    }

    function arm(bytes calldata data) external {
        reentry = data;
        reentered = false;
    }

    function approveUnion(uint256 amount) external {
        TOKEN.approve(address(UNION), amount);
    }

    function deposit(uint256 amount, bytes32 licenseId) external returns (uint256) {
        return UNION.deposit(amount, licenseId);
    }

    function claim(address to, uint256 amount) external returns (uint256) {
        return UNION.claim(to, amount);
    }

    function withdrawFees(address to) external {
        UNION.withdrawFees(to);
    }

    function onTokenTransfer(address, address, uint256) external {
        if (msg.sender != address(TOKEN) || reentered || reentry.length == 0) return;
        reentered = true;
        (reentrySucceeded, reentryResult) = address(UNION).call(reentry);
    }
}
