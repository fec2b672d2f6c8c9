// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice Receives the hook of a `MockHookToken` transfer.
interface ITokenHookReceiver {
    function onTokenTransfer(address from, address to, uint256 value) external;
}

/// @notice Test token with ERC-777-style transfer hooks: after every balance change it calls the
/// sender and the receiver back, if they registered. The hook runs after the balances moved, so a
/// re-entered `sync` would already see the incoming tokens - the worst case for the union.
contract MockHookToken is ERC20 {
    mapping(address account => bool) public hasHook;

    constructor() ERC20("Hook USD", "hkUSD") {}

    function decimals() public pure override returns (uint8) {
        return 6;
    }

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function registerHook() external {
        hasHook[msg.sender] = true;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (hasHook[from]) ITokenHookReceiver(from).onTokenTransfer(from, to, value);
        if (to != from && hasHook[to]) ITokenHookReceiver(to).onTokenTransfer(from, to, value);
    }
}
