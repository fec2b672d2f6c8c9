// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IDataUnion} from "./interfaces/IDataUnion.sol";
import {IUnionCore} from "./interfaces/IUnionCore.sol";
import {UnionCore} from "./UnionCore.sol";

/// @title DataUnion
/// @notice Pools license revenue in one stablecoin and pays it out to members pro rata to the
/// shares an attester posts for them.
/// @dev Accounting, in "scaled" units of 2^-64 token units:
/// - `_rewardPerShare` grows by `revenue * 2^64 / totalShares` at each distribution.
/// - A member with shares is owed `shares * (_rewardPerShare - snapshot)` scaled units. Share
///   changes settle that amount first and re-encode it against the new shares by moving the
///   snapshot, so a member's whole state stays in one slot.
/// - A member without shares keeps earned-but-unclaimed tokens in `_banked`.
/// - Divisions that do not come out even are settled against `_dust`, a signed balance of scaled
///   units: rounding goes in the members' favour (so no member ever sees a unit less because of
///   it) as long as the union has advanced less than one token unit in total (`_dust > -2^64`);
///   past that bound it rounds down and credits `_dust`. The next distribution adds `_dust` to the
///   revenue it splits, so rounding is carried forward, never lost, and since members can only
///   claim whole units, less than one unit of advance can never make the union pay out more
///   than it holds. `MAX_TOTAL_SHARES` (2^60) keeps one distribution's advance below 2^60, so
///   rounding down - which can cost a member one unit - needs more than fifteen full
///   re-attributions of a union at its share limit between two deposits.
/// - From an epoch's first batch until it is finished after its delay (`_attribution` not
///   `Finished`: pending, or vetoed and waiting for the next epoch), revenue is held in
///   `_undistributed`, so no deposit is split by a half-updated share table, nor by one that has
///   not waited out its delay or that a guardian vetoed. Shares a vetoed epoch set earn nothing:
///   the accumulator does not move until the next epoch, which re-sets them, is finished.
/// The accumulator and snapshots are taken modulo 2^160 and only their differences are used. A
/// difference stays below 2^160 because lifetime revenue is capped at 2^96 token units by the
/// uint96 deposit total (79 billion tokens of 18 decimals) and every member with shares has at
/// least one.
/// Storage is laid out by the functions that touch it together, since each slot costs 2,100 gas
/// to read cold and 2,900 more to write: a claim reads one global slot and writes one besides its
/// member's, a deposit writes three.
contract DataUnion is IDataUnion, UnionCore {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;
    using SafeCast for int256;

    /// @notice Most members one `postAttribution` call may set.
    uint256 public constant MAX_BATCH_SIZE = 500;
    uint160 private constant _BANKED = 1;
    uint256 private constant _SNAPSHOT_SHIFT = 64;
    /// @dev `_dust` stays above this: the union never advances a whole token unit of rounding.
    int256 private constant _DUST_FLOOR = -(2 ** 64);

    // Deposits write this slot; claims only read it.
    uint160 private _rewardPerShare;
    uint96 private _totalDeposited;
    // Claims write this slot; deposits and share changes write it for the dust balance. Dust over
    // a whole unit only builds up from share settlements to zero (each adds under one unit) with
    // no distribution in between, which clears it: int96 holds 2^31 units of it.
    int96 private _dust;
    uint96 private _totalClaimed;
    uint64 private _totalShares;
    /// @dev A member's whole state in one word, so posting a new member costs one storage write
    /// and a signed claim writes its nonce together with the claim:
    /// - bits 0-63, shares;
    /// - bits 64-223, the snapshot: with shares, the accumulator value earnings are measured
    ///   from; without, `_BANKED` when `_banked` may hold earnings, else 0;
    /// - bits 224-255, the next signed-claim nonce (2^32 signatures per member is beyond any use).
    /// Read and written as a plain word rather than a struct: the compiler loads a packed struct
    /// field by field and copies it through memory. Measured against the struct: 642 gas less per
    /// new member and 715 per changed member in a batch of 500, 260 less per claim. The word is
    /// `UnionCore._members`.
    mapping(address member => uint256) private _banked;


    /// @param token_ The pool token (a stablecoin); fixed for the life of the union.
    /// @param admin Holds `DEFAULT_ADMIN_ROLE`: grants roles and proposes fee changes.
    /// @param attester Holds `ATTESTER_ROLE`: posts attributions.
    /// @param pauser Holds `PAUSER_ROLE`: pauses deposits and attributions.
    /// @param guardian Holds `GUARDIAN_ROLE`: vetoes pending epochs, cancels role changes.
    /// @param feeRecipient_ Receives the operator fee.
    /// @param feeBps_ The operator fee in basis points, at most `MAX_FEE_BPS`.
    /// @param feeDelay How long fee changes wait, between `MIN_FEE_DELAY` and `MAX_FEE_DELAY`.
    /// @param attributionDelay How long an epoch, and an attester or guardian change, waits before
    /// it takes effect, between `MIN_ATTRIBUTION_DELAY` and `MAX_ATTRIBUTION_DELAY`.
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
            token_, [admin, attester, pauser, guardian], feeRecipient_, feeBps_, feeDelay, attributionDelay, "DataUnion"
        )
    {}

    // ---------------------------------------------------------------------------------------------
    // Attribution
    // ---------------------------------------------------------------------------------------------

    /// @inheritdoc IDataUnion
    function postAttribution(uint64 epoch, bytes32 reportHash, address[] calldata members, uint256[] calldata shares)
        external
        onlyRole(ATTESTER_ROLE)
        whenNotPaused
    {
        uint256 count = members.length;
        if (count != shares.length) revert DataUnionLengthMismatch(count, shares.length);
        if (count == 0 || count > MAX_BATCH_SIZE) revert DataUnionInvalidBatchSize(count, MAX_BATCH_SIZE);
        if (reportHash == bytes32(0)) revert DataUnionInvalidReportHash();
        uint256 dueAt = _enterEpoch(epoch, reportHash);

        uint256 total = _attestBatch(epoch, members, shares);
        emit AttributionPosted(epoch, reportHash, count, total);
        emit AttributionPending(epoch, reportHash, dueAt);
    }

    // ---------------------------------------------------------------------------------------------
    // Members
    // ---------------------------------------------------------------------------------------------

    /// @inheritdoc IDataUnion
    function claimable(address member) external view returns (uint256) {
        return _earnedScaled(_members[member], member, _rewardPerShare) >> _SCALE_BITS;
    }

    /// @inheritdoc IDataUnion
    function claim(address to, uint256 amount) external nonReentrant returns (uint256) {
        return _claim(msg.sender, to, amount);
    }

    /// @inheritdoc IDataUnion
    function claimWithSig(address member, address to, uint256 amount, uint256 deadline, bytes calldata signature)
        external
        nonReentrant
        returns (uint256)
    {
        _checkClaimSignature(member, to, amount, deadline, signature);
        return _claim(member, to, amount);
    }

    /// @inheritdoc IDataUnion
    function leave() external {
        if (_sharesIn(_members[msg.sender]) == 0) revert DataUnionNotMember(msg.sender);
        (uint256 oldShares, int256 dust) = _setShares(msg.sender, 0, _rewardPerShare, _dust);
        _totalShares -= uint64(oldShares); // oldShares is part of _totalShares, so this cannot underflow
        _dust = dust.toInt96();
        emit SharesSet(msg.sender, _currentEpoch, 0);
        emit MemberLeft(msg.sender);
    }

    // ---------------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------------

    /// @inheritdoc IDataUnion
    function sharesOf(address member) external view returns (uint256) {
        return _sharesIn(_members[member]);
    }

    /// @inheritdoc IUnionCore
    function totalShares() external view returns (uint256) {
        return _totalShares;
    }

    /// @inheritdoc IUnionCore
    function nonces(address member) public view override(IUnionCore, UnionCore) returns (uint256) {
        return super.nonces(member);
    }

    // ---------------------------------------------------------------------------------------------
    // Internals
    // ---------------------------------------------------------------------------------------------

    /// @dev Checks that `epoch` is the current pending epoch with the same report, or else the
    /// next one after a finished or vetoed epoch, which starts pending; either way the epoch is
    /// due `ATTRIBUTION_DELAY` from now. Returns the due time.
    function _enterEpoch(uint64 epoch, bytes32 reportHash) private returns (uint256 dueAt) {
        if (_attribution != AttributionState.Pending) return _openEpoch(epoch, reportHash);
        uint64 current = _currentEpoch;
        if (epoch < current) revert DataUnionStaleEpoch(epoch, current);
        if (epoch != current) revert DataUnionEpochPending(current, _dueAt);
        bytes32 expected = _currentReportHash;
        if (reportHash != expected) revert DataUnionReportHashMismatch(epoch, expected, reportHash);
        dueAt = block.timestamp + ATTRIBUTION_DELAY;
        _dueAt = uint48(dueAt); // below 2^48: a block time plus at most 30 days
    }

    /// @dev Validates, settles, sets and announces every member of a batch; returns the new total
    /// shares.
    function _attestBatch(uint64 epoch, address[] calldata members, uint256[] calldata shares)
        private
        returns (uint256 total)
    {
        uint160 rewardPerShare = _rewardPerShare;
        total = _totalShares;
        int256 dust = _dust;
        uint256 count = members.length;
        for (uint256 i; i < count;) {
            address member = members[i];
            uint256 newShares = shares[i];
            if (member == address(0)) revert DataUnionZeroAddress();
            if (newShares > MAX_SHARES) revert DataUnionSharesTooLarge(member, newShares, MAX_SHARES);
            uint256 oldShares;
            (oldShares, dust) = _setShares(member, newShares, rewardPerShare, dust);
            emit SharesSet(member, epoch, newShares);
            unchecked {
                // oldShares is part of total; each term is below 2^60 and a batch has at most
                // MAX_BATCH_SIZE members, so neither step can wrap. i < count <= MAX_BATCH_SIZE.
                total = total - oldShares + newShares;
                ++i;
            }
        }
        if (total > MAX_TOTAL_SHARES) revert DataUnionTotalSharesTooLarge(total, MAX_TOTAL_SHARES);
        _totalShares = uint64(total); // at most MAX_TOTAL_SHARES
        _dust = dust.toInt96();
    }

    /// @dev Adds `amount` (plus revenue that waited for shareholders, plus the dust balance) to
    /// the accumulator, rounding up: the advance, less than `total` scaled units, is recorded as
    /// negative dust and repaid by the next distribution.
    function _distribute(uint256 amount) internal override {
        uint256 pool = amount + _undistributed;
        uint256 total = _totalShares;
        if (total == 0 || _attribution != AttributionState.Finished) {
            _undistributed = pool.toUint96();
            return;
        }
        if (_undistributed != 0) _undistributed = 0;
        // pool >= 1 and _dust > -2^64 (see the contract docs).
        (uint256 increment, int256 dust) = _advance(pool, total, _dust);
        _dust = int96(dust); // in (-total, 0], total < 2^64
        unchecked {
            // Wraps modulo 2^160 by design: only differences are ever used (see contract docs).
            _rewardPerShare += increment.toUint160();
        }
    }

    /// @dev The epoch's shares are already in place: distributes the revenue held meanwhile.
    function _activate(uint64) internal override returns (uint256 total) {
        total = _totalShares;
        if (_undistributed != 0 && total != 0) _distribute(0);
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

    /// @dev Expresses `earned` scaled units as a per-share difference for `shares` shares,
    /// rounding up when the dust balance can advance the difference, else down (crediting dust).
    function _perShare(uint256 earned, uint256 shares, int256 dust) private pure returns (uint256, int256) {
        uint256 perShare = earned / shares;
        uint256 short = earned % shares;
        if (short == 0) return (perShare, dust);
        int256 advanced = dust - int256(shares - short);
        if (advanced > _DUST_FLOOR) return (perShare + 1, advanced);
        return (perShare, dust + int256(short));
    }

    /// @dev Settles `member`'s earnings and sets their shares. Returns the old shares and the
    /// dust balance after re-encoding the earnings against the new shares.
    function _setShares(address member, uint256 newShares, uint160 rewardPerShare, int256 dust)
        private
        returns (uint256 oldShares, int256)
    {
        uint256 word = _members[member];
        oldShares = _sharesIn(word);
        if (newShares == oldShares) return (oldShares, dust);
        uint160 snapshot = _snapshotIn(word);
        if (oldShares == 0 && snapshot == 0) {
            // Nothing earned and nothing banked (a new member): no settlement, no rounding.
            _members[member] = _withState(word, newShares, rewardPerShare);
            return (0, dust);
        }

        uint256 earned = _earnedScaled(word, member, rewardPerShare);
        // Starts as 0 (nothing banked) on purpose; see SECURITY.md.
        // slither-disable-next-line uninitialized-local
        uint160 nextSnapshot;
        if (newShares == 0) {
            // Banked earnings are whole units; the fraction of a unit goes back to the dust.
            uint256 units = earned >> _SCALE_BITS;
            dust += int256(earned - (units << _SCALE_BITS));
            if (units != 0) {
                _banked[member] = units;
                nextSnapshot = _BANKED;
            }
        } else {
            uint256 perShare;
            (perShare, dust) = _perShare(earned, newShares, dust);
            if (oldShares == 0) delete _banked[member]; // snapshot == _BANKED: it held earnings
            unchecked {
                // Modulo 2^160 like the accumulator; perShare < 2^160 as earned < 2^160.
                nextSnapshot = rewardPerShare - uint160(perShare);
            }
        }
        _members[member] = _withState(word, newShares, nextSnapshot);
        return (oldShares, dust);
    }

    function _claim(address member, address to, uint256 amount) private returns (uint256) {
        _checkRecipient(to);
        uint256 word = _members[member];
        uint160 rewardPerShare = _rewardPerShare;
        uint256 earned = _earnedScaled(word, member, rewardPerShare);
        uint256 available = earned >> _SCALE_BITS;
        if (available == 0) revert DataUnionNothingToClaim(member);
        if (amount == type(uint256).max) amount = available;
        if (amount > available) revert DataUnionInsufficientEarnings(amount, available);
        if (amount == 0) revert DataUnionZeroAmount();

        uint256 rest = earned - (amount << _SCALE_BITS);
        uint256 shares = _sharesIn(word);
        if (shares != 0) {
            (uint256 perShare, int256 dust) = _perShare(rest, shares, _dust);
            _dust = dust.toInt96();
            unchecked {
                // Modulo 2^160 like the accumulator.
                _members[member] = _withState(word, shares, rewardPerShare - uint160(perShare));
            }
        } else if (rest == 0) {
            delete _banked[member];
            _members[member] = _withState(word, 0, 0); // the nonce stays
        } else {
            _banked[member] = rest >> _SCALE_BITS; // banked earnings are whole units
        }
        // Never above the deposit total, itself below 2^96.
        _totalClaimed = (uint256(_totalClaimed) + amount).toUint96();
        emit Claimed(member, to, amount);
        _token.safeTransfer(to, amount);
        return amount;
    }

    /// @dev What `member` has earned and not claimed, in scaled units.
    function _earnedScaled(uint256 word, address member, uint160 rewardPerShare) private view returns (uint256) {
        uint256 shares = _sharesIn(word);
        if (shares != 0) {
            unchecked {
                // Modulo 2^160 difference; the product fits: 2^64 * 2^160 < 2^256.
                return shares * uint256(rewardPerShare - _snapshotIn(word));
            }
        }
        if (_snapshotIn(word) == _BANKED) return _banked[member] << _SCALE_BITS;
        return 0;
    }

    function _sharesIn(uint256 word) private pure returns (uint256) {
        return uint64(word);
    }

    function _snapshotIn(uint256 word) private pure returns (uint160) {
        return uint160(word >> _SNAPSHOT_SHIFT);
    }

    /// @dev `word` with new shares and snapshot, its nonce kept. `shares` is at most MAX_SHARES.
    function _withState(uint256 word, uint256 shares, uint160 snapshot) private pure returns (uint256) {
        return (word >> _NONCE_SHIFT << _NONCE_SHIFT) | (uint256(snapshot) << _SNAPSHOT_SHIFT) | shares;
    }
}
