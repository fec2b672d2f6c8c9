// The handful of contract calls the page makes, encoded by hand from abi.json's signatures:
// static words (address, uintN, intN, bytes32), static tuples such as DataUnionRoots' Leaf
// `(int256,uint64,uint64)`, and dynamic arrays such as a proof's `bytes32[]` (head/tail, as the
// ABI spec lays them out). Selectors, the event topic and the known errors live in abi.json,
// which a test checks against the compiled contracts: `functions` are the push union's (and its
// token's), `rootsFunctions` DataUnionRoots', whose claim, claimable and leave take a leaf.
import table from "./abi.json";

const WORD_HEX = 64;

function fits(n, bits, signed) {
  const limit = 1n << BigInt(bits);
  return signed ? n >= -(limit >> 1n) && n < limit >> 1n : n >= 0n && n < limit;
}

function intWord(type, value) {
  const signed = type.startsWith("int");
  const bits = Number(type.slice(signed ? 3 : 4) || 256);
  const n = BigInt(value);
  if (!fits(n, bits, signed)) throw new RangeError(`value does not fit in a ${type}`);
  return (n < 0n ? (1n << 256n) + n : n).toString(16).padStart(WORD_HEX, "0");
}

function addressWord(address) {
  if (!/^0x[0-9a-fA-F]{40}$/.test(address)) throw new TypeError(`not an address: ${address}`);
  return address.slice(2).toLowerCase().padStart(WORD_HEX, "0");
}

function bytes32Word(hex) {
  if (!/^0x[0-9a-fA-F]{64}$/.test(hex)) throw new TypeError(`not a bytes32: ${hex}`);
  return hex.slice(2).toLowerCase();
}

/** The comma-separated types of a parameter list, tuples kept whole. */
function splitTypes(inside) {
  const types = [];
  let depth = 0;
  let from = 0;
  for (let i = 0; i < inside.length; i += 1) {
    if (inside[i] === "(") depth += 1;
    else if (inside[i] === ")") depth -= 1;
    else if (inside[i] === "," && depth === 0) {
      types.push(inside.slice(from, i));
      from = i + 1;
    }
  }
  if (inside) types.push(inside.slice(from));
  return types;
}

const isTuple = (type) => type.startsWith("(") && type.endsWith(")");
const components = (type) => splitTypes(type.slice(1, -1));
const isDynamic = (type) =>
  type.endsWith("[]") || (isTuple(type) && components(type).some(isDynamic));

/** `values` encoded as the parameter list `types` (heads, then the dynamic values' tails). */
function encodeList(types, values) {
  if (!Array.isArray(values) || types.length !== values.length) {
    throw new TypeError(`(${types.join(",")}) takes ${types.length} values`);
  }
  const heads = [];
  const tails = [];
  const headWords = types.reduce((n, type) => n + (isDynamic(type) ? 1 : staticWords(type)), 0);
  let tailBytes = headWords * 32;
  types.forEach((type, i) => {
    const encoded = encode(type, values[i]);
    if (isDynamic(type)) {
      heads.push(intWord("uint256", tailBytes));
      tails.push(encoded);
      tailBytes += encoded.length / 2;
    } else {
      heads.push(encoded);
    }
  });
  return heads.join("") + tails.join("");
}

function staticWords(type) {
  return isTuple(type) ? components(type).reduce((n, t) => n + staticWords(t), 0) : 1;
}

function encode(type, value) {
  if (type.endsWith("[]")) {
    const element = type.slice(0, -2);
    if (!Array.isArray(value)) throw new TypeError(`a ${type} takes an array`);
    return intWord("uint256", value.length) + encodeList(value.map(() => element), value);
  }
  if (isTuple(type)) return encodeList(components(type), value);
  if (type === "address") return addressWord(value);
  if (type === "bytes32") return bytes32Word(value);
  if (/^u?int\d*$/.test(type)) return intWord(type, value);
  throw new TypeError(`cannot encode a ${type}`);
}

function encodeCall(fn, name, args) {
  if (!fn) throw new TypeError(`unknown function ${name}`);
  const types = splitTypes(fn.signature.slice(fn.signature.indexOf("(") + 1, -1));
  if (types.length !== args.length) {
    throw new TypeError(`${fn.signature} takes ${types.length} arguments`);
  }
  return fn.selector + encodeList(types, args);
}

/** Calldata for `name(args…)`, a function of the push union or a token listed in abi.json. */
export function calldata(name, ...args) {
  return encodeCall(table.functions[name], name, args);
}

/** Calldata for DataUnionRoots' `name(args…)`; a Leaf is passed as [offset, previousShares,
 * shares], a proof as an array of bytes32 hex strings. */
export function rootsCalldata(name, ...args) {
  return encodeCall(table.rootsFunctions[name], name, args);
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

/** A string return value (ABI-encoded: offset, length, UTF-8 bytes). */
export function string(hex) {
  const body = (hex || "0x").slice(2);
  const at = Number(BigInt("0x" + body.slice(0, WORD_HEX))) * 2;
  const length = Number(BigInt("0x" + body.slice(at, at + WORD_HEX)));
  const bytes = body.slice(at + WORD_HEX, at + WORD_HEX + length * 2);
  return new TextDecoder().decode(Uint8Array.from(bytes.match(/../g) ?? [], (b) => parseInt(b, 16)));
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
