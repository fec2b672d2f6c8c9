// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IUnionCore} from "./IUnionCore.sol";

/// @title IDataUnionRoots
/// @notice A data union for any number of members: the attester posts one Merkle root per epoch,
/// so an epoch costs the same for ten members or ten million, while revenue is still claimable
/// the moment it arrives.
/// @dev Revenue advances a reward-per-share accumulator, as in `IDataUnion`; the contract records
/// the accumulator's value when each root takes effect (`epochStart`). A root commits, per member,
/// a `Leaf`: the member's shares in this epoch and in the epoch in force before it, and an
/// `offset` that carries their exact earnings up to the start of that previous epoch. At
/// accumulator value `R`, in scaled units of 2^-64 token units, a member has earned
/// `offset + (previousShares - shares) * epochStart + shares * R`
/// (= earned before the previous epoch + previousShares * the previous epoch's advance + shares *
/// the advance since this one took effect), and may claim that, in whole units, less what they
/// claimed before. Every term is exact: the only rounding is the accumulator's, as in
/// `IDataUnion`, and at most one unit per member that the floor to whole units leaves behind.
/// A root waits out `ATTRIBUTION_DELAY` and can be vetoed like any epoch; meanwhile the root in
/// force keeps splitting revenue, so nothing is ever held back once a first root is in force.
/// Leaves are `keccak256(bytes.concat(keccak256(abi.encode(uint64 epoch, address member,
/// int256 offset, uint64 previousShares, uint64 shares))))`; inner nodes hash their two children
/// in sorted order (OpenZeppelin `MerkleProof`). The epoch's report lists every leaf, so anyone
/// can rebuild the tree and every proof without the relayer.
interface IDataUnionRoots is IUnionCore {
    /// @notice What a root commits for one member.
    /// @param offset Earned (scaled) before the previous epoch, less `previousShares` times the
    /// accumulator value at which the previous epoch took effect (0 for a member new to the root).
    /// @param previousShares The member's shares in the epoch in force before this one.
    /// @param shares The member's shares in this epoch.
    struct Leaf {
        int256 offset;
        uint64 previousShares;
        uint64 shares;
    }

    // ---------------------------------------------------------------------------------------------
    // Events
    // ---------------------------------------------------------------------------------------------

    /// @notice An epoch's root was posted; it can take effect from the `AttributionPending` event's
    /// `dueAt` on, unless a guardian vetoes it first.
    /// @param members How many leaves the tree has (for watchers; not used on-chain).
    /// @param totalShares The sum of every leaf's `shares`: what revenue is split by.
    event RootPosted(
        uint64 indexed epoch, bytes32 indexed root, bytes32 reportHash, uint256 members, uint256 totalShares
    );

    /// @notice A root took effect at accumulator value `epochStart`: leaves of `epoch` count from it.
    event RootActivated(uint64 indexed epoch, bytes32 indexed root, uint256 epochStart);

    // ---------------------------------------------------------------------------------------------
    // Errors
    // ---------------------------------------------------------------------------------------------

    /// @notice A root of zero.
    error DataUnionInvalidRoot();

    /// @notice The leaf and proof do not belong to the root in question for this member.
    error DataUnionInvalidProof(address member, uint64 epoch);

    /// @notice `leave` by a member who already left.
    error DataUnionAlreadyLeft(address member);

    // ---------------------------------------------------------------------------------------------
    // Attribution
    // ---------------------------------------------------------------------------------------------

    /// @notice Posts `epoch`'s root (attester only, not while paused). The epoch must be exactly
    /// `currentEpoch + 1`, after a finished or vetoed one; it becomes due `ATTRIBUTION_DELAY` from
    /// now. `finishAttribution` puts it into force; until then the previous root splits revenue.
    /// @param root The Merkle root of the epoch's leaves.
    /// @param reportHash keccak256 of the epoch's canonical report, which lists every leaf.
    /// @param totalShares The sum of the leaves' `shares`, at most `MAX_TOTAL_SHARES`. Watchers
    /// check it against the report: a total below the sum would pay out more than arrives.
    /// @param members The number of leaves (informational).
    function postRoot(uint64 epoch, bytes32 root, bytes32 reportHash, uint256 totalShares, uint256 members)
        external;

    // ---------------------------------------------------------------------------------------------
    // Members
    // ---------------------------------------------------------------------------------------------

    /// @notice What `member` can claim now, given their leaf of the root in force and its proof
    /// (ignored for a member who left). Reverts with `DataUnionInvalidProof` for a wrong leaf.
    function claimable(address member, Leaf calldata leaf, bytes32[] calldata proof)
        external
        view
        returns (uint256);

    /// @notice Pays the caller's earnings to `to`, proven by their leaf of the root in force. Works
    /// while paused. A member's first claim under a root remembers the leaf, so later claims under
    /// the same root may pass an empty proof.
    /// @param amount The amount to claim; `type(uint256).max` claims everything.
    /// @return claimed The amount paid.
    function claim(address to, uint256 amount, Leaf calldata leaf, bytes32[] calldata proof)
        external
        returns (uint256 claimed);

    /// @notice `claim` on the strength of the member's EIP-712 `Claim` signature, as in
    /// `IDataUnion.claimWithSig`; the leaf needs no signature, since only the member's true leaf
    /// passes the proof.
    function claimWithSig(
        address member,
        address to,
        uint256 amount,
        uint256 deadline,
        Leaf calldata leaf,
        bytes32[] calldata proof,
        bytes calldata signature
    ) external returns (uint256 claimed);

    /// @notice Leaves the union for good: the caller's earnings stop growing from this block and
    /// stay claimable; their shares leave the total at once, so the rest of the epoch's revenue
    /// goes to the other members. Works while paused. An address that left is never paid by a
    /// later root (a member who comes back does so with a new address).
    /// @param leaf The caller's leaf of the root in force, with `proof`.
    /// @param pendingLeaf The caller's leaf of the pending root with `pendingProof`, when one is
    /// pending (its shares leave the pending total too); ignored otherwise.
    function leave(
        Leaf calldata leaf,
        bytes32[] calldata proof,
        Leaf calldata pendingLeaf,
        bytes32[] calldata pendingProof
    ) external;

    // ---------------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------------

    /// @notice The root in force and the epoch it belongs to (both 0 before the first).
    /// @return epoch The epoch whose leaves claims prove.
    /// @return root Its Merkle root.
    /// @return epochStart The accumulator value at which it took effect.
    function activeRoot() external view returns (uint64 epoch, bytes32 root, uint256 epochStart);

    /// @notice The pending root and its total shares (0 when none is pending).
    function pendingRoot() external view returns (bytes32 root, uint256 totalShares);

    /// @notice The reward-per-share accumulator, in scaled units per share.
    function rewardPerShare() external view returns (uint256);

    /// @notice Everything `member` has claimed.
    function claimedBy(address member) external view returns (uint256);

    /// @notice Whether `member` left the union.
    function hasLeft(address member) external view returns (bool);

    /// @notice The leaf hash of `member`'s `leaf` in `epoch`'s tree.
    function leafHash(uint64 epoch, address member, Leaf calldata leaf) external pure returns (bytes32);
}
