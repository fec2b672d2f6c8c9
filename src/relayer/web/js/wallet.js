// The connected EIP-1193 wallet (window.ethereum): requests, with the wallet's errors turned into
// messages a person can act on; chain reads go through the wallet too, so claiming needs
// nothing but the wallet and the chain.
import { revertMessage } from "./abi.js";

export const NO_WALLET =
  "No wallet found. Install a browser wallet (for example MetaMask or Rabby), then reload this " +
  "page. You can still browse licenses and use the estimator.";
export const REJECTED = "You rejected the request in your wallet: nothing was signed or sent.";

export class WalletError extends Error {
  constructor(kind, message) {
    super(message);
    this.kind = kind;
  }
}

export function provider() {
  return window.ethereum ?? null;
}

function revertData(error) {
  const candidates = [
    error?.data,
    error?.data?.data,
    error?.data?.originalError?.data,
    error?.error?.data,
    error?.cause?.data,
  ];
  return candidates.find((value) => typeof value === "string" && value.startsWith("0x")) ?? null;
}

function walletError(error) {
  if (error instanceof WalletError) return error;
  const code = error?.code;
  if (code === 4001) return new WalletError("rejected", REJECTED);
  if (code === -32002) {
    return new WalletError("pending", "A request is already waiting in your wallet: open it.");
  }
  if (code === 4902) {
    return new WalletError(
      "unknown-chain",
      "Your wallet does not know this network yet: add it in the wallet (its RPC address comes " +
        "from the union's operator), then switch.",
    );
  }
  const known = revertMessage(revertData(error));
  if (known) return new WalletError("reverted", known);
  const detail = error?.message ?? String(error);
  return new WalletError("wallet", `The wallet could not do it: ${detail}`);
}

export async function request(method, params) {
  const eth = provider();
  if (!eth) throw new WalletError("no-wallet", NO_WALLET);
  try {
    return await eth.request(params === undefined ? { method } : { method, params });
  } catch (error) {
    throw walletError(error);
  }
}

export function call(to, data) {
  return request("eth_call", [{ to, data }, "latest"]);
}

export function send(from, to, data) {
  return request("eth_sendTransaction", [{ from, to, data }]);
}

/** Sign an EIP-712 document (values that are BigInts are sent as decimal strings). */
export function signTypedData(account, document) {
  const json = JSON.stringify(document, (_, v) => (typeof v === "bigint" ? v.toString() : v));
  return request("eth_signTypedData_v4", [account, json]);
}

export async function latestBlockTime() {
  const block = await request("eth_getBlockByNumber", ["latest", false]);
  return BigInt(block.timestamp);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The receipt of `hash` once mined (polled through the wallet). */
export async function receipt(hash, { interval = 400, timeout = 600_000 } = {}) {
  const until = Date.now() + timeout;
  for (;;) {
    const found = await request("eth_getTransactionReceipt", [hash]);
    if (found) return found;
    if (Date.now() > until) {
      throw new WalletError("timeout", `No receipt for ${hash} yet: check it in your wallet.`);
    }
    await sleep(interval);
  }
}

export function on(event, handler) {
  provider()?.on?.(event, handler);
}
