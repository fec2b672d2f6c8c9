// The union's attribution epoch as the chain tells it (pending with its due time, vetoed, or in
// effect), and the member's own check of a pending epoch: the report's keccak256 recomputed from
// its bytes, and the member's shares recomputed from the report alone (the relayer's method,
// attribution.py: value = Σ rate(type) × weight(type) ÷ 10^18 micro-units, one share per
// micro-unit), both compared with the chain; in root mode, also the report's tree rebuilt and
// compared with the root (and pending total) on-chain. Nothing here trusts the relayer: it only
// serves the bytes.
import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { words } from "./abi.js";
import { treeOfReport } from "./merkle.js";

export const STATE = { NONE: 0n, PENDING: 1n, VETOED: 2n };
const WEIGHT_SCALE = 10n ** 18n;

/** `attributionState()`'s return data → {epoch, state, dueAt} (BigInts). */
export function decodeState(hex) {
  const [epoch, state, dueAt] = words(hex);
  if (dueAt === undefined) throw new TypeError("attributionState returned too little");
  return { epoch, state, dueAt };
}

/** "1 h 04 min 09 s" for a number of seconds (0 or less: "now"). */
export function countdown(seconds) {
  let left = Number(seconds);
  if (left <= 0) return "now";
  const days = Math.floor(left / 86_400);
  left -= days * 86_400;
  const hours = Math.floor(left / 3600);
  left -= hours * 3600;
  const minutes = Math.floor(left / 60);
  const secs = left - minutes * 60;
  const pad = (n) => String(n).padStart(2, "0");
  if (days) return `${days} d ${hours} h ${pad(minutes)} min`;
  if (hours) return `${hours} h ${pad(minutes)} min ${pad(secs)} s`;
  return `${minutes} min ${pad(secs)} s`;
}

/** "10.5" → 10500000n: a report's fixed-point figure (six decimals) as micro-units. */
function micro(text) {
  const match = /^(\d+)(?:\.(\d{1,6}))?$/.exec(String(text));
  if (!match) throw new TypeError(`not a six-decimal number: ${text}`);
  return BigInt(match[1]) * 10n ** 6n + BigInt((match[2] || "").padEnd(6, "0"));
}

/** The member's shares recomputed from the report's parameters and weights, or null if the
 * report does not name the member. */
export function recomputeShares(report, address) {
  const entry = report.members.find((m) => m.address.toLowerCase() === address.toLowerCase());
  if (!entry) return null;
  let sum = 0n;
  for (const line of entry.byType) {
    const rate = report.parameters.rates[line.dataType];
    if (rate === undefined) throw new TypeError(`the report has no rate for ${line.dataType}`);
    sum += micro(rate) * BigInt(line.weight);
  }
  return { recomputed: sum / WEIGHT_SCALE, stated: BigInt(entry.shares) };
}

/** Every check of the report's bytes against what the chain holds. Returns
 * [{ok, what}], all ok only if the report is the one on-chain and gives the member exactly
 * the shares the chain holds. */
export function checkReport(bytes, chain) {
  const checks = [];
  const digest = "0x" + bytesToHex(keccak_256(bytes));
  checks.push({
    ok: digest === chain.reportHash.toLowerCase(),
    what:
      digest === chain.reportHash.toLowerCase()
        ? `The report's keccak256 is the one on-chain (${digest}).`
        : `The report's keccak256 ${digest} is not the one on-chain (${chain.reportHash}).`,
  });
  let report;
  try {
    report = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    checks.push({ ok: false, what: "The report is not JSON." });
    return checks;
  }
  const epochOk = BigInt(report.epoch) === chain.epoch;
  checks.push({
    ok: epochOk,
    what: epochOk ? `It is epoch ${chain.epoch}'s report.` : `It is epoch ${report.epoch}'s report, not ${chain.epoch}'s.`,
  });
  let mine;
  try {
    mine = recomputeShares(report, chain.account) ?? { recomputed: 0n, stated: 0n };
  } catch (error) {
    checks.push({ ok: false, what: `Your shares cannot be recomputed: ${error.message}` });
    return checks;
  }
  const sharesOk = mine.recomputed === mine.stated && mine.stated === chain.shares;
  checks.push({
    ok: sharesOk,
    what:
      `Your shares: ${mine.stated} in the report, ${mine.recomputed} recomputed from its ` +
      `weights, ${chain.shares} on-chain.`,
  });
  return checks;
}

/** Root mode: every check of the report's bytes against the chain — its keccak256, its epoch,
 * its tree rebuilt to the root the chain holds for the epoch, the pending total equal to the sum
 * of the leaves (a smaller one would over-pay), and the member's leaf carrying exactly the
 * shares recomputed from the report's weights. `chain`: {reportHash, epoch, root, totalShares
 * (null once in force: leaves lower it), account}. */
export function checkRootReport(bytes, chain) {
  const checks = checkReport(bytes, { ...chain, shares: null }).slice(0, 2);
  let report;
  let rebuilt;
  try {
    report = JSON.parse(new TextDecoder().decode(bytes));
    rebuilt = treeOfReport(report);
  } catch (error) {
    checks.push({ ok: false, what: `The report's tree cannot be rebuilt: ${error.message}` });
    return checks;
  }
  const rootOk = rebuilt.root === chain.root.toLowerCase() && rebuilt.statedRoot === rebuilt.root;
  checks.push({
    ok: rootOk,
    what: rootOk
      ? `Its ${rebuilt.tree.leaves.length} leaves rebuild the root on-chain (${chain.root}).`
      : `Its leaves rebuild root ${rebuilt.root}; the chain holds ${chain.root}.`,
  });
  const sum = rebuilt.tree.leaves.reduce((total, leaf) => total + BigInt(leaf.shares), 0n);
  if (chain.totalShares !== null) {
    const totalOk = sum === chain.totalShares && sum === rebuilt.totalShares;
    checks.push({
      ok: totalOk,
      what: `Total shares: ${sum} in the leaves, ${rebuilt.totalShares} stated, ${chain.totalShares} on-chain.`,
    });
  }
  let mine;
  try {
    mine = recomputeShares(report, chain.account) ?? { recomputed: 0n, stated: 0n };
  } catch (error) {
    checks.push({ ok: false, what: `Your shares cannot be recomputed: ${error.message}` });
    return checks;
  }
  const at = rebuilt.tree.indexOf(chain.account);
  const leafShares = at === null ? 0n : BigInt(rebuilt.tree.leaves[at].shares);
  const sharesOk = mine.recomputed === mine.stated && mine.stated === leafShares;
  checks.push({
    ok: sharesOk,
    what:
      `Your shares: ${mine.stated} in the report, ${mine.recomputed} recomputed from its ` +
      `weights, ${leafShares} in your leaf of the tree.`,
  });
  return checks;
}
