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

import {IUnionCore} from "./interfaces/IUnionCore.sol";

/// @title UnionCore
/// @notice The accounting and governance both kinds of union share: revenue intake (fee-on-
/// transfer safe), the operator fee and its timelock, the pause, the epoch timelock and veto,
/// delayed attester and guardian changes, signed-claim checks and nonces.
/// @dev Amounts owed to members are kept in "scaled" units of 2^-64 token units against a
/// reward-per-share accumulator; how a member's earnings are read off it is the derived union's
/// business (`_distribute`, `_activate`), and so are the accumulator, the deposit and claim totals
/// (`_addDeposited`, `_depositedTotal`, `_claimedTotal`), which each union packs with what its own
/// deposits and claims touch. Storage is packed by the functions that touch it together, since
/// each slot costs 2,100 gas to read cold and 2,900 more to write: the fees accrued, revenue held,
/// fee rate, pause and attribution state share one slot (deposits read and write it). A member's
/// whole state is one word of `_members`, whose top 32 bits are the next signed-claim nonce, so a
/// signed claim writes its nonce together with the claim.
abstract contract UnionCore is IUnionCore, AccessControl, EIP712, Nonces, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;

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
    /// @inheritdoc IUnionCore
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
    /// @notice Most shares one member may hold.
    uint256 public constant MAX_SHARES = 2 ** 60 - 1;
    /// @notice Most shares all members together may hold.
    uint256 public constant MAX_TOTAL_SHARES = 2 ** 60 - 1;

    uint256 internal constant _SCALE_BITS = 64;
    uint256 internal constant _NONCE_SHIFT = 224;
    uint256 private constant _BPS = 10_000;
    uint256 private constant _NONCE_ONE = 1 << _NONCE_SHIFT;

    IERC20 internal immutable _token;
    /// @notice How long a proposed fee change waits before it can be applied, fixed at deployment.
    uint256 public immutable FEE_DELAY;
    /// @inheritdoc IUnionCore
    uint256 public immutable ATTRIBUTION_DELAY;

    // Deposits read the fee, pause and attribution state here and write the current recipient's
    // fees. The attribution state is here, not with the epoch, so a deposit learns whether to hold
    // its revenue without reading another slot.
    uint96 internal _feesAccrued; // owed to `_feeRecipient`, on top of `_feesOwed[_feeRecipient]`
    uint96 internal _undistributed;
    uint16 private _feeBps;
    bool private _paused;
    AttributionState internal _attribution;
    // Every posting writes this slot (the due time) and reads it with the state above; a new epoch
    // also writes the report hash. Timestamps in uint48 last 8.9 million years.
    uint64 internal _currentEpoch;
    uint48 internal _dueAt;
    // Read by fee withdrawals and changes only. Fees withdrawn stay below the uint96 deposit total.
    address private _feeRecipient;
    uint96 private _totalFeesWithdrawn;
    PendingFee private _pendingFee;
    bytes32 internal _currentReportHash;

    /// @dev A member's state, laid out by the derived union; bits 224-255 are always the next
    /// signed-claim nonce (2^32 signatures per member is beyond any use).
    mapping(address member => uint256) internal _members;
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
    /// @param roles Holders of `DEFAULT_ADMIN_ROLE` (grants roles, proposes fee changes),
    /// `ATTESTER_ROLE` (posts epochs), `PAUSER_ROLE` (pauses deposits and epochs) and
    /// `GUARDIAN_ROLE` (vetoes pending epochs, cancels role changes), in that order.
    /// @param feeRecipient_ Receives the operator fee.
    /// @param feeBps_ The operator fee in basis points, at most `MAX_FEE_BPS`.
    /// @param feeDelay How long fee changes wait, between `MIN_FEE_DELAY` and `MAX_FEE_DELAY`.
    /// @param attributionDelay How long an epoch, and an attester or guardian change, waits before
    /// it takes effect, between `MIN_ATTRIBUTION_DELAY` and `MAX_ATTRIBUTION_DELAY`.
    /// @param name The EIP-712 domain name signed claims are bound to.
    constructor(
        IERC20 token_,
        address[4] memory roles,
        address feeRecipient_,
        uint16 feeBps_,
        uint256 feeDelay,
        uint256 attributionDelay,
        string memory name
    ) EIP712(name, "1") {
        if (address(token_).code.length == 0) revert DataUnionInvalidToken(address(token_));
        for (uint256 i; i < 4; ++i) {
            if (roles[i] == address(0)) revert DataUnionZeroAddress();
        }
        if (feeRecipient_ == address(0)) revert DataUnionZeroAddress();
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
        _grantRole(DEFAULT_ADMIN_ROLE, roles[0]);
        _grantRole(ATTESTER_ROLE, roles[1]);
        _grantRole(PAUSER_ROLE, roles[2]);
        _grantRole(GUARDIAN_ROLE, roles[3]);
    }

    // ---------------------------------------------------------------------------------------------
    // Revenue
    // ---------------------------------------------------------------------------------------------

    /// @inheritdoc IUnionCore
    function deposit(uint256 amount, bytes32 licenseId) external nonReentrant whenNotPaused returns (uint256) {
        return _deposit(amount, licenseId);
    }

    /// @inheritdoc IUnionCore
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

    /// @inheritdoc IUnionCore
    function sync() external nonReentrant whenNotPaused returns (uint256 received) {
        uint256 balance = _token.balanceOf(address(this));
        uint256 tracked = _depositedTotal() - _claimedTotal() - _totalFeesWithdrawn;
        // A balance below what is tracked (a token that can seize funds) is no revenue.
        if (balance > tracked) {
            received = balance - tracked;
            _recordRevenue(address(0), bytes32(0), received);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Epoch timelock
    // ---------------------------------------------------------------------------------------------

    /// @inheritdoc IUnionCore
    function finishAttribution(uint64 epoch) external whenNotPaused {
        uint64 current = _currentEpoch;
        AttributionState state = _attribution;
        if (epoch != current || state == AttributionState.Finished) revert DataUnionNotPending(epoch, current);
        if (state == AttributionState.Vetoed) revert DataUnionEpochVetoed(epoch);
        uint256 dueAt = _dueAt;
        if (block.timestamp < dueAt) revert DataUnionAttributionNotDue(epoch, dueAt);
        _attribution = AttributionState.Finished;
        uint256 total = _activate(epoch);
        emit AttributionFinished(epoch, _currentReportHash, total);
    }

    /// @inheritdoc IUnionCore
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

    /// @inheritdoc IUnionCore
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

    /// @inheritdoc IUnionCore
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

    /// @inheritdoc IUnionCore
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

    /// @inheritdoc IUnionCore
    function roleChangeEta(bytes32 role, address account, bool grant) external view returns (uint256) {
        return _roleChangeEtas[_roleChangeId(role, account, grant)];
    }

    // ---------------------------------------------------------------------------------------------
    // Members
    // ---------------------------------------------------------------------------------------------

    /// @inheritdoc IUnionCore
    function invalidateNonce() external returns (uint256) {
        return _useNonce(msg.sender);
    }

    // ---------------------------------------------------------------------------------------------
    // Fee
    // ---------------------------------------------------------------------------------------------

    /// @inheritdoc IUnionCore
    function proposeFee(uint16 feeBps_, address recipient) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (feeBps_ > MAX_FEE_BPS) revert DataUnionFeeTooHigh(feeBps_, MAX_FEE_BPS);
        if (recipient == address(0)) revert DataUnionZeroAddress();
        if (recipient == address(this)) revert DataUnionInvalidRecipient(recipient);
        uint48 eta = (block.timestamp + FEE_DELAY).toUint48();
        _pendingFee = PendingFee({recipient: recipient, feeBps: feeBps_, eta: eta});
        emit FeeChangeProposed(feeBps_, recipient, eta);
    }

    /// @inheritdoc IUnionCore
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

    /// @inheritdoc IUnionCore
    function cancelFee() external onlyRole(DEFAULT_ADMIN_ROLE) {
        PendingFee memory pending = _pendingFee;
        if (pending.eta == 0) revert DataUnionNoPendingFee();
        delete _pendingFee;
        emit FeeChangeCancelled(pending.feeBps, pending.recipient);
    }

    /// @inheritdoc IUnionCore
    function withdrawFees(address to) external nonReentrant {
        _checkRecipient(to);
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

    /// @inheritdoc IUnionCore
    function pause() external onlyRole(PAUSER_ROLE) whenNotPaused {
        _paused = true;
        emit Paused(msg.sender);
    }

    /// @inheritdoc IUnionCore
    function unpause() external onlyRole(PAUSER_ROLE) {
        if (!_paused) revert DataUnionExpectedPause();
        _paused = false;
        emit Unpaused(msg.sender);
    }

    // ---------------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------------

    /// @inheritdoc IUnionCore
    function token() external view returns (IERC20) {
        return _token;
    }

    /// @inheritdoc IUnionCore
    function currentEpoch() external view returns (uint64) {
        return _currentEpoch;
    }

    /// @inheritdoc IUnionCore
    function attributionState() external view returns (uint64, AttributionState, uint256) {
        return (_currentEpoch, _attribution, _dueAt);
    }

    /// @inheritdoc IUnionCore
    function currentReportHash() external view returns (bytes32) {
        return _currentReportHash;
    }

    /// @inheritdoc IUnionCore
    function totalDeposited() external view returns (uint256) {
        return _depositedTotal();
    }

    /// @inheritdoc IUnionCore
    function totalClaimed() external view returns (uint256) {
        return _claimedTotal();
    }

    /// @inheritdoc IUnionCore
    function totalFeesWithdrawn() external view returns (uint256) {
        return _totalFeesWithdrawn;
    }

    /// @inheritdoc IUnionCore
    function feesOwed(address recipient) external view returns (uint256) {
        uint256 owed = _feesOwed[recipient];
        return recipient == _feeRecipient ? owed + _feesAccrued : owed;
    }

    /// @inheritdoc IUnionCore
    function undistributed() external view returns (uint256) {
        return _undistributed;
    }

    /// @inheritdoc IUnionCore
    function feeBps() external view returns (uint16) {
        return _feeBps;
    }

    /// @inheritdoc IUnionCore
    function feeRecipient() external view returns (address) {
        return _feeRecipient;
    }

    /// @inheritdoc IUnionCore
    function pendingFee() external view returns (uint16, address, uint256) {
        PendingFee memory pending = _pendingFee;
        return (pending.feeBps, pending.recipient, pending.eta);
    }

    /// @inheritdoc IUnionCore
    function attributionInProgress() external view returns (bool) {
        return _attribution != AttributionState.Finished;
    }

    /// @inheritdoc IUnionCore
    function paused() external view returns (bool) {
        return _paused;
    }

    /// @inheritdoc IUnionCore
    function nonces(address member) public view virtual override(IUnionCore, Nonces) returns (uint256) {
        return _members[member] >> _NONCE_SHIFT;
    }

    // ---------------------------------------------------------------------------------------------
    // Internals for the derived union
    // ---------------------------------------------------------------------------------------------

    /// @dev Splits `amount` (plus held revenue and the dust balance) among the members, or holds it.
    function _distribute(uint256 amount) internal virtual;

    /// @dev Puts the current epoch, just finished, into force; returns the union's total shares.
    function _activate(uint64 epoch) internal virtual returns (uint256 total);

    /// @dev Adds `received` to the deposit total, which must stay below 2^96 (so fees and claims,
    /// parts of it, fit in 96 bits too).
    function _addDeposited(uint256 received) internal virtual;

    /// @dev All revenue ever received, fees included.
    function _depositedTotal() internal view virtual returns (uint256);

    /// @dev All earnings ever paid out to members.
    function _claimedTotal() internal view virtual returns (uint256);

    /// @dev Checks that `epoch` is the next epoch after a finished or vetoed one and opens it,
    /// pending until `dueAt` (returned).
    function _openEpoch(uint64 epoch, bytes32 reportHash) internal returns (uint256 dueAt) {
        uint64 current = _currentEpoch;
        if (epoch <= current) revert DataUnionStaleEpoch(epoch, current);
        unchecked {
            // current < epoch <= type(uint64).max, so current + 1 cannot wrap.
            if (epoch != current + 1) revert DataUnionEpochSkipped(epoch, current + 1);
        }
        dueAt = block.timestamp + ATTRIBUTION_DELAY;
        _currentEpoch = epoch;
        _dueAt = uint48(dueAt); // below 2^48: a block time plus at most 30 days
        _currentReportHash = reportHash;
        _attribution = AttributionState.Pending;
    }

    /// @dev The accumulator advance that splits `pool` token units (plus `dust` scaled units)
    /// over `total` shares, rounded up, and the dust balance after it, in (-total, 0]. The caller
    /// guarantees `pool >= 1` and `dust > -2^64`, so the amount split is positive.
    function _advance(uint256 pool, uint256 total, int256 dust) internal pure returns (uint256, int256) {
        int256 scaled = int256(pool << _SCALE_BITS) + dust;
        uint256 increment = Math.ceilDiv(uint256(scaled), total);
        return (increment, scaled - int256(increment * total));
    }

    /// @dev Checks a signed claim (EIP-712 `Claim`, the member's next nonce) and uses the nonce.
    function _checkClaimSignature(
        address member,
        address to,
        uint256 amount,
        uint256 deadline,
        bytes calldata signature
    ) internal {
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
    }

    function _checkRecipient(address to) internal view {
        if (to == address(0) || to == address(this)) revert DataUnionInvalidRecipient(to);
    }

    /// @dev Nonces live in the member's slot, which a signed claim writes anyway, instead of the
    /// separate mapping of `Nonces` (left unused): a first signed claim saves the 22,100 gas of
    /// a fresh slot.
    function _useNonce(address member) internal override returns (uint256) {
        uint256 word = _members[member];
        _members[member] = word + _NONCE_ONE; // reverts past 2^32 - 1, as a uint32 counter would
        return word >> _NONCE_SHIFT;
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
        _addDeposited(received);
        // Below received, so the fees stay below the deposit total checked above.
        if (fee != 0) _feesAccrued += uint96(fee);
        _distribute(received - fee);
        emit RevenueDeposited(payer, licenseId, received, fee);
    }

    function _isDelayedRole(bytes32 role) private pure returns (bool) {
        return role == ATTESTER_ROLE || role == GUARDIAN_ROLE;
    }

    function _roleChangeId(bytes32 role, address account, bool grant) private pure returns (bytes32) {
        return keccak256(abi.encode(role, account, grant));
    }
}
