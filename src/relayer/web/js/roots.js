// A root-mode union (DataUnionRoots) as the member page sees it: the kind is read from the
// chain through the wallet (only DataUnionRoots answers activeRoot()), and a claim or leave
// carries the member's leaf of the root in force with its proof. The leaf comes from the relayer
// (GET /v1/members/{address}/proof) or, with the relayer gone, from the published report files
// the member picks: the tree is rebuilt here and its root compared with the chain's, so neither
// source is trusted. Every proof is checked against the on-chain root before it is used.
import { rootsCalldata, words } from "./abi.js";
import { leafFields, leafHash, treeOfReport, verify } from "./merkle.js";
import * as relayer from "./relayer.js";
import * as wallet from "./wallet.js";

export const PENDING_STATE = 1n;
const EMPTY = { leaf: { offset: 0n, previousShares: 0n, shares: 0n }, proof: [] };

const hex32 = (n) => "0x" + n.toString(16).padStart(64, "0");

/** The contract's Leaf as abi.js encodes a tuple. */
export const leafTuple = (leaf) => [leaf.offset, leaf.previousShares, leaf.shares];

/** "roots" if the contract answers activeRoot() (DataUnionRoots), else "push". */
export async function unionKind(union) {
  try {
    return words(await wallet.call(union, rootsCalldata("activeRoot"))).length >= 3 ? "roots" : "push";
  } catch (error) {
    if (error.kind === "no-wallet" || error.kind === "rejected") throw error;
    return "push"; // DataUnion has no activeRoot: the call reverts
  }
}

/** The roots the chain holds: {active: {epoch, root, epochStart}, pending: {epoch, root} | null}. */
export async function chainRoots(union) {
  const [active, pending, state] = await Promise.all([
    wallet.call(union, rootsCalldata("activeRoot")),
    wallet.call(union, rootsCalldata("pendingRoot")),
    wallet.call(union, rootsCalldata("attributionState")),
  ]);
  const [epoch, root, epochStart] = words(active);
  const [pendingRoot] = words(pending);
  const [current, attribution] = words(state);
  return {
    active: { epoch, root: hex32(root), epochStart },
    pending: attribution === PENDING_STATE ? { epoch: current, root: hex32(pendingRoot) } : null,
  };
}

function checked(epoch, root, member, leaf, proof) {
  return verify(proof, root, leafHash(epoch, member, leaf));
}

/** A parsed report file: its tree rebuilt ({name, union, chainId, epoch, root, tree}). */
export function parseReport(name, text) {
  let report;
  try {
    report = JSON.parse(text);
  } catch {
    throw new RangeError(`${name} is not JSON: pick the epoch's report file.`);
  }
  let rebuilt;
  try {
    rebuilt = treeOfReport(report);
  } catch (error) {
    throw new RangeError(`${name}: ${error.message}`);
  }
  if (rebuilt.root !== rebuilt.statedRoot) {
    throw new RangeError(
      `${name}: its leaves rebuild to root ${rebuilt.root}, not the ${rebuilt.statedRoot} it ` +
        "states: the file is damaged or was altered.",
    );
  }
  return {
    name,
    union: report.union?.address ?? null,
    chainId: report.union?.chainId ?? null,
    epoch: rebuilt.epoch,
    root: rebuilt.root,
    tree: rebuilt.tree,
  };
}

function describeRoot(what, root) {
  return `${what} is epoch ${root.epoch}'s (root ${root.root.slice(0, 10)}…)`;
}

/** Which root of the chain each report is the tree of: {active, pending} (reports), or a
 * RangeError saying why a report is refused (another union, an old or a wrong file). */
export function matchReports(reports, union, roots) {
  const found = { active: null, pending: null };
  for (const report of reports) {
    if (report.union && report.union.toLowerCase() !== union.toLowerCase()) {
      throw new RangeError(`${report.name} is a report of union ${report.union}, not of ${union}.`);
    }
    const fitsActive = report.epoch === roots.active.epoch && report.root === roots.active.root;
    const fitsPending =
      roots.pending && report.epoch === roots.pending.epoch && report.root === roots.pending.root;
    if (fitsActive) found.active = report;
    else if (fitsPending) found.pending = report;
    else {
      const sameEpoch = [roots.active, roots.pending].find((r) => r && r.epoch === report.epoch);
      throw new RangeError(
        sameEpoch
          ? `${report.name} is epoch ${report.epoch}'s report, but its tree's root ` +
              `${report.root.slice(0, 10)}… is not the one on-chain (${sameEpoch.root.slice(0, 10)}…): ` +
              "it is not the union's published report, or it was altered."
          : `${report.name} is epoch ${report.epoch}'s report; ` +
              describeRoot("the root in force on-chain", roots.active) +
              (roots.pending ? ` and ${describeRoot("the pending one", roots.pending)}` : "") +
              `: pick the report of epoch ${roots.active.epoch}.`,
      );
    }
  }
  return found;
}

function fromTree(report, member) {
  const index = report.tree.indexOf(member);
  if (index === null) return null;
  const { offset, previousShares, shares } = report.tree.leaves[index];
  return { leaf: leafFields({ offset, previousShares, shares }), proof: report.tree.proof(index) };
}

function fromServed(entry) {
  return { leaf: leafFields(entry.leaf), proof: entry.proof };
}

/** The member's leaf and proof of the active root (and of the pending one, for leave):
 * {source, active: {leaf, proof} | null, pending: {leaf, proof} | null}. From the picked report
 * files if there are any, else from the relayer (`offline`: there is none to ask). Throws a
 * RelayerError when the relayer cannot answer, so the page can ask for the files instead. */
export async function memberProof(member, roots, reports, { union, offline }) {
  if (roots.active.epoch === 0n) return { source: "chain", active: null, pending: null };
  if (reports.length) {
    const found = matchReports(reports, union, roots);
    if (!found.active) {
      throw new RangeError(`Pick the report of epoch ${roots.active.epoch}, the root in force.`);
    }
    return {
      source: "report",
      active: fromTree(found.active, member),
      pending: found.pending ? fromTree(found.pending, member) : null,
      pendingKnown: found.pending !== null,
    };
  }
  if (offline) throw new RangeError(`Pick the report of epoch ${roots.active.epoch}, the root in force.`);
  let served;
  try {
    served = await relayer.get(`/v1/members/${member}/proof`);
  } catch (error) {
    if (error.status === 404) return { source: "relayer", active: null, pending: null };
    throw error;
  }
  // The relayer answers for the pending root too (null: no leaf there, or it holds no report).
  const proof = { source: "relayer", active: null, pending: null, pendingKnown: true };
  if (BigInt(served.epoch) === roots.active.epoch && served.root.toLowerCase() === roots.active.root) {
    proof.active = fromServed(served);
  }
  const next = served.pending;
  if (next && roots.pending && BigInt(next.epoch) === roots.pending.epoch) {
    proof.pending = fromServed(next);
  }
  if (!proof.active || !checked(roots.active.epoch, roots.active.root, member, proof.active.leaf, proof.active.proof)) {
    throw new relayer.RelayerError(
      "mismatch",
      `The relayer's proof is not for the root in force (epoch ${roots.active.epoch}): pick the ` +
        "epoch's published report instead.",
    );
  }
  return proof;
}

/** The (leaf, proof) arguments of claim and claimable: the member's own, or an empty leaf for
 * a member who left (the contract then ignores it) or who has no leaf. */
export function claimArguments(proof) {
  const mine = proof?.active ?? EMPTY;
  return [leafTuple(mine.leaf), mine.proof];
}

/** leave's four arguments; a pending root needs the member's pending leaf too. */
export function leaveArguments(proof, roots) {
  if (!proof?.active) throw new RangeError("Your leaf of the root in force is needed to leave.");
  let pending = EMPTY;
  if (roots.pending) {
    if (!proof.pending && proof.pendingKnown) {
      throw new RangeError(
        `Your address has no leaf in epoch ${roots.pending.epoch}'s pending tree: leave once it ` +
          "is finished or vetoed.",
      );
    }
    if (!proof.pending) {
      throw new RangeError(
        `Epoch ${roots.pending.epoch}'s root is pending: pick its report too, so that your shares ` +
          "leave its total as well.",
      );
    }
    pending = proof.pending;
  }
  return [leafTuple(proof.active.leaf), proof.active.proof, leafTuple(pending.leaf), pending.proof];
}
