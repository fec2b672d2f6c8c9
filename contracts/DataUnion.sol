// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {IDataUnion} from "./interfaces/IDataUnion.sol";

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
contract DataUnion is IDataUnion, AccessControl, EIP712, Nonces, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;
    using SafeCast for int256;

    struct PendingFee {
        address recipient;
        uint16 feeBps;
        uint48 eta;
    }

    /// @notice May post attributions (the relayer).
    bytes32 public constant ATTESTER_ROLE = keccak256("ATTESTER_ROLE");
    /// @notice May pause and unpause deposits and attributions.
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");
    /// @notice May veto a pending epoch and cancel scheduled attester and guardian changes. A role
    /// of its own, apart from the pauser, so a watcher bot or a members' council can veto without
    /// being able to stop deposits.
    bytes32 public constant GUARDIAN_ROLE = keccak256("GUARDIAN_ROLE");
    /// @inheritdoc IDataUnion
    bytes32 public constant CLAIM_TYPEHASH =
        keccak256("Claim(address member,address to,uint256 amount,uint256 nonce,uint256 deadline)");

    /// @notice The operator fee can never exceed 20% of revenue.
    uint16 public constant MAX_FEE_BPS = 2_000;
    /// @notice Bounds on the fee timelock chosen at deployment.
    uint256 public constant MIN_FEE_DELAY = 1 hours;
    uint256 public constant MAX_FEE_DELAY = 30 days;
    /// @notice Bounds on the attribution delay chosen at deployment.
    uint256 public constant MIN_ATTRIBUTION_DELAY = 1 hours;
    uint256 public constant MAX_ATTRIBUTION_DELAY = 30 days;
    /// @notice Most members one `postAttribution` call may set.
    uint256 public constant MAX_BATCH_SIZE = 500;
    /// @notice Most shares one member may hold.
    uint256 public constant MAX_SHARES = 2 ** 60 - 1;
    /// @notice Most shares all members together may hold.
    uint256 public constant MAX_TOTAL_SHARES = 2 ** 60 - 1;

    uint256 private constant _BPS = 10_000;
    uint256 private constant _SCALE_BITS = 64;
    uint160 private constant _BANKED = 1;
    uint256 private constant _SNAPSHOT_SHIFT = 64;
    uint256 private constant _NONCE_SHIFT = 224;
    uint256 private constant _NONCE_ONE = 1 << _NONCE_SHIFT;
    /// @dev `_dust` stays above this: the union never advances a whole token unit of rounding.
    int256 private constant _DUST_FLOOR = -(2 ** 64);

    IERC20 private immutable _token;
    /// @notice How long a proposed fee change waits before it can be applied, fixed at deployment.
    uint256 public immutable FEE_DELAY;
    /// @inheritdoc IDataUnion
    uint256 public immutable ATTRIBUTION_DELAY;

    // Deposits write this slot; claims only read it.
    uint160 private _rewardPerShare;
    uint96 private _totalDeposited;
    // Claims write this slot; deposits and share changes write it for the dust balance. Dust over
    // a whole unit only builds up from share settlements to zero (each adds under one unit) with
    // no distribution in between, which clears it: int96 holds 2^31 units of it.
    int96 private _dust;
    uint96 private _totalClaimed;
    uint64 private _totalShares;
    // Deposits read the fee, pause and attribution state here and write the current recipient's
    // fees. The attribution state is here, not with the epoch, so a deposit learns whether to hold
    // its revenue without reading another slot.
    uint96 private _feesAccrued; // owed to `_feeRecipient`, on top of `_feesOwed[_feeRecipient]`
    uint96 private _undistributed;
    uint16 private _feeBps;
    bool private _paused;
    AttributionState private _attribution;
    // Every batch writes this slot (the due time) and reads it with the state above; a new epoch
    // also writes the report hash. Timestamps in uint48 last 8.9 million years.
    uint64 private _currentEpoch;
    uint48 private _dueAt;
    // Read by fee withdrawals and changes only. Fees withdrawn stay below the uint96 deposit total.
    address private _feeRecipient;
    uint96 private _totalFeesWithdrawn;
    PendingFee private _pendingFee;
    bytes32 private _currentReportHash;

    /// @dev A member's whole state in one word, so posting a new member costs one storage write
    /// and a signed claim writes its nonce together with the claim:
    /// - bits 0-63, shares;
    /// - bits 64-223, the snapshot: with shares, the accumulator value earnings are measured
    ///   from; without, `_BANKED` when `_banked` may hold earnings, else 0;
    /// - bits 224-255, the next signed-claim nonce (2^32 signatures per member is beyond any use).
    /// Read and written as a plain word rather than a struct: the compiler loads a packed struct
    /// field by field and copies it through memory. Measured against the struct: 642 gas less per
    /// new member and 715 per changed member in a batch of 500, 260 less per claim.
    mapping(address member => uint256) private _members;
    mapping(address member => uint256) private _banked;
    // Fees of earlier recipients, and what the current one withdrew its accrued fees into.
    mapping(address recipient => uint256) private _feesOwed;
    // When each scheduled attester or guardian change can be executed (0: not scheduled), by
    // `_roleChangeId(role, account, grant)`.
    mapping(bytes32 changeId => uint256 eta) private _roleChangeEtas;

    modifier whenNotPaused() {
        if (_paused) revert DataUnionEnforcedPause();
        _;
    }

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
    ) EIP712("DataUnion", "1") {
        if (address(token_).code.length == 0) revert DataUnionInvalidToken(address(token_));
        if (
            admin == address(0) || attester == address(0) || pauser == address(0) || guardian == address(0)
                || feeRecipient_ == address(0)
        ) {
            revert DataUnionZeroAddress();
        }
        if (feeBps_ > MAX_FEE_BPS) revert DataUnionFeeTooHigh(feeBps_, MAX_FEE_BPS);
        if (feeDelay < MIN_FEE_DELAY || feeDelay > MAX_FEE_DELAY) {
            revert DataUnionInvalidFeeDelay(feeDelay, MIN_FEE_DELAY, MAX_FEE_DELAY);
        }
        if (attributionDelay < MIN_ATTRIBUTION_DELAY || attributionDelay > MAX_ATTRIBUTION_DELAY) {
            revert DataUnionInvalidAttributionDelay(attributionDelay, MIN_ATTRIBUTION_DELAY, MAX_ATTRIBUTION_DELAY);
        }
        _token = token_;
        FEE_DELAY = feeDelay;
        ATTRIBUTION_DELAY = attributionDelay;
        _feeRecipient = feeRecipient_;
        _feeBps = feeBps_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(ATTESTER_ROLE, attester);
        _grantRole(PAUSER_ROLE, pauser);
        _grantRole(GUARDIAN_ROLE, guardian);
    }

    // ---------------------------------------------------------------------------------------------
    // Revenue
    // ---------------------------------------------------------------------------------------------

    /// @inheritdoc IDataUnion
    function deposit(uint256 amount, bytes32 licenseId) external nonReentrant whenNotPaused returns (uint256) {
        return _deposit(amount, licenseId);
    }

    /// @inheritdoc IDataUnion
    function depositWithPermit(uint256 amount, bytes32 licenseId, uint256 deadline, uint8 v, bytes32 r, bytes32 s)
        external
        nonReentrant
        whenNotPaused
        returns (uint256)
    {
        // A permit front-run from the mempool makes this call fail although the allowance is
        // already in place; the transferFrom below is the real check.
        try IERC20Permit(address(_token)).permit(msg.sender, address(this), amount, deadline, v, r, s) {} catch {}
        return _deposit(amount, licenseId);
    }

    /// @inheritdoc IDataUnion
    function sync() external nonReentrant whenNotPaused returns (uint256 received) {
        uint256 balance = _token.balanceOf(address(this));
        uint256 tracked = _trackedBalance();
        // A balance below what is tracked (a token that can seize funds) is no revenue.
        if (balance > tracked) {
            received = balance - tracked;
            _recordRevenue(address(0), bytes32(0), received);
        }
    }

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

    /// @inheritdoc IDataUnion
    function finishAttribution(uint64 epoch) external whenNotPaused {
        uint64 current = _currentEpoch;
        AttributionState state = _attribution;
        if (epoch != current || state == AttributionState.Finished) revert DataUnionNotPending(epoch, current);
        if (state == AttributionState.Vetoed) revert DataUnionEpochVetoed(epoch);
        uint256 dueAt = _dueAt;
        if (block.timestamp < dueAt) revert DataUnionAttributionNotDue(epoch, dueAt);
        _attribution = AttributionState.Finished;
        if (_undistributed != 0 && _totalShares != 0) _distribute(0);
        emit AttributionFinished(epoch, _currentReportHash, _totalShares);
    }

    /// @inheritdoc IDataUnion
    function vetoAttribution(uint64 epoch) external onlyRole(GUARDIAN_ROLE) {
        // Not `whenNotPaused`: pausing must never be a way to keep a guardian from vetoing.
        uint64 current = _currentEpoch;
        if (epoch != current || _attribution != AttributionState.Pending) revert DataUnionNotPending(epoch, current);
        _attribution = AttributionState.Vetoed;
        emit AttributionVetoed(epoch, _currentReportHash, msg.sender);
    }

    // ---------------------------------------------------------------------------------------------
    // Delayed role changes
    // ---------------------------------------------------------------------------------------------

    /// @dev The attester and guardian roles change only through `scheduleRoleChange`.
    function grantRole(bytes32 role, address account) public override {
        if (_isDelayedRole(role)) revert DataUnionRoleChangeDelayed(role);
        super.grantRole(role, account);
    }

    /// @dev The attester and guardian roles change only through `scheduleRoleChange`.
    function revokeRole(bytes32 role, address account) public override {
        if (_isDelayedRole(role)) revert DataUnionRoleChangeDelayed(role);
        super.revokeRole(role, account);
    }

    /// @inheritdoc IDataUnion
    function scheduleRoleChange(bytes32 role, address account, bool grant)
        external
        onlyRole(getRoleAdmin(role))
        returns (uint256 eta)
    {
        if (!_isDelayedRole(role)) revert DataUnionRoleNotDelayed(role);
        if (account == address(0)) revert DataUnionZeroAddress();
        bytes32 id = _roleChangeId(role, account, grant);
        uint256 scheduled = _roleChangeEtas[id];
        if (scheduled != 0) revert DataUnionRoleChangeAlreadyScheduled(role, account, grant, scheduled);
        eta = block.timestamp + ATTRIBUTION_DELAY;
        _roleChangeEtas[id] = eta;
        emit RoleChangeScheduled(role, account, grant, eta);
    }

    /// @inheritdoc IDataUnion
    function executeRoleChange(bytes32 role, address account, bool grant) external {
        bytes32 id = _roleChangeId(role, account, grant);
        uint256 eta = _roleChangeEtas[id];
        if (eta == 0) revert DataUnionRoleChangeNotScheduled(role, account, grant);
        if (block.timestamp < eta) revert DataUnionRoleChangeNotReady(eta);
        delete _roleChangeEtas[id];
        // OpenZeppelin emits RoleGranted / RoleRevoked (nothing if the account already stood so).
        if (grant) {
            _grantRole(role, account);
        } else {
            _revokeRole(role, account);
        }
    }

    /// @inheritdoc IDataUnion
    function cancelRoleChange(bytes32 role, address account, bool grant) external {
        bytes32 adminRole = getRoleAdmin(role);
        if (!hasRole(adminRole, msg.sender) && !hasRole(GUARDIAN_ROLE, msg.sender)) {
            revert DataUnionUnauthorizedCancel(msg.sender, adminRole);
        }
        bytes32 id = _roleChangeId(role, account, grant);
        if (_roleChangeEtas[id] == 0) revert DataUnionRoleChangeNotScheduled(role, account, grant);
        delete _roleChangeEtas[id];
        emit RoleChangeCancelled(role, account, grant, msg.sender);
    }

    /// @inheritdoc IDataUnion
    function roleChangeEta(bytes32 role, address account, bool grant) external view returns (uint256) {
        return _roleChangeEtas[_roleChangeId(role, account, grant)];
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
        if (block.timestamp > deadline) revert DataUnionSignatureExpired(deadline);
        bytes32 digest = _hashTypedDataV4(
            keccak256(abi.encode(CLAIM_TYPEHASH, member, to, amount, _useNonce(member), deadline))
        );
        // The member's own key first, ERC-1271 only if that fails: whoever holds the key can call
        // `claim` as the member anyway, and a contract without a key can only pass ERC-1271. This
        // order spares an EOA member the 2,600-gas cold code-size lookup of
        // `SignatureChecker.isValidSignatureNow`, which asks for the code first. The error's
        // argument (third value) is not needed: any error sends the check to ERC-1271.
        // slither-disable-next-line unused-return
        (address recovered, ECDSA.RecoverError recoverError,) = ECDSA.tryRecover(digest, signature);
        if (
            (recoverError != ECDSA.RecoverError.NoError || recovered != member)
                && !SignatureChecker.isValidERC1271SignatureNow(member, digest, signature)
        ) revert DataUnionInvalidSignature(member);
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

    /// @inheritdoc IDataUnion
    function invalidateNonce() external returns (uint256) {
        return _useNonce(msg.sender);
    }

    // ---------------------------------------------------------------------------------------------
    // Fee
    // ---------------------------------------------------------------------------------------------

    /// @inheritdoc IDataUnion
    function proposeFee(uint16 feeBps_, address recipient) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (feeBps_ > MAX_FEE_BPS) revert DataUnionFeeTooHigh(feeBps_, MAX_FEE_BPS);
        if (recipient == address(0)) revert DataUnionZeroAddress();
        if (recipient == address(this)) revert DataUnionInvalidRecipient(recipient);
        uint48 eta = (block.timestamp + FEE_DELAY).toUint48();
        _pendingFee = PendingFee({recipient: recipient, feeBps: feeBps_, eta: eta});
        emit FeeChangeProposed(feeBps_, recipient, eta);
    }

    /// @inheritdoc IDataUnion
    function applyFee() external {
        PendingFee memory pending = _pendingFee;
        if (pending.eta == 0) revert DataUnionNoPendingFee();
        if (block.timestamp < pending.eta) revert DataUnionFeeChangeNotReady(pending.eta);
        delete _pendingFee;
        address previous = _feeRecipient;
        uint256 accrued = _feesAccrued;
        if (pending.recipient != previous && accrued != 0) {
            // Fees belong to whoever was the recipient when the revenue arrived.
            _feesOwed[previous] += accrued;
            _feesAccrued = 0;
        }
        _feeBps = pending.feeBps;
        _feeRecipient = pending.recipient;
        emit FeeChanged(pending.feeBps, pending.recipient);
    }

    /// @inheritdoc IDataUnion
    function cancelFee() external onlyRole(DEFAULT_ADMIN_ROLE) {
        PendingFee memory pending = _pendingFee;
        if (pending.eta == 0) revert DataUnionNoPendingFee();
        delete _pendingFee;
        emit FeeChangeCancelled(pending.feeBps, pending.recipient);
    }

    /// @inheritdoc IDataUnion
    function withdrawFees(address to) external nonReentrant {
        if (to == address(0) || to == address(this)) revert DataUnionInvalidRecipient(to);
        uint256 amount = _feesOwed[msg.sender];
        if (msg.sender == _feeRecipient) {
            amount += _feesAccrued;
            _feesAccrued = 0;
        }
        if (amount == 0) revert DataUnionNothingToWithdraw(msg.sender);
        delete _feesOwed[msg.sender];
        _totalFeesWithdrawn = (uint256(_totalFeesWithdrawn) + amount).toUint96();
        emit FeesWithdrawn(msg.sender, to, amount);
        _token.safeTransfer(to, amount);
    }

    // ---------------------------------------------------------------------------------------------
    // Emergency
    // ---------------------------------------------------------------------------------------------

    /// @inheritdoc IDataUnion
    function pause() external onlyRole(PAUSER_ROLE) whenNotPaused {
        _paused = true;
        emit Paused(msg.sender);
    }

    /// @inheritdoc IDataUnion
    function unpause() external onlyRole(PAUSER_ROLE) {
        if (!_paused) revert DataUnionExpectedPause();
        _paused = false;
        emit Unpaused(msg.sender);
    }

    // ---------------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------------

    /// @inheritdoc IDataUnion
    function token() external view returns (IERC20) {
        return _token;
    }

    /// @inheritdoc IDataUnion
    function sharesOf(address member) external view returns (uint256) {
        return _sharesIn(_members[member]);
    }

    /// @inheritdoc IDataUnion
    function totalShares() external view returns (uint256) {
        return _totalShares;
    }

    /// @inheritdoc IDataUnion
    function currentEpoch() external view returns (uint64) {
        return _currentEpoch;
    }

    /// @inheritdoc IDataUnion
    function attributionState() external view returns (uint64, AttributionState, uint256) {
        return (_currentEpoch, _attribution, _dueAt);
    }

    /// @inheritdoc IDataUnion
    function currentReportHash() external view returns (bytes32) {
        return _currentReportHash;
    }

    /// @inheritdoc IDataUnion
    function totalDeposited() external view returns (uint256) {
        return _totalDeposited;
    }

    /// @inheritdoc IDataUnion
    function totalClaimed() external view returns (uint256) {
        return _totalClaimed;
    }

    /// @inheritdoc IDataUnion
    function totalFeesWithdrawn() external view returns (uint256) {
        return _totalFeesWithdrawn;
    }

    /// @inheritdoc IDataUnion
    function feesOwed(address recipient) external view returns (uint256) {
        uint256 owed = _feesOwed[recipient];
        return recipient == _feeRecipient ? owed + _feesAccrued : owed;
    }

    /// @inheritdoc IDataUnion
    function undistributed() external view returns (uint256) {
        return _undistributed;
    }

    /// @inheritdoc IDataUnion
    function feeBps() external view returns (uint16) {
        return _feeBps;
    }

    /// @inheritdoc IDataUnion
    function feeRecipient() external view returns (address) {
        return _feeRecipient;
    }

    /// @inheritdoc IDataUnion
    function pendingFee() external view returns (uint16, address, uint256) {
        PendingFee memory pending = _pendingFee;
        return (pending.feeBps, pending.recipient, pending.eta);
    }

    /// @inheritdoc IDataUnion
    function attributionInProgress() external view returns (bool) {
        return _attribution != AttributionState.Finished;
    }

    /// @inheritdoc IDataUnion
    function paused() external view returns (bool) {
        return _paused;
    }

    /// @inheritdoc IDataUnion
    function nonces(address member) public view override(IDataUnion, Nonces) returns (uint256) {
        return _members[member] >> _NONCE_SHIFT;
    }

    // ---------------------------------------------------------------------------------------------
    // Internals
    // ---------------------------------------------------------------------------------------------

    /// @dev Checks that `epoch` is the current pending epoch with the same report, or else the
    /// next one after a finished or vetoed epoch, which starts pending; either way the epoch is
    /// due `ATTRIBUTION_DELAY` from now. Returns the due time.
    function _enterEpoch(uint64 epoch, bytes32 reportHash) private returns (uint256 dueAt) {
        uint64 current = _currentEpoch;
        dueAt = block.timestamp + ATTRIBUTION_DELAY;
        if (_attribution == AttributionState.Pending) {
            if (epoch < current) revert DataUnionStaleEpoch(epoch, current);
            if (epoch != current) revert DataUnionEpochPending(current, _dueAt);
            bytes32 expected = _currentReportHash;
            if (reportHash != expected) revert DataUnionReportHashMismatch(epoch, expected, reportHash);
            _dueAt = uint48(dueAt); // below 2^48: a block time plus at most 30 days
        } else {
            if (epoch <= current) revert DataUnionStaleEpoch(epoch, current);
            unchecked {
                // current < epoch <= type(uint64).max, so current + 1 cannot wrap.
                if (epoch != current + 1) revert DataUnionEpochSkipped(epoch, current + 1);
            }
            _currentEpoch = epoch;
            _dueAt = uint48(dueAt);
            _currentReportHash = reportHash;
            _attribution = AttributionState.Pending;
        }
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

    function _deposit(uint256 amount, bytes32 licenseId) private returns (uint256 received) {
        if (amount == 0) revert DataUnionZeroAmount();
        uint256 balanceBefore = _token.balanceOf(address(this));
        // The transfer comes before the effects: what counts is what arrives, known only after it.
        _token.safeTransferFrom(msg.sender, address(this), amount);
        received = _token.balanceOf(address(this)) - balanceBefore;
        _recordRevenue(msg.sender, licenseId, received);
    }

    /// @dev Takes the operator fee from `received` and distributes the rest to the members.
    function _recordRevenue(address payer, bytes32 licenseId, uint256 received) private {
        if (received == 0) revert DataUnionNothingReceived();
        uint256 fee = (received * _feeBps) / _BPS;
        _totalDeposited = (uint256(_totalDeposited) + received).toUint96();
        // Below received, so the fees stay below the deposit total checked above.
        if (fee != 0) _feesAccrued += uint96(fee);
        _distribute(received - fee);
        emit RevenueDeposited(payer, licenseId, received, fee);
    }

    /// @dev Adds `amount` (plus revenue that waited for shareholders, plus the dust balance) to
    /// the accumulator, rounding up: the advance, less than `total` scaled units, is recorded as
    /// negative dust and repaid by the next distribution.
    function _distribute(uint256 amount) private {
        uint256 pool = amount + _undistributed;
        uint256 total = _totalShares;
        if (total == 0 || _attribution != AttributionState.Finished) {
            _undistributed = pool.toUint96();
            return;
        }
        if (_undistributed != 0) _undistributed = 0;
        // pool >= 1 and _dust > -2^64, so the sum is positive.
        int256 scaled = int256(pool << _SCALE_BITS) + _dust;
        uint256 increment = Math.ceilDiv(uint256(scaled), total);
        _dust = int96(scaled - int256(increment * total)); // in (-total, 0], total < 2^64
        unchecked {
            // Wraps modulo 2^160 by design: only differences are ever used (see contract docs).
            _rewardPerShare += increment.toUint160();
        }
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
        if (to == address(0) || to == address(this)) revert DataUnionInvalidRecipient(to);
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

    /// @dev Nonces live in the member's slot, which a signed claim writes anyway, instead of the
    /// separate mapping of `Nonces` (left unused): a first signed claim saves the 22,100 gas of
    /// a fresh slot.
    function _useNonce(address member) internal override returns (uint256) {
        uint256 word = _members[member];
        _members[member] = word + _NONCE_ONE; // reverts past 2^32 - 1, as a uint32 counter would
        return word >> _NONCE_SHIFT;
    }

    function _isDelayedRole(bytes32 role) private pure returns (bool) {
        return role == ATTESTER_ROLE || role == GUARDIAN_ROLE;
    }

    function _roleChangeId(bytes32 role, address account, bool grant) private pure returns (bytes32) {
        return keccak256(abi.encode(role, account, grant));
    }

    /// @dev Pool tokens the union knows about: revenue received less what was paid out.
    function _trackedBalance() private view returns (uint256) {
        return uint256(_totalDeposited) - _totalClaimed - _totalFeesWithdrawn;
    }
}
