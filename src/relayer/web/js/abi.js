// The handful of contract calls the page makes, encoded by hand: every argument is a static
// type, so each is one 32-byte word. Selectors, the event topic and the known errors live in
// abi.json, which a test checks against the compiled contracts.
import table from "./abi.json";

const WORD_HEX = 64;
const UINT256_LIMIT = 1n << 256n;

function uintWord(value) {
  const n = BigInt(value);
  if (n < 0n || n >= UINT256_LIMIT) throw new RangeError("value does not fit in a uint256");
  return n.toString(16).padStart(WORD_HEX, "0");
}

function addressWord(address) {
  if (!/^0x[0-9a-fA-F]{40}$/.test(address)) throw new TypeError(`not an address: ${address}`);
  return address.slice(2).toLowerCase().padStart(WORD_HEX, "0");
}

function bytes32Word(hex) {
  if (!/^0x[0-9a-fA-F]{64}$/.test(hex)) throw new TypeError(`not a bytes32: ${hex}`);
  return hex.slice(2).toLowerCase();
}

const ENCODERS = { address: addressWord, uint256: uintWord, uint8: uintWord, bytes32: bytes32Word };

function argumentTypes(signature) {
  const inside = signature.slice(signature.indexOf("(") + 1, -1);
  return inside ? inside.split(",") : [];
}

/** Calldata for `name(args…)`, a function listed in abi.json. */
export function calldata(name, ...args) {
  const fn = table.functions[name];
  if (!fn) throw new TypeError(`unknown function ${name}`);
  const types = argumentTypes(fn.signature);
  if (types.length !== args.length) {
    throw new TypeError(`${fn.signature} takes ${types.length} arguments`);
  }
  return fn.selector + types.map((type, i) => ENCODERS[type](args[i])).join("");
}

/** The 32-byte words of ABI-encoded data, as BigInts. */
export function words(hex) {
  const body = (hex || "0x").slice(2);
  const out = [];
  for (let at = 0; at + WORD_HEX <= body.length; at += WORD_HEX) {
    out.push(BigInt("0x" + body.slice(at, at + WORD_HEX)));
  }
  return out;
}

/** A uint256 return value. */
export function uint(hex) {
  const [value] = words(hex);
  if (value === undefined) throw new TypeError("the call returned no value");
  return value;
}

/** A readable message for revert data that carries one of the known custom errors. */
export function revertMessage(data) {
  if (typeof data !== "string" || data.length < 10) return null;
  return table.errors[data.slice(0, 10).toLowerCase()]?.message ?? null;
}

/** The union's RevenueDeposited log in a receipt: {payer, licenseId, amount, fee}, or null. */
export function revenueDeposited(receipt, union) {
  const topic = table.events.RevenueDeposited.topic;
  const log = (receipt.logs || []).find(
    (entry) => entry.address.toLowerCase() === union.toLowerCase() && entry.topics[0] === topic,
  );
  if (!log) return null;
  const [amount, fee] = words(log.data);
  return {
    payer: "0x" + log.topics[1].slice(26),
    licenseId: log.topics[2],
    amount,
    fee,
  };
}
