// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IDataUnionRoots} from "./interfaces/IDataUnionRoots.sol";
import {IUnionCore} from "./interfaces/IUnionCore.sol";
import {UnionCore} from "./UnionCore.sol";

/// @title DataUnionRoots
/// @notice A data union whose epochs are one Merkle root each, whatever the member count, and
/// whose revenue is claimable the moment it arrives: see `IDataUnionRoots` for the arithmetic.
/// @dev The accumulator here never wraps (leaves use its true values): it stays below 2^160
/// because lifetime revenue is below 2^96 token units and every share is at least one, and a
/// distribution that would pass it reverts. Rounding: each distribution rounds the advance up
/// against the dust balance exactly as `DataUnion` does (less than one unit in all ahead of the
/// members, repaid by the next deposit); a member's earnings are exact in scaled units and paid
/// in whole units; what a leaving member's fraction of a unit was goes back to the others.
/// Storage: a first claim under a root reads the accumulator with the claim total (and writes the
/// total), the epoch start with the epoch, and the root, and writes the member's word; a later
/// claim under the same root skips the root and the proof by matching the leaf against the 127-bit tag its first claim
/// left in the member's word (finding another leaf with the same tag takes ~2^127 hashes).
contract DataUnionRoots is IDataUnionRoots, UnionCore {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;
    using SafeCast for int256;

    /// @dev A member's word (`UnionCore._members`):
    /// - bits 0-126, the tag of the last leaf proven (the low 127 bits of its hash); for a member
    ///   who left, bits 0-95 are instead everything they earned, in whole units;
    /// - bit 127, set once the member left;
    /// - bits 128-223, everything claimed;
    /// - bits 224-255, the next signed-claim nonce.
    uint256 private constant _TAG_MASK = (1 << 127) - 1;
    uint256 private constant _LEFT = 1 << 127;
    uint256 private constant _CLAIMED_SHIFT = 128;

    // Deposits write this slot (the accumulator); claims read it and write the claim total.
    uint160 private _rewardPerShare;
    uint96 private _totalClaimed;
    // Claims read this slot, which `finishAttribution` writes: the root in force's epoch and start.
    uint160 private _epochStart;
    uint64 private _activeEpoch;
    // Deposits read the total and write the dust and the deposit total here.
    int96 private _dust;
    uint64 private _totalShares;
    uint96 private _totalDeposited;
    bytes32 private _root;
    // Kept after finishing (a rewrite of a live slot costs 2,900, a fresh one 20,000).
    bytes32 private _pendingRoot;
    uint64 private _pendingTotal;

    /// @param token_ The pool token (a stablecoin); fixed for the life of the union.
    /// @param admin Holds `DEFAULT_ADMIN_ROLE`: grants roles and proposes fee changes.
    /// @param attester Holds `ATTESTER_ROLE`: posts roots.
    /// @param pauser Holds `PAUSER_ROLE`: pauses deposits and roots.
    /// @param guardian Holds `GUARDIAN_ROLE`: vetoes pending roots, cancels role changes.
    /// @param feeRecipient_ Receives the operator fee.
    /// @param feeBps_ The operator fee in basis points, at most `MAX_FEE_BPS`.
    /// @param feeDelay How long fee changes wait, between `MIN_FEE_DELAY` and `MAX_FEE_DELAY`.
    /// @param attributionDelay How long a root, and an attester or guardian change, waits before it
    /// takes effect, between `MIN_ATTRIBUTION_DELAY` and `MAX_ATTRIBUTION_DELAY`.
    constructor(
        IERC20 token_,
        address admin,
        address attester,
        address pauser,
        address guardian,
        address feeRecipient_,
        uint16 feeBps_,
        uint256 feeDelay,
        uint256 attributionDelay
    )
        UnionCore(
            token_,
            [admin, attester, pauser, guardian],
            feeRecipient_,
            feeBps_,
            feeDelay,
            attributionDelay,
            // The push union's name: signed documents (claims, consents) read the same on either
            // kind; the contract's address and chain in the domain keep them apart.
            "DataUnion"
        )
    {}

    // ---------------------------------------------------------------------------------------------
    // Attribution
    // ---------------------------------------------------------------------------------------------

    /// @inheritdoc IDataUnionRoots
    function postRoot(uint64 epoch, bytes32 root, bytes32 reportHash, uint256 totalShares_, uint256 members)
        external
        onlyRole(ATTESTER_ROLE)
        whenNotPaused
    {
        if (root == bytes32(0)) revert DataUnionInvalidRoot();
        if (reportHash == bytes32(0)) revert DataUnionInvalidReportHash();
        if (totalShares_ > MAX_TOTAL_SHARES) revert DataUnionTotalSharesTooLarge(totalShares_, MAX_TOTAL_SHARES);
        if (_attribution == AttributionState.Pending) {
            uint64 current = _currentEpoch;
            if (epoch < current) revert DataUnionStaleEpoch(epoch, current);
            revert DataUnionEpochPending(current, _dueAt);
        }
        uint256 dueAt = _openEpoch(epoch, reportHash);
        _pendingRoot = root;
        _pendingTotal = uint64(totalShares_); // at most MAX_TOTAL_SHARES
        emit RootPosted(epoch, root, reportHash, members, totalShares_);
        emit AttributionPending(epoch, reportHash, dueAt);
    }

    // ---------------------------------------------------------------------------------------------
    // Members
    // ---------------------------------------------------------------------------------------------

    /// @inheritdoc IDataUnionRoots
    function claimable(address member, Leaf calldata leaf, bytes32[] calldata proof)
        external
        view
        returns (uint256)
    {
        uint256 word = _members[member];
        (uint256 earned,) = _proveEarnings(word, member, leaf, proof);
        uint256 claimed = uint96(word >> _CLAIMED_SHIFT);
        return earned > claimed ? earned - claimed : 0;
    }

    /// @inheritdoc IDataUnionRoots
    function claim(address to, uint256 amount, Leaf calldata leaf, bytes32[] calldata proof)
        external
        nonReentrant
        returns (uint256)
    {
        return _claim(msg.sender, to, amount, leaf, proof);
    }

    /// @inheritdoc IDataUnionRoots
    function claimWithSig(
        address member,
        address to,
        uint256 amount,
        uint256 deadline,
        Leaf calldata leaf,
        bytes32[] calldata proof,
        bytes calldata signature
    ) external nonReentrant returns (uint256) {
        _checkClaimSignature(member, to, amount, deadline, signature);
        return _claim(member, to, amount, leaf, proof);
    }

    /// @inheritdoc IDataUnionRoots
    function leave(
        Leaf calldata leaf,
        bytes32[] calldata proof,
        Leaf calldata pendingLeaf,
        bytes32[] calldata pendingProof
    ) external {
        uint256 word = _members[msg.sender];
        if (word & _LEFT != 0) revert DataUnionAlreadyLeft(msg.sender);
        if (_activeEpoch == 0) revert DataUnionNotMember(msg.sender);
        _proveLeaf(word, msg.sender, leaf, proof);
        uint256 earned = _earnedScaled(leaf);
        uint256 units = earned >> _SCALE_BITS;
        // The fraction of a unit the member cannot take goes to the others with the next deposit.
        _dust = (int256(_dust) + int256(earned - (units << _SCALE_BITS))).toInt96();
        _totalShares -= leaf.shares; // part of the total the member's proven leaf added up to
        if (_attribution == AttributionState.Pending) {
            uint64 pending = _currentEpoch;
            if (!MerkleProof.verifyCalldata(pendingProof, _pendingRoot, _leafHash(pending, msg.sender, pendingLeaf))) {
                revert DataUnionInvalidProof(msg.sender, pending);
            }
            _pendingTotal -= pendingLeaf.shares;
        }
        _members[msg.sender] = (word >> _CLAIMED_SHIFT << _CLAIMED_SHIFT) | _LEFT | units.toUint96();
        emit MemberLeft(msg.sender);
    }

    // ---------------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------------

    /// @inheritdoc IUnionCore
    function totalShares() external view returns (uint256) {
        return _totalShares;
    }

    /// @inheritdoc IDataUnionRoots
    function activeRoot() external view returns (uint64, bytes32, uint256) {
        return (_activeEpoch, _root, _epochStart);
    }

    /// @inheritdoc IDataUnionRoots
    function pendingRoot() external view returns (bytes32, uint256) {
        if (_attribution != AttributionState.Pending) return (bytes32(0), 0);
        return (_pendingRoot, _pendingTotal);
    }

    /// @inheritdoc IDataUnionRoots
    function rewardPerShare() external view returns (uint256) {
        return _rewardPerShare;
    }

    /// @inheritdoc IDataUnionRoots
    function claimedBy(address member) external view returns (uint256) {
        return uint96(_members[member] >> _CLAIMED_SHIFT);
    }

    /// @inheritdoc IDataUnionRoots
    function hasLeft(address member) external view returns (bool) {
        return _members[member] & _LEFT != 0;
    }

    /// @inheritdoc IDataUnionRoots
    function leafHash(uint64 epoch, address member, Leaf calldata leaf) external pure returns (bytes32) {
        return _leafHash(epoch, member, leaf);
    }

    /// @inheritdoc IUnionCore
    function nonces(address member) public view override(IUnionCore, UnionCore) returns (uint256) {
        return super.nonces(member);
    }

    // ---------------------------------------------------------------------------------------------
    // Internals
    // ---------------------------------------------------------------------------------------------

    /// @dev Splits revenue by the root in force, pending or vetoed successor or not; holds it only
    /// while no shares are in force (before the first root, or after everyone left).
    function _distribute(uint256 amount) internal override {
        uint256 pool = amount + _undistributed;
        uint256 total = _totalShares;
        if (total == 0) {
            _undistributed = pool.toUint96();
            return;
        }
        if (_undistributed != 0) _undistributed = 0;
        // pool >= 1 and _dust > -2^64: it is in (-total, 0] after a distribution, and leaving
        // only adds to it.
        (uint256 increment, int256 dust) = _advance(pool, total, _dust);
        _dust = int96(dust); // in (-total, 0], total < 2^64
        _rewardPerShare = (uint256(_rewardPerShare) + increment).toUint160();
    }

    /// @dev The pending root takes over at the accumulator's current value.
    function _activate(uint64 epoch) internal override returns (uint256 total) {
        uint160 start = _rewardPerShare;
        bytes32 root = _pendingRoot;
        total = _pendingTotal;
        _root = root;
        _epochStart = start;
        _totalShares = uint64(total); // at most MAX_TOTAL_SHARES
        _activeEpoch = epoch;
        if (_undistributed != 0 && total != 0) _distribute(0);
        emit RootActivated(epoch, root, start);
    }

    function _addDeposited(uint256 received) internal override {
        _totalDeposited = (uint256(_totalDeposited) + received).toUint96();
    }

    function _depositedTotal() internal view override returns (uint256) {
        return _totalDeposited;
    }

    function _claimedTotal() internal view override returns (uint256) {
        return _totalClaimed;
    }

    function _claim(address member, address to, uint256 amount, Leaf calldata leaf, bytes32[] calldata proof)
        private
        returns (uint256)
    {
        _checkRecipient(to);
        uint256 word = _members[member];
        (uint256 earned, uint256 kept) = _proveEarnings(word, member, leaf, proof);
        uint256 claimed = uint96(word >> _CLAIMED_SHIFT);
        if (earned <= claimed) revert DataUnionNothingToClaim(member);
        uint256 available = earned - claimed;
        if (amount == type(uint256).max) amount = available;
        if (amount > available) revert DataUnionInsufficientEarnings(amount, available);
        if (amount == 0) revert DataUnionZeroAmount();

        // Every member's claims are part of the total, which the cast keeps below 2^96.
        _totalClaimed = (uint256(_totalClaimed) + amount).toUint96();
        _members[member] = (word >> _NONCE_SHIFT << _NONCE_SHIFT) | ((claimed + amount) << _CLAIMED_SHIFT) | kept;
        emit Claimed(member, to, amount);
        _token.safeTransfer(to, amount);
        return amount;
    }

    /// @dev Everything `member` has earned, in whole units, and the low 128 bits their word keeps:
    /// for a member who left, the frozen earnings (the leaf is ignored); otherwise the tag of the
    /// leaf, proven against the root in force unless it matches the tag already in the word.
    function _proveEarnings(uint256 word, address member, Leaf calldata leaf, bytes32[] calldata proof)
        private
        view
        returns (uint256 earned, uint256 kept)
    {
        if (word & _LEFT != 0) return (uint96(word), uint128(word));
        if (_activeEpoch == 0) return (0, 0);
        kept = _proveLeaf(word, member, leaf, proof);
        earned = _earnedScaled(leaf) >> _SCALE_BITS;
    }

    /// @dev Checks `leaf` is `member`'s in the root in force; returns its tag.
    function _proveLeaf(uint256 word, address member, Leaf calldata leaf, bytes32[] calldata proof)
        private
        view
        returns (uint256 tag)
    {
        uint64 epoch = _activeEpoch;
        bytes32 hash = _leafHash(epoch, member, leaf);
        tag = uint256(hash) & _TAG_MASK;
        if (tag != word & _TAG_MASK && !MerkleProof.verifyCalldata(proof, _root, hash)) {
            revert DataUnionInvalidProof(member, epoch);
        }
    }

    /// @dev What `leaf` has earned at the accumulator's current value, in scaled units (0 when a
    /// wrong root makes it negative).
    function _earnedScaled(Leaf calldata leaf) private view returns (uint256) {
        int256 shares = int256(uint256(leaf.shares));
        int256 earned = leaf.offset + (int256(uint256(leaf.previousShares)) - shares) * int256(uint256(_epochStart))
            + shares * int256(uint256(_rewardPerShare));
        return earned > 0 ? uint256(earned) : 0;
    }

    function _leafHash(uint64 epoch, address member, Leaf calldata leaf) private pure returns (bytes32) {
        return keccak256(
            bytes.concat(keccak256(abi.encode(epoch, member, leaf.offset, leaf.previousShares, leaf.shares)))
        );
    }
}
