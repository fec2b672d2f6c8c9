// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IUnionCore} from "./IUnionCore.sol";

/// @title IDataUnion
/// @notice A data union's on-chain treasury. Buyers pay license fees in one ERC-20 stablecoin; an
/// attester (the union's relayer) posts each member's share of the union per epoch; members claim
/// what their shares earned whenever they like, directly or through a signed message.
/// @dev Revenue is split with a reward-per-share accumulator, so deposits and claims cost the same
/// whatever the number of members. Earnings are settled before any share change, so a new
/// attribution never touches money a member has already earned. Claims and `leave` keep working
/// while the union is paused; nothing any role can call moves earned member money.
/// An epoch's shares take effect only after `ATTRIBUTION_DELAY` has passed since its last batch,
/// during which a guardian can veto it; changes of the attester and guardian roles wait out the
/// same delay, and a guardian can cancel them. So no single key, the admin's included, can put a
/// share table into force without a window in which an honest guardian can stop it.
/// `eip712Domain()` (ERC-5267) and `CLAIM_TYPEHASH` give everything needed to sign a `Claim`.
interface IDataUnion is IUnionCore {
    /// @notice A batch of an epoch's attribution was posted.
    /// @param epoch The attribution epoch the batch belongs to.
    /// @param reportHash keccak256 of the epoch's canonical attribution report.
    /// @param members How many members the batch set.
    /// @param totalShares The union's total shares after the batch.
    event AttributionPosted(uint64 indexed epoch, bytes32 indexed reportHash, uint256 members, uint256 totalShares);

    /// @notice A member's shares were set by an attestation (or to 0 by `leave`).
    event SharesSet(address indexed member, uint64 indexed epoch, uint256 shares);

    /// @notice Another batch of the current epoch carried a different report hash.
    error DataUnionReportHashMismatch(uint64 epoch, bytes32 expected, bytes32 given);

    /// @notice The member and share arrays have different lengths.
    error DataUnionLengthMismatch(uint256 members, uint256 shares);

    /// @notice A batch was empty or larger than `MAX_BATCH_SIZE`.
    error DataUnionInvalidBatchSize(uint256 size, uint256 maxSize);

    /// @notice A member's shares exceed `MAX_SHARES`.
    error DataUnionSharesTooLarge(address member, uint256 shares, uint256 maxShares);

    /// @notice Sets the absolute shares of `members` for `epoch` (attester only, not while paused).
    /// @dev Earnings are settled before shares change, so setting the same batch twice is
    /// harmless. A new epoch must be exactly `currentEpoch + 1` and may start only once the
    /// current one is finished or vetoed; the current pending epoch takes more batches, each
    /// carrying the same `reportHash`. Every batch makes the epoch due `ATTRIBUTION_DELAY` from
    /// now (`AttributionPending`). From the epoch's first batch until it is finished, revenue is
    /// held and then split by the new shares; after a veto it stays held for the next epoch.
    /// Shares a vetoed epoch set stay on-chain without earning: the next epoch must set every
    /// address the vetoed one set (its `SharesSet` events) to its true value, and a watcher checks
    /// that it did (the on-chain total equals the report's) before it is due. At most
    /// `MAX_BATCH_SIZE` members per call.
    /// @param epoch The attribution epoch.
    /// @param reportHash keccak256 of the epoch's canonical report, published off-chain.
    /// @param members The members to set.
    /// @param shares Their new shares, each at most `MAX_SHARES`; 0 removes a member.
    function postAttribution(uint64 epoch, bytes32 reportHash, address[] calldata members, uint256[] calldata shares)
        external;

    /// @notice What `member` has earned and not claimed yet.
    function claimable(address member) external view returns (uint256);

    /// @notice Pays the caller's earnings to `to`. Works while paused.
    /// @param amount The amount to claim; `type(uint256).max` claims everything.
    /// @return claimed The amount paid.
    function claim(address to, uint256 amount) external returns (uint256 claimed);

    /// @notice Pays `member`'s earnings to `to` on the strength of the member's EIP-712 signature
    /// of `Claim(address member,address to,uint256 amount,uint256 nonce,uint256 deadline)`.
    /// @dev Anyone may submit it (e.g. a relayer paying the gas). Each signature carries the
    /// member's next nonce and is bound to this contract and chain. Accepts ERC-1271 signatures
    /// of contract wallets. Works while paused.
    /// @return claimed The amount paid.
    function claimWithSig(address member, address to, uint256 amount, uint256 deadline, bytes calldata signature)
        external
        returns (uint256 claimed);

    /// @notice Gives up the caller's shares; what they earned stays claimable. Works while paused.
    /// @dev On-chain, shares are whatever the attester sets: the relayer honours `MemberLeft` by
    /// not attributing to the member again.
    function leave() external;

    /// @notice `member`'s current shares.
    function sharesOf(address member) external view returns (uint256);
}
