// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice Test token that, like USDC, refuses transfers to blocklisted addresses.
contract MockBlocklistToken is ERC20 {
    error Blocklisted(address account);

    mapping(address account => bool) public isBlocklisted;

    constructor() ERC20("Blocklist USD", "blUSD") {}

    function decimals() public pure override returns (uint8) {
        return 6;
    }

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function setBlocklisted(address account, bool blocked) external {
        isBlocklisted[account] = blocked;
    }

    function _update(address from, address to, uint256 value) internal override {
        if (isBlocklisted[to]) revert Blocklisted(to);
        super._update(from, to, value);
    }
}
