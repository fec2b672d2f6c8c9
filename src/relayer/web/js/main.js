// The member page: connect a wallet, see earnings, claim (directly or gasless), leave, ask for
// deletion, download a statement; pay a license; estimate earnings before joining.
//
// Where figures come from: claimable and shares are read from the chain through the wallet
// whenever they matter (a claim always uses the chain's figure); the rest (claimed, lifetime,
// per-epoch history) comes from the relayer, which indexes the chain. If the relayer is down the
// page says so, shows what the chain alone tells, and direct claims keep working.
//
// A root-mode union (DataUnionRoots, see roots.js) is told apart on the chain; its claims and
// leave carry the member's leaf and proof, from the relayer or from the published report files
// the member picks. A copy of the page served without the relayer (no union facts embedded:
// `relayer page`, or any static server) starts from such a report: it names the union and its
// chain, and the rest is read from the chain through the wallet.
import "../style.css";
import { calldata, revenueDeposited, rootsCalldata, string, uint, words } from "./abi.js";
import { checksummed, short } from "./address.js";
import { renderEarnings } from "./chart.js";
import { STATE, checkReport, checkRootReport, countdown, decodeState } from "./epoch.js";
import * as relayer from "./relayer.js";
import * as roots from "./roots.js";
import { claimDocument, deletionDocument, permitDocument, splitSignature } from "./typed.js";
import { formatUnits, parseUnits } from "./units.js";
import * as wallet from "./wallet.js";

const $ = (id) => document.getElementById(id);
const CLAIM_VALIDITY = 3600n; // seconds of chain time a signed claim or permit stays valid
const DELETION_VALIDITY = 1800; // seconds; the relayer accepts at most an hour ahead
const LICENSE_RECORD_WAIT = 30_000; // ms to wait for the relayer to index a payment
const MEMBER_SECTIONS = ["member", "epoch-panel", "claim-panel", "membership"];
// Sections that need the relayer: hidden on a copy of the page served without one.
const RELAYER_SECTIONS = ["buyer", "estimator", "claim-gasless", "statement-form", "delete-data"];

const state = {
  config: null,
  account: null,
  onChain: false,
  epoch: null,
  ticker: null,
  offline: false, // no relayer behind this copy of the page
  kind: null, // "push" or "roots", read from the chain
  reports: [], // root mode: the report files picked, parsed and rebuilt
  roots: null, // root mode: the chain's roots, as last read
  proof: null, // root mode: the member's leaves and proofs (roots.memberProof)
  left: false, // root mode: the member left the union (claims then need no leaf)
};

/** A message for the person that is not a failure of the request (e.g. nothing to claim). */
class Notice extends Error {}

// ---------------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------------

function notice(key, message, tone = "error") {
  const box = $("notices");
  let item = box.querySelector(`[data-key="${key}"]`);
  if (!message) {
    item?.remove();
    return;
  }
  if (!item) {
    item = document.createElement("p");
    item.dataset.key = key;
    box.append(item);
  }
  item.className = `notice ${tone}`;
  item.textContent = message;
}

/** One status line in a section: pending, confirmed, failed or info, with the tx hash. */
function status(boxId, tone, message, txHash = undefined) {
  const line = document.createElement("p");
  line.className = `state ${tone}`;
  line.dataset.state = tone;
  line.textContent = message;
  if (txHash) {
    const hash = document.createElement("code");
    hash.className = "tx";
    hash.textContent = txHash;
    line.append(" Transaction ", hash);
  }
  $(boxId).replaceChildren(line);
}

function money(units) {
  return `${formatUnits(units, state.config.token.decimals)} ${state.config.token.symbol}`;
}

/** Run `action` for a section: its buttons disabled meanwhile, its failure shown in `boxId`
 * (or as a page notice when `boxId` is null). */
async function guarded(sectionId, boxId, action) {
  const buttons = [...$(sectionId).querySelectorAll("button")];
  buttons.forEach((button) => (button.disabled = true));
  try {
    if (!boxId) notice("action", null);
    await action();
  } catch (error) {
    const message = error.message || String(error);
    if (boxId) status(boxId, error instanceof Notice ? "info" : "failed", message, error.hash);
    else notice("action", message, error instanceof Notice ? "info" : "error");
    if (error.kind === "unreachable") notice("relayer", relayer.UNREACHABLE, "warning");
    if (error.kind === "no-wallet") notice("wallet", wallet.NO_WALLET, "warning");
  } finally {
    buttons.forEach((button) => (button.disabled = false));
  }
}

/** Follow a transaction: pending with its hash, then confirmed or failed. Returns the receipt. */
async function track(boxId, label, hashPromise) {
  status(boxId, "pending", `${label}: confirm in your wallet…`);
  const hash = await hashPromise;
  status(boxId, "pending", `${label}: pending.`, hash);
  const receipt = await wallet.receipt(hash);
  if (receipt.status !== "0x1") {
    throw Object.assign(new Error(`${label}: failed (the transaction reverted).`), { hash });
  }
  status(boxId, "confirmed", `${label}: confirmed in block ${BigInt(receipt.blockNumber)}.`, hash);
  return receipt;
}

// ---------------------------------------------------------------------------------------------
// Wallet and chain
// ---------------------------------------------------------------------------------------------

async function read(to, data) {
  return uint(await wallet.call(to, data));
}

function setAccount(address) {
  state.account = address ? checksummed(address) : null;
  $("account").hidden = !state.account;
  $("account").textContent = state.account ? `Connected: ${short(state.account)}` : "";
  $("account").title = state.account ?? "";
  $("connect").textContent = state.account ? "Refresh" : "Connect wallet";
}

function showMemberSections(visible) {
  MEMBER_SECTIONS.forEach((id) => ($(id).hidden = !visible));
  $("proof-panel").hidden = !(state.offline || (visible && state.kind === "roots"));
}

async function connect() {
  if (!wallet.provider()) {
    notice("wallet", wallet.NO_WALLET, "warning");
    return;
  }
  if (!state.config) throw new Notice("Pick the union's published report first: it names the union.");
  const accounts = await wallet.request("eth_requestAccounts");
  setAccount(accounts[0]);
  await checkChain();
}

async function checkChain() {
  if (!state.config) return; // a copy without the relayer, before its report is picked
  if (!state.account) {
    showMemberSections(false);
    return;
  }
  const chainId = Number(BigInt(await wallet.request("eth_chainId")));
  state.onChain = chainId === state.config.chain_id;
  $("switch-chain").hidden = state.onChain;
  if (state.onChain && state.kind === null) {
    state.kind = await roots.unionKind(state.config.union);
    // A gasless claim needs the relayer (which adds the leaf and proof in root mode).
    $("claim-gasless").hidden = state.offline;
    $("check-epoch").dataset.kind = state.kind;
  }
  showMemberSections(state.onChain);
  if (!state.onChain) {
    $("switch-text").textContent =
      `Your wallet is on network ${chainId}; this union is on network ` +
      `${state.config.chain_id}. Switch network to see your earnings and claim.`;
    return;
  }
  await refresh();
}

async function switchChain() {
  const chainId = "0x" + state.config.chain_id.toString(16);
  try {
    await wallet.request("wallet_switchEthereumChain", [{ chainId }]);
  } catch (error) {
    const offer = state.config.network;
    if (error.kind !== "unknown-chain" || !offer) throw error;
    // The wallet does not know the chain: offer to add it (the wallet then switches to it).
    await wallet.request("wallet_addEthereumChain", [
      {
        chainId,
        chainName: offer.chain_name,
        rpcUrls: [offer.rpc_url],
        nativeCurrency: { name: offer.gas_currency, symbol: offer.gas_currency, decimals: 18 },
      },
    ]);
  }
  await checkChain();
}

// ---------------------------------------------------------------------------------------------
// Earnings
// ---------------------------------------------------------------------------------------------

function figure(id, text, units = null) {
  $(id).textContent = text;
  if (units === null) delete $(id).dataset.units;
  else $(id).dataset.units = String(units);
}

function percent(fraction) {
  return `${(Number(fraction) * 100).toLocaleString("en", { maximumFractionDigits: 4 })}%`;
}

function renderHistory(history) {
  const { decimals, symbol } = state.config.token;
  renderEarnings($("chart"), history, decimals, symbol);
  const rows = history.map((entry) => {
    const row = document.createElement("tr");
    for (const text of [entry.epoch, entry.shares, entry.earned.formatted]) {
      const cell = document.createElement("td");
      cell.textContent = String(text);
      row.append(cell);
    }
    return row;
  });
  $("history").tBodies[0].replaceChildren(...rows);
}

/** The member's shares and claimable as the chain holds them (in root mode, given their leaf). */
async function chainFigures() {
  const { union } = state.config;
  const account = state.account;
  if (state.kind !== "roots") {
    return Promise.all([
      read(union, calldata("sharesOf", account)),
      read(union, calldata("totalShares")),
      read(union, calldata("claimable", account)),
    ]);
  }
  state.roots = await roots.chainRoots(union);
  const left = (await read(union, rootsCalldata("hasLeft", account))) !== 0n;
  state.left = left;
  if (!left) await loadProof();
  else state.proof = null;
  const total = await read(union, rootsCalldata("totalShares"));
  const claimable =
    left || state.proof?.active
      ? await read(union, rootsCalldata("claimable", account, ...roots.claimArguments(left ? null : state.proof)))
      : 0n;
  return [left ? 0n : (state.proof?.active?.leaf.shares ?? 0n), total, claimable];
}

/** The member's leaf and proof (roots.memberProof), with where they came from said in the
 * proof panel; without a source, the panel asks for the report file. */
async function loadProof() {
  const { active } = state.roots;
  try {
    state.proof = await roots.memberProof(state.account, state.roots, state.reports, {
      union: state.config.union,
      offline: state.offline,
    });
  } catch (error) {
    state.proof = null;
    const message =
      error.kind === "unreachable"
        ? `The relayer cannot be reached: pick epoch ${active.epoch}'s published report to ` +
          "claim or leave with your wallet alone."
        : error.message;
    status("proof-status", error instanceof RangeError ? "failed" : "info", message);
    $("proof-status").dataset.epoch = String(active.epoch);
    return;
  }
  const source = { report: "your report file, rebuilt in this browser", relayer: "the relayer" };
  if (active.epoch === 0n) {
    status("proof-status", "info", "No root is in force yet: there is nothing to prove.");
  } else if (!state.proof.active) {
    status("proof-status", "info", `Epoch ${active.epoch}'s tree has no leaf for your address.`);
  } else {
    status(
      "proof-status",
      "confirmed",
      `Your leaf of epoch ${active.epoch} (root ${active.root.slice(0, 10)}…, checked against the ` +
        `chain) comes from ${source[state.proof.source]}.`,
    );
  }
  $("proof-status").dataset.source = state.proof.source;
}

/** Report files picked by the member: parsed and rebuilt, then the figures refreshed with them
 * (on a copy of the page without the relayer, the first one also names the union). */
async function pickReports() {
  const files = [...$("report-file").files];
  if (!files.length) return;
  status("proof-status", "pending", "Rebuilding the tree from the report…");
  const reports = [];
  for (const file of files) reports.push(roots.parseReport(file.name, await file.text()));
  if (!state.config) await configFromReport(reports[0]);
  state.reports = reports;
  if (!state.account) await connect();
  else await checkChain();
}

/** The union's facts from a report and the chain (the page was served without them). */
async function configFromReport(report) {
  if (!report.union || !Number.isInteger(report.chainId)) {
    throw new RangeError(`${report.name} does not name its union and chain.`);
  }
  if (!wallet.provider()) throw new Notice(wallet.NO_WALLET);
  const union = checksummed(report.union);
  // The token is read from the report's chain: the wallet switches to it first (it asks).
  const chainId = Number(BigInt(await wallet.request("eth_chainId")));
  if (chainId !== report.chainId) {
    await wallet.request("wallet_switchEthereumChain", [{ chainId: "0x" + report.chainId.toString(16) }]);
  }
  const token = await wallet.call(union, rootsCalldata("token"));
  if (!token || token.length < 66) {
    throw new RangeError(
      `${union} on network ${report.chainId} is not a data union: check the report and the ` +
        "network your wallet is on.",
    );
  }
  const address = "0x" + token.slice(26, 66);
  const [decimals, symbol] = await Promise.all([
    read(address, calldata("decimals")),
    wallet.call(address, calldata("symbol")).then(string),
  ]);
  state.config = {
    chain_id: report.chainId,
    union,
    token: { address: checksummed(address), symbol, decimals: Number(decimals), permit: null },
    data_types: [],
  };
  document.querySelectorAll("[data-token-symbol]").forEach((el) => (el.textContent = symbol));
  // The page has only the report's word for the union: the member compares the address.
  notice(
    "config",
    `Union ${union} on network ${report.chainId}, as ${report.name} names it: check that it is ` +
      "your union's address. This copy of the page runs without the relayer.",
    "info",
  );
}

async function refresh() {
  const [shares, total, claimable] = await chainFigures();
  figure("shares", shares.toLocaleString("en"), shares);
  figure("share-of-union", total ? percent(Number((shares * 10n ** 12n) / total) / 1e12) : "0%");
  figure("claimable", money(claimable), claimable);
  await renderEpoch();
  if (state.offline) {
    figure("claimed", "unavailable");
    figure("lifetime", "unavailable");
    $("history-note").textContent = "The history needs the relayer.";
    return;
  }
  const account = state.account;
  let summary = null;
  try {
    summary = await relayer.get(`/v1/members/${account}`);
    notice("relayer", null);
  } catch (error) {
    notice("relayer", error.kind === "unreachable" ? relayer.UNREACHABLE : error.message, "warning");
  }
  if (summary) {
    figure("claimed", money(BigInt(summary.claimed.units)), summary.claimed.units);
    figure("lifetime", money(BigInt(summary.lifetime_earnings.units)), summary.lifetime_earnings.units);
    renderHistory(summary.history);
    $("history-note").textContent = summary.left
      ? `You left the union. ${summary.note}`
      : summary.note;
  } else {
    figure("claimed", "unavailable");
    figure("lifetime", "unavailable");
    $("history-note").textContent = "The history needs the relayer.";
  }
}

// ---------------------------------------------------------------------------------------------
// The epoch: pending (with its countdown), vetoed or in effect; the member's own check
// ---------------------------------------------------------------------------------------------

function utc(seconds) {
  return new Date(Number(seconds) * 1000).toISOString().replace("T", " ").slice(0, 16) + " UTC";
}

/** Seconds until the pending epoch is due, on the chain's clock (its latest block's time when
 * read, plus the time since). */
function secondsLeft(epoch) {
  const now = Number(epoch.chainNow) + (Date.now() - epoch.readAt) / 1000;
  return Math.ceil(Number(epoch.dueAt) - now);
}

function tick() {
  const epoch = state.epoch;
  const line = $("epoch-countdown");
  if (!epoch || epoch.state !== STATE.PENDING) {
    line.hidden = true;
    return;
  }
  const left = secondsLeft(epoch);
  line.hidden = false;
  line.dataset.secondsLeft = String(Math.max(left, 0));
  line.textContent =
    left > 0
      ? `Takes effect in ${countdown(left)} (once finished), unless the guardian vetoes it.`
      : "Due now: anyone may finish it, and its shares then take effect.";
}

async function renderEpoch() {
  const { union } = state.config;
  const [raw, reportHash, chainNow] = await Promise.all([
    wallet.call(union, calldata("attributionState")),
    wallet.call(union, calldata("currentReportHash")),
    wallet.latestBlockTime(),
  ]);
  const epoch = { ...decodeState(raw), reportHash: reportHash.slice(0, 66), chainNow, readAt: Date.now() };
  state.epoch = epoch;
  const line = $("epoch-state");
  const n = epoch.epoch;
  let kind = "finished";
  if (n === 0n) {
    kind = "none";
    line.textContent = "No attribution epoch has been posted yet.";
  } else if (epoch.state === STATE.PENDING) {
    kind = "pending";
    line.textContent =
      state.kind === "roots" && n > 1n
        ? `Epoch ${n} is pending: due ${utc(epoch.dueAt)}. Until it takes effect, revenue is ` +
          "split by the root in force."
        : `Epoch ${n} is pending: due ${utc(epoch.dueAt)}. Revenue arriving now is held and will be ` +
          "split by its shares once it takes effect.";
  } else if (epoch.state === STATE.VETOED) {
    kind = "vetoed";
    line.textContent =
      `Epoch ${n} was vetoed by the guardian: its shares never take effect. Revenue stays held ` +
      "for the next epoch, and nothing already earned moves.";
  } else {
    line.textContent = `Epoch ${n} is in effect: revenue is split by its shares.`;
  }
  line.dataset.state = kind;
  line.dataset.epoch = String(n);
  if (kind === "pending") line.dataset.dueAt = String(epoch.dueAt);
  else delete line.dataset.dueAt;
  // The report of a vetoed root proves nothing on-chain; there is nothing of it to check.
  $("check-epoch").hidden =
    kind === "none" || state.offline || (state.kind === "roots" && kind === "vetoed");
  tick();
  if (!state.ticker) state.ticker = setInterval(tick, 1000);
}

/** Root mode: the root the chain holds for `epoch` (pending, or in force) and, while pending,
 * its total shares. */
async function rootOfEpoch(epoch) {
  const chainRoots = await roots.chainRoots(state.config.union);
  if (chainRoots.pending && chainRoots.pending.epoch === epoch.epoch) {
    const [, total] = words(await wallet.call(state.config.union, rootsCalldata("pendingRoot")));
    return { root: chainRoots.pending.root, totalShares: total };
  }
  return { root: chainRoots.active.root, totalShares: null };
}

async function checkEpoch() {
  const { union } = state.config;
  const account = state.account;
  await renderEpoch();
  const epoch = state.epoch;
  status("epoch-check", "pending", `Fetching epoch ${epoch.epoch}'s report and checking it…`);
  let checks;
  if (state.kind === "roots") {
    const bytes = await relayer.bytes(`/v1/epochs/${epoch.epoch}/report`);
    checks = checkRootReport(bytes, { ...epoch, account, ...(await rootOfEpoch(epoch)) });
  } else {
    const [bytes, shares] = await Promise.all([
      relayer.bytes(`/v1/epochs/${epoch.epoch}/report`),
      read(union, calldata("sharesOf", account)),
    ]);
    checks = checkReport(bytes, { ...epoch, account, shares });
  }
  const agrees = checks.every((c) => c.ok);
  status(
    "epoch-check",
    agrees ? "confirmed" : "failed",
    agrees
      ? `Epoch ${epoch.epoch} checks out: the report is the one on-chain and your shares follow from it.`
      : `Epoch ${epoch.epoch} does not check out: the report and the chain disagree. Tell the union's guardian.`,
  );
  const list = document.createElement("ul");
  list.className = "checks";
  list.id = "epoch-checks";
  list.dataset.result = agrees ? "agrees" : "disagrees";
  for (const check of checks) {
    const item = document.createElement("li");
    item.dataset.ok = String(check.ok);
    item.textContent = `${check.ok ? "✓" : "✗"} ${check.what}`;
    list.append(item);
  }
  $("epoch-check").append(list);
}

// ---------------------------------------------------------------------------------------------
// Claims
// ---------------------------------------------------------------------------------------------

/** The amount to claim: the field's value, or everything claimable (read from the chain). */
async function claimAmount() {
  const available =
    state.kind === "roots"
      ? BigInt($("claimable").dataset.units ?? "0")
      : await read(state.config.union, calldata("claimable", state.account));
  if (available === 0n) throw new Notice("Nothing to claim yet: your claimable balance is 0.");
  const text = $("claim-amount").value;
  if (!text.trim()) return available;
  const amount = parseUnits(text, state.config.token.decimals);
  if (amount === 0n) throw new RangeError("Enter an amount above 0, or leave it empty for all.");
  if (amount > available) throw new RangeError(`You can claim at most ${money(available)}.`);
  return amount;
}

async function claimDirect() {
  if (state.kind === "roots") {
    await refresh(); // the leaf's claimable against the chain as it is now
    if (!state.left && !state.proof?.active) {
      throw new Notice("Your leaf is needed to claim: pick the epoch's published report above.");
    }
  }
  const amount = await claimAmount();
  const { union } = state.config;
  const data =
    state.kind === "roots"
      ? rootsCalldata("claim", state.account, amount, ...roots.claimArguments(state.proof))
      : calldata("claim", state.account, amount);
  await track("claim-status", `Claim of ${money(amount)}`, wallet.send(state.account, union, data));
  $("claim-amount").value = "";
  await refresh();
}

// The relayer's gasless claim policy (GET /v1/union `claim_policy`), shown beside the button and
// checked here first so that a claim it would refuse is not signed in vain.
function describePolicy() {
  const policy = state.config.claim_policy;
  if (!policy) return;
  $("gasless-policy").textContent =
    `Claim without gas relays claims of at least ${money(BigInt(policy.min_amount))}, ` +
    `up to ${policy.max_per_member_per_day} a day for each member; for less, use Claim.`;
  $("gasless-policy").dataset.minAmount = policy.min_amount;
}

// The transaction hash of a relayed claim: at once when the relayer has broadcast it, else from
// following the claim (GET /v1/claims/{id}) while the relayer re-sends it.
async function relayedHash(claim) {
  const until = Date.now() + 120_000;
  let current = claim;
  while (!current.tx_hash) {
    if (Date.now() > until) throw new Error(`The relayer still holds claim ${claim.id}: check back later.`);
    await new Promise((resolve) => setTimeout(resolve, 500));
    current = await relayer.get(`/v1/claims/${claim.id}`);
  }
  return current.tx_hash;
}

async function claimGasless() {
  const amount = await claimAmount();
  const policy = state.config.claim_policy;
  if (policy && amount < BigInt(policy.min_amount)) {
    throw new RangeError(
      `Claim without gas takes at least ${money(BigInt(policy.min_amount))}: use Claim for less.`,
    );
  }
  const { union } = state.config;
  const member = state.account;
  const nonce = await read(union, calldata("nonces", member));
  const deadline = (await wallet.latestBlockTime()) + CLAIM_VALIDITY;
  const message = { member, to: member, amount, nonce, deadline };
  status("claim-status", "pending", "Sign the claim in your wallet…");
  const signature = await wallet.signTypedData(member, claimDocument(state.config, message));
  status("claim-status", "pending", "Sending your signed claim to the relayer…");
  const relayed = relayer
    .send("POST", "/v1/claims", { member, to: member, amount, deadline, signature })
    .then(relayedHash);
  await track("claim-status", `Gasless claim of ${money(amount)}`, relayed);
  $("claim-amount").value = "";
  await refresh();
}

// ---------------------------------------------------------------------------------------------
// Membership
// ---------------------------------------------------------------------------------------------

async function downloadStatement() {
  const year = Number($("statement-year").value);
  if (!Number.isInteger(year) || year < 2000 || year > 2100) {
    throw new RangeError("Enter a year between 2000 and 2100.");
  }
  const path = `/v1/members/${state.account}/statement?year=${year}&format=csv`;
  const blob = await relayer.download(path);
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = `statement-${state.account}-${year}.csv`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  status("membership-status", "confirmed", `Statement for ${year} downloaded.`);
}

async function requestDeletion() {
  const member = state.account;
  const deadline = BigInt(Math.floor(Date.now() / 1000) + DELETION_VALIDITY);
  status("membership-status", "pending", "Sign the deletion request in your wallet…");
  const consent = deletionDocument(state.config, { member, deadline });
  const signature = await wallet.signTypedData(member, consent);
  const done = await relayer.send("DELETE", `/v1/members/${member}/data`, { deadline, signature });
  status(
    "membership-status",
    "confirmed",
    `Deleted ${done.deleted} contribution record${done.deleted === 1 ? "" : "s"}: ${done.note}.`,
  );
}

async function leave() {
  $("leave-confirm").hidden = true;
  let data = calldata("leave");
  if (state.kind === "roots") {
    await refresh();
    data = rootsCalldata("leave", ...roots.leaveArguments(state.proof, state.roots));
  }
  await track("membership-status", "Leaving the union", wallet.send(state.account, state.config.union, data));
  await refresh();
}

// ---------------------------------------------------------------------------------------------
// Buyers
// ---------------------------------------------------------------------------------------------

function renderLicenses(licenses) {
  const items = licenses.map((license) => {
    const item = document.createElement("li");
    const title = document.createElement("strong");
    title.textContent = license.title;
    const facts = document.createElement("span");
    facts.textContent = ` — ${license.id}, ${money(BigInt(license.price.units))}`;
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = "Pay this license";
    button.setAttribute("aria-label", `Pay license ${license.title}`);
    button.addEventListener("click", () => guarded("buyer", "buyer-status", () => pay(license)));
    item.append(title, facts, " ", button);
    return item;
  });
  if (!items.length) {
    const none = document.createElement("li");
    none.textContent = "No license is offered yet.";
    items.push(none);
  }
  $("licenses").replaceChildren(...items);
}

async function loadLicenses() {
  try {
    renderLicenses((await relayer.get("/v1/licenses")).licenses);
  } catch (error) {
    $("licenses").replaceChildren();
    status("buyer-status", "failed", error.message);
    if (error.kind === "unreachable") notice("relayer", relayer.UNREACHABLE, "warning");
  }
}

async function requireMemberWallet() {
  if (!state.account) await connect();
  if (!state.account) throw new Notice("Connect a wallet first.");
  if (!state.onChain) throw new Notice("Switch your wallet to the union's network first.");
}

async function pay(license) {
  await requireMemberWallet();
  const { union, token } = state.config;
  const buyer = state.account;
  const price = BigInt(license.price.units);
  const balance = await read(token.address, calldata("balanceOf", buyer));
  if (balance < price) {
    throw new RangeError(`Your balance is ${money(balance)}; this license costs ${money(price)}.`);
  }
  const label = `Payment for ${license.id}`;
  let receipt;
  if ($("pay-method").value === "permit") {
    const nonce = await read(token.address, calldata("nonces", buyer));
    const deadline = (await wallet.latestBlockTime()) + CLAIM_VALIDITY;
    status("buyer-status", "pending", "Sign the permit in your wallet…");
    const permit = permitDocument(state.config, { owner: buyer, spender: union, value: price, nonce, deadline });
    const { v, r, s } = splitSignature(await wallet.signTypedData(buyer, permit));
    const data = calldata("depositWithPermit", price, license.license_id, deadline, v, r, s);
    receipt = await track("buyer-status", label, wallet.send(buyer, union, data));
  } else {
    const allowance = await read(token.address, calldata("allowance", buyer, union));
    if (allowance < price) {
      const approval = calldata("approve", union, price);
      await track("buyer-status", "Approval", wallet.send(buyer, token.address, approval));
    }
    const data = calldata("deposit", price, license.license_id);
    receipt = await track("buyer-status", label, wallet.send(buyer, union, data));
  }
  showReceipt(license, receipt);
  await awaitRecorded(license, receipt.transactionHash);
}

function showReceipt(license, receipt) {
  const event = revenueDeposited(receipt, state.config.union);
  const facts = [
    ["License", `${license.title} (${license.id})`],
    ["Transaction", receipt.transactionHash],
    ["Block", String(BigInt(receipt.blockNumber))],
  ];
  if (event) {
    facts.push(
      ["Received by the union", money(event.amount)],
      ["Operator fee", money(event.fee)],
      ["Shared by the members", money(event.amount - event.fee)],
    );
  }
  const list = document.createElement("dl");
  list.className = "receipt";
  list.id = "receipt";
  for (const [term, value] of facts) {
    const dt = document.createElement("dt");
    dt.textContent = term;
    const dd = document.createElement("dd");
    dd.textContent = value;
    list.append(dt, dd);
  }
  $("buyer-status").append(list);
}

/** Wait until the relayer has indexed the payment, then show the license's total. */
async function awaitRecorded(license, txHash) {
  const line = document.createElement("p");
  line.id = "license-recorded";
  line.textContent = "Waiting for the relayer to record the payment…";
  $("buyer-status").append(line);
  const until = Date.now() + LICENSE_RECORD_WAIT;
  while (Date.now() < until) {
    try {
      const detail = await relayer.get(`/v1/licenses/${license.id}`);
      if (detail.deposits.some((deposit) => deposit.tx_hash === txHash)) {
        line.textContent =
          `Recorded by the relayer: ${detail.deposits.length} payment(s) for this license, ` +
          `${money(BigInt(detail.total_paid.units))} in total.`;
        line.dataset.totalPaid = detail.total_paid.units;
        return;
      }
    } catch (error) {
      line.textContent = `The payment is on-chain; the relayer could not be asked: ${error.message}`;
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  line.textContent = "The payment is on-chain; the relayer has not recorded it yet.";
}

// ---------------------------------------------------------------------------------------------
// Estimator
// ---------------------------------------------------------------------------------------------

async function estimate() {
  const form = new FormData($("estimate-form"));
  const query = new URLSearchParams();
  for (const [name, value] of form) query.set(name, String(value).trim() || "0");
  status("estimate-result", "pending", "Estimating…");
  const result = await relayer.get(`/v1/estimate?${query}`);
  const headline = result.monthly_earnings
    ? `About ${money(BigInt(result.monthly_earnings.units))} a month`
    : `No estimate: ${result.reason}`;
  status("estimate-result", "info", `${headline} (${Number(result.shares).toLocaleString("en")} shares an epoch).`);
  const disclaimer = document.createElement("p");
  disclaimer.className = "note";
  disclaimer.textContent = result.disclaimer;
  $("estimate-result").append(disclaimer);
}

// ---------------------------------------------------------------------------------------------
// Start
// ---------------------------------------------------------------------------------------------

function readConfig() {
  try {
    const config = JSON.parse($("union-config").textContent);
    return config && config.union && config.token ? config : null;
  } catch {
    return null;
  }
}

function wire() {
  $("connect").addEventListener("click", () => guarded("wallet-bar", null, connect));
  $("switch").addEventListener("click", () => guarded("switch-chain", null, switchChain));
  $("claim-form").addEventListener("submit", (event) => {
    event.preventDefault();
    guarded("claim-panel", "claim-status", claimDirect);
  });
  $("report-file").addEventListener("change", () => guarded("proof-panel", "proof-status", pickReports));
  $("check-epoch").addEventListener("click", () => guarded("epoch-panel", "epoch-check", checkEpoch));
  $("claim-gasless").addEventListener("click", () =>
    guarded("claim-panel", "claim-status", claimGasless),
  );
  $("statement-form").addEventListener("submit", (event) => {
    event.preventDefault();
    guarded("membership", "membership-status", downloadStatement);
  });
  $("delete-data").addEventListener("click", () =>
    guarded("membership", "membership-status", requestDeletion),
  );
  $("leave").addEventListener("click", () => {
    $("leave-confirm").hidden = false;
    $("leave-yes").focus();
  });
  $("leave-no").addEventListener("click", () => ($("leave-confirm").hidden = true));
  $("leave-yes").addEventListener("click", () =>
    guarded("membership", "membership-status", leave),
  );
  $("estimate-form").addEventListener("submit", (event) => {
    event.preventDefault();
    guarded("estimator", "estimate-result", estimate);
  });
  wallet.on("accountsChanged", (accounts) => {
    setAccount(accounts[0] ?? null);
    guarded("wallet-bar", null, checkChain);
  });
  wallet.on("chainChanged", () => guarded("wallet-bar", null, checkChain));
}

/** A copy of the page served without the relayer: it starts from a published report. */
function startOffline() {
  state.offline = true;
  RELAYER_SECTIONS.forEach((id) => ($(id).hidden = true));
  $("proof-panel").hidden = false;
  $("proof-title").textContent = "Claim with the union's published report";
  notice(
    "config",
    "This copy of the page runs without the relayer: pick the union's published report of the " +
      "epoch in force to see your earnings, claim or leave from your wallet.",
    "info",
  );
  wire();
  if (!wallet.provider()) notice("wallet", wallet.NO_WALLET, "warning");
  document.body.dataset.ready = "true";
  document.body.dataset.offline = "true";
}

function start() {
  state.config = readConfig();
  if (!state.config) {
    startOffline();
    return;
  }
  const { token, data_types: dataTypes } = state.config;
  document.querySelectorAll("[data-token-symbol]").forEach((el) => (el.textContent = token.symbol));
  if (!token.permit) $("pay-method").querySelector('[value="permit"]').remove();
  $("estimate-type").replaceChildren(
    ...dataTypes.map((name) => Object.assign(document.createElement("option"), { value: name, textContent: name })),
  );
  $("statement-year").value = String(new Date().getUTCFullYear());
  describePolicy();
  wire();
  if (!wallet.provider()) notice("wallet", wallet.NO_WALLET, "warning");
  document.body.dataset.ready = "true";
  loadLicenses();
}

start();
