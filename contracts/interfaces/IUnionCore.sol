// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC5267} from "@openzeppelin/contracts/interfaces/IERC5267.sol";

/// @title IUnionCore
/// @notice What every kind of data union has in common: revenue in one ERC-20 stablecoin,
/// timelocked and vetoable epochs, delayed attester and guardian changes, a capped and timelocked
/// operator fee, a pause that never stops claims or `leave`. `IDataUnion` (shares set member by
/// member) and `IDataUnionRoots` (one Merkle root per epoch) extend it.
/// @dev `eip712Domain()` (ERC-5267) and `CLAIM_TYPEHASH` give everything needed to sign a `Claim`.
interface IUnionCore is IERC5267 {
    /// @notice Where the current epoch's attribution stands.
    /// @dev `Finished`: nothing pending (before the first epoch too). `Pending`: the current epoch
    /// was posted and waits for its due time. `Vetoed`: a guardian vetoed the current epoch; it can
    /// never take effect. What revenue does meanwhile depends on the union: see its interface.
    enum AttributionState {
        Finished,
        Pending,
        Vetoed
    }

    // ---------------------------------------------------------------------------------------------
    // Events
    // ---------------------------------------------------------------------------------------------

    /// @notice Revenue arrived and was split between the operator fee and the members.
    /// @param payer Who paid; `address(0)` for revenue picked up by `sync` (the sender is unknown).
    /// @param licenseId The license the payment is for; `bytes32(0)` when unknown.
    /// @param amount What actually arrived, fee included (fee-on-transfer tokens count net).
    /// @param fee The operator's part of `amount`; the rest belongs to the members.
    event RevenueDeposited(address indexed payer, bytes32 indexed licenseId, uint256 amount, uint256 fee);

    /// @notice An epoch's shares took effect after waiting out the attribution delay: revenue
    /// held meanwhile, and all revenue from now on, is split by them.
    event AttributionFinished(uint64 indexed epoch, bytes32 indexed reportHash, uint256 totalShares);

    /// @notice A batch of `epoch` was posted: the epoch can be finished from `dueAt` on, unless a
    /// guardian vetoes it first. Every batch restarts the wait, so the last one gets the whole window.
    /// @param epoch The pending epoch.
    /// @param reportHash keccak256 of the epoch's canonical report: what watchers check the
    /// on-chain shares against.
    /// @param dueAt The earliest timestamp `finishAttribution(epoch)` succeeds at.
    event AttributionPending(uint64 indexed epoch, bytes32 reportHash, uint256 dueAt);

    /// @notice A guardian vetoed a pending epoch: its shares never take effect; revenue stays held
    /// until a later epoch is finished.
    /// @param epoch The vetoed epoch.
    /// @param reportHash The vetoed epoch's report hash.
    /// @param guardian Who vetoed it.
    event AttributionVetoed(uint64 indexed epoch, bytes32 reportHash, address indexed guardian);

    /// @notice A change of the attester or guardian role was scheduled; anyone can execute it
    /// from `eta` on, and the role's admin or a guardian can cancel it until then.
    /// @param role `ATTESTER_ROLE` or `GUARDIAN_ROLE`.
    /// @param account Whose role changes.
    /// @param grant True to grant the role, false to revoke it.
    /// @param eta The earliest timestamp `executeRoleChange` succeeds at.
    event RoleChangeScheduled(bytes32 indexed role, address indexed account, bool grant, uint256 eta);

    /// @notice A scheduled role change was withdrawn before it was executed.
    /// @param by The role's admin or a guardian, who cancelled it.
    event RoleChangeCancelled(bytes32 indexed role, address indexed account, bool grant, address by);

    /// @notice A member's earnings were paid out to `to`.
    event Claimed(address indexed member, address indexed to, uint256 amount);

    /// @notice A member gave up their shares; what they earned stays claimable.
    event MemberLeft(address indexed member);

    /// @notice A fee change was proposed; it can be applied from `eta` on.
    event FeeChangeProposed(uint16 feeBps, address indexed recipient, uint256 eta);

    /// @notice A proposed fee change took effect.
    event FeeChanged(uint16 feeBps, address indexed recipient);

    /// @notice A proposed fee change was withdrawn before it took effect.
    event FeeChangeCancelled(uint16 feeBps, address indexed recipient);

    /// @notice A fee recipient withdrew the fees owed to it.
    event FeesWithdrawn(address indexed recipient, address indexed to, uint256 amount);

    /// @notice Deposits, `sync` and attributions were stopped.
    event Paused(address account);

    /// @notice Deposits, `sync` and attributions were resumed.
    event Unpaused(address account);

    // ---------------------------------------------------------------------------------------------
    // Errors
    // ---------------------------------------------------------------------------------------------

    /// @notice A required address argument was the zero address.
    error DataUnionZeroAddress();

    /// @notice The pool token has no code.
    error DataUnionInvalidToken(address token);

    /// @notice The fee timelock is outside the allowed range.
    error DataUnionInvalidFeeDelay(uint256 delay, uint256 minDelay, uint256 maxDelay);

    /// @notice The attribution delay is outside the allowed range.
    error DataUnionInvalidAttributionDelay(uint256 delay, uint256 minDelay, uint256 maxDelay);

    /// @notice A deposit or claim of zero tokens.
    error DataUnionZeroAmount();

    /// @notice Tokens were pulled but none arrived (e.g. a token that burns the whole transfer).
    error DataUnionNothingReceived();

    /// @notice The call is not allowed while the union is paused.
    error DataUnionEnforcedPause();

    /// @notice The call needs the union to be paused.
    error DataUnionExpectedPause();

    /// @notice An attestation for an epoch that is not above the current one, or for the current
    /// one once it was finished or vetoed (and for epoch 0).
    error DataUnionStaleEpoch(uint64 epoch, uint64 currentEpoch);

    /// @notice An attestation for a new epoch other than the next one: epochs advance by one.
    error DataUnionEpochSkipped(uint64 epoch, uint64 expected);

    /// @notice An attestation for a new epoch while the current one is still pending (it must be
    /// finished after `dueAt`, or vetoed, first).
    error DataUnionEpochPending(uint64 currentEpoch, uint256 dueAt);

    /// @notice A report hash of zero.
    error DataUnionInvalidReportHash();

    /// @notice `finishAttribution` or `vetoAttribution` for an epoch that is not the current
    /// pending one.
    error DataUnionNotPending(uint64 epoch, uint64 currentEpoch);

    /// @notice `finishAttribution` before the epoch's due time.
    error DataUnionAttributionNotDue(uint64 epoch, uint256 dueAt);

    /// @notice `finishAttribution` for an epoch a guardian vetoed: it can never take effect.
    error DataUnionEpochVetoed(uint64 epoch);

    /// @notice `grantRole`/`revokeRole` of `ATTESTER_ROLE` or `GUARDIAN_ROLE`: those changes go
    /// through `scheduleRoleChange` and wait out the attribution delay.
    error DataUnionRoleChangeDelayed(bytes32 role);

    /// @notice `scheduleRoleChange` for a role that changes at once through `grantRole`/`revokeRole`.
    error DataUnionRoleNotDelayed(bytes32 role);

    /// @notice `scheduleRoleChange` for a change that is already scheduled (cancel it first).
    error DataUnionRoleChangeAlreadyScheduled(bytes32 role, address account, bool grant, uint256 eta);

    /// @notice `executeRoleChange` or `cancelRoleChange` for a change that is not scheduled.
    error DataUnionRoleChangeNotScheduled(bytes32 role, address account, bool grant);

    /// @notice `executeRoleChange` before the change's delay has passed.
    error DataUnionRoleChangeNotReady(uint256 eta);

    /// @notice `cancelRoleChange` by an account that is neither the role's admin nor a guardian.
    error DataUnionUnauthorizedCancel(address account, bytes32 adminRole);

    /// @notice The union's total shares would exceed `MAX_TOTAL_SHARES`.
    error DataUnionTotalSharesTooLarge(uint256 totalShares, uint256 maxTotalShares);

    /// @notice A claim asked for more than the member has earned.
    error DataUnionInsufficientEarnings(uint256 requested, uint256 available);

    /// @notice A claim for a member with nothing to claim.
    error DataUnionNothingToClaim(address member);

    /// @notice Claims cannot pay the zero address or the union itself.
    error DataUnionInvalidRecipient(address to);

    /// @notice A signed claim was submitted after its deadline.
    error DataUnionSignatureExpired(uint256 deadline);

    /// @notice A signed claim was not signed by the member (or the nonce was already used).
    error DataUnionInvalidSignature(address member);

    /// @notice `leave` called by an account that holds no shares.
    error DataUnionNotMember(address account);

    /// @notice A fee above the immutable cap.
    error DataUnionFeeTooHigh(uint256 feeBps, uint256 maxFeeBps);

    /// @notice `applyFee` or `cancelFee` with no fee change pending.
    error DataUnionNoPendingFee();

    /// @notice `applyFee` before the timelock has run out.
    error DataUnionFeeChangeNotReady(uint256 eta);

    /// @notice `withdrawFees` by an account that is owed no fees.
    error DataUnionNothingToWithdraw(address account);

    // ---------------------------------------------------------------------------------------------
    // Revenue
    // ---------------------------------------------------------------------------------------------

    /// @notice Pays `amount` of the pool token into the union for license `licenseId`.
    /// @dev Pulls with `transferFrom` (needs an allowance) and counts what actually arrived, so
    /// fee-on-transfer tokens are accounted exactly. Reverts while paused, and once lifetime
    /// revenue would pass 2^96 token units (79 billion tokens of 18 decimals).
    /// @return received The amount that arrived, before the operator fee.
    function deposit(uint256 amount, bytes32 licenseId) external returns (uint256 received);

    /// @notice `deposit` with an EIP-2612 permit in the same transaction.
    /// @dev If the permit fails (e.g. someone front-ran it) the deposit still goes through as long
    /// as the allowance suffices.
    function depositWithPermit(uint256 amount, bytes32 licenseId, uint256 deadline, uint8 v, bytes32 r, bytes32 s)
        external
        returns (uint256 received);

    /// @notice Turns pool tokens sent to the union by plain transfer into revenue (license id 0).
    /// Anyone may call it; it reverts while paused.
    /// @return received The newly found amount, before the operator fee.
    function sync() external returns (uint256 received);

    // ---------------------------------------------------------------------------------------------
    // Attribution
    // ---------------------------------------------------------------------------------------------

    /// @notice Puts the pending epoch's shares into force once its due time has come, and
    /// distributes the revenue held meanwhile. Anyone may call it (not while paused), so a good
    /// epoch does not depend on the relayer being alive to take effect.
    /// @param epoch The current epoch; it must be pending, not vetoed, and due.
    function finishAttribution(uint64 epoch) external;

    /// @notice Vetoes the current pending epoch (guardian only, also while paused): its shares
    /// never take effect and revenue stays held for the next epoch that does. Moves no earned
    /// money: earnings settled before the vetoed batches stay as they were.
    /// @param epoch The current epoch; it must be pending.
    function vetoAttribution(uint64 epoch) external;

    // ---------------------------------------------------------------------------------------------
    // Delayed role changes
    // ---------------------------------------------------------------------------------------------

    /// @notice Schedules granting (`grant`) or revoking `role` for `account`, where `role` is
    /// `ATTESTER_ROLE` or `GUARDIAN_ROLE` (the role's admin only). It can be executed by anyone
    /// once `ATTRIBUTION_DELAY` has passed, and cancelled by the role's admin or a guardian until
    /// then, so a stolen admin key can neither slip in an attester nor remove an honest guardian.
    /// @return eta The earliest timestamp `executeRoleChange` succeeds at.
    function scheduleRoleChange(bytes32 role, address account, bool grant) external returns (uint256 eta);

    /// @notice Carries out a scheduled role change whose delay has passed (anyone). Emits
    /// `RoleGranted` or `RoleRevoked` as `grantRole`/`revokeRole` would.
    function executeRoleChange(bytes32 role, address account, bool grant) external;

    /// @notice Withdraws a scheduled role change (the role's admin or a guardian).
    function cancelRoleChange(bytes32 role, address account, bool grant) external;

    /// @notice When a scheduled role change can be executed; 0 when it is not scheduled.
    function roleChangeEta(bytes32 role, address account, bool grant) external view returns (uint256);

    // ---------------------------------------------------------------------------------------------
    // Members
    // ---------------------------------------------------------------------------------------------

    /// @notice Uses up the caller's current nonce, so a signed claim not yet submitted can no
    /// longer be. Returns the nonce invalidated.
    function invalidateNonce() external returns (uint256);

    // ---------------------------------------------------------------------------------------------
    // Fee
    // ---------------------------------------------------------------------------------------------

    /// @notice Proposes a new operator fee and recipient (admin only); it can be applied once
    /// `FEE_DELAY` has passed. A new proposal replaces a pending one and restarts the delay.
    function proposeFee(uint16 feeBps, address recipient) external;

    /// @notice Applies the pending fee change once its delay has passed. Anyone may call it.
    function applyFee() external;

    /// @notice Withdraws the pending fee change (admin only).
    function cancelFee() external;

    /// @notice Pays the caller all the fees owed to it. Fees accrue to whoever was the fee
    /// recipient when the revenue arrived and are kept apart from member money.
    function withdrawFees(address to) external;

    // ---------------------------------------------------------------------------------------------
    // Emergency
    // ---------------------------------------------------------------------------------------------

    /// @notice Stops deposits, `sync` and attributions (pauser only). Never stops claims or
    /// `leave`.
    function pause() external;

    /// @notice Resumes deposits, `sync` and attributions (pauser only).
    function unpause() external;

    // ---------------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------------

    /// @notice The pool token (a stablecoin), fixed at construction.
    function token() external view returns (IERC20);

    /// @notice The sum of all members' shares.
    function totalShares() external view returns (uint256);

    /// @notice The latest epoch an attribution was posted for (0 before the first), whatever
    /// became of it: see `attributionState`.
    function currentEpoch() external view returns (uint64);

    /// @notice The current epoch and where it stands.
    /// @return epoch The current epoch (0 before the first).
    /// @return state `Finished` (or none yet), `Pending` or `Vetoed`.
    /// @return dueAt When the epoch can be (or could have been) finished; 0 before the first.
    function attributionState() external view returns (uint64 epoch, AttributionState state, uint256 dueAt);

    /// @notice The report hash of the current epoch.
    function currentReportHash() external view returns (bytes32);

    /// @notice All revenue ever received, fees included.
    function totalDeposited() external view returns (uint256);

    /// @notice All earnings ever paid out to members.
    function totalClaimed() external view returns (uint256);

    /// @notice All fees ever withdrawn.
    function totalFeesWithdrawn() external view returns (uint256);

    /// @notice Fees owed to `recipient` and not yet withdrawn.
    function feesOwed(address recipient) external view returns (uint256);

    /// @notice Member revenue waiting for a distribution: it arrived while no member held shares
    /// or, in a union that holds revenue then, while an epoch was pending or vetoed.
    function undistributed() external view returns (uint256);

    /// @notice The operator fee in basis points of revenue.
    function feeBps() external view returns (uint16);

    /// @notice Who the operator fee accrues to.
    function feeRecipient() external view returns (address);

    /// @notice The pending fee change, if any (`eta` is 0 when none is pending).
    function pendingFee() external view returns (uint16 feeBps, address recipient, uint256 eta);

    /// @notice Whether the current epoch is pending or vetoed (not yet, or never, in force).
    function attributionInProgress() external view returns (bool);

    /// @notice How long an epoch waits between its last batch and taking effect, and a change of
    /// the attester or guardian role between being scheduled and executed; fixed at deployment.
    function ATTRIBUTION_DELAY() external view returns (uint256);

    /// @notice The EIP-712 type hash of a signed `Claim`, for integrators signing from this
    /// interface and `eip712Domain()` alone.
    function CLAIM_TYPEHASH() external view returns (bytes32);

    /// @notice Whether deposits, `sync` and attributions are stopped.
    function paused() external view returns (bool);

    /// @notice `member`'s next signed-claim nonce.
    function nonces(address member) external view returns (uint256);
}
