// The member page: connect a wallet, see earnings, claim (directly or gasless), leave, ask for
// deletion, download a statement; pay a license; estimate earnings before joining.
//
// Where figures come from: claimable and shares are read from the chain through the wallet
// whenever they matter (a claim always uses the chain's figure); the rest (claimed, lifetime,
// per-epoch history) comes from the relayer, which indexes the chain. If the relayer is down the
// page says so, shows what the chain alone tells, and direct claims keep working.
import "../style.css";
import { calldata, revenueDeposited, uint } from "./abi.js";
import { checksummed, short } from "./address.js";
import { renderEarnings } from "./chart.js";
import * as relayer from "./relayer.js";
import { claimDocument, deletionDocument, permitDocument, splitSignature } from "./typed.js";
import { formatUnits, parseUnits } from "./units.js";
import * as wallet from "./wallet.js";

const $ = (id) => document.getElementById(id);
const CLAIM_VALIDITY = 3600n; // seconds of chain time a signed claim or permit stays valid
const DELETION_VALIDITY = 1800; // seconds; the relayer accepts at most an hour ahead
const LICENSE_RECORD_WAIT = 30_000; // ms to wait for the relayer to index a payment
const MEMBER_SECTIONS = ["member", "claim-panel", "membership"];

const state = { config: null, account: null, onChain: false };

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
}

async function connect() {
  if (!wallet.provider()) {
    notice("wallet", wallet.NO_WALLET, "warning");
    return;
  }
  const accounts = await wallet.request("eth_requestAccounts");
  setAccount(accounts[0]);
  await checkChain();
}

async function checkChain() {
  if (!state.account) {
    showMemberSections(false);
    return;
  }
  const chainId = Number(BigInt(await wallet.request("eth_chainId")));
  state.onChain = chainId === state.config.chain_id;
  $("switch-chain").hidden = state.onChain;
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

async function refresh() {
  const { union } = state.config;
  const account = state.account;
  const [shares, total, claimable] = await Promise.all([
    read(union, calldata("sharesOf", account)),
    read(union, calldata("totalShares")),
    read(union, calldata("claimable", account)),
  ]);
  figure("shares", shares.toLocaleString("en"), shares);
  figure("share-of-union", total ? percent(Number((shares * 10n ** 12n) / total) / 1e12) : "0%");
  figure("claimable", money(claimable), claimable);
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
// Claims
// ---------------------------------------------------------------------------------------------

/** The amount to claim: the field's value, or everything claimable (read from the chain). */
async function claimAmount() {
  const available = await read(state.config.union, calldata("claimable", state.account));
  if (available === 0n) throw new Notice("Nothing to claim yet: your claimable balance is 0.");
  const text = $("claim-amount").value;
  if (!text.trim()) return available;
  const amount = parseUnits(text, state.config.token.decimals);
  if (amount === 0n) throw new RangeError("Enter an amount above 0, or leave it empty for all.");
  if (amount > available) throw new RangeError(`You can claim at most ${money(available)}.`);
  return amount;
}

async function claimDirect() {
  const amount = await claimAmount();
  const { union } = state.config;
  const data = calldata("claim", state.account, amount);
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
  const data = calldata("leave");
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

function start() {
  state.config = readConfig();
  if (!state.config) {
    notice("config", "This page lacks the union's details: open it from the relayer's address.");
    $("connect").disabled = true;
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
