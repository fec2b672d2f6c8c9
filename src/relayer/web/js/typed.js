// The EIP-712 documents the wallet signs. Claim and DataDeletion are in the union's domain (as
// the contract and the relayer define them); Permit is EIP-2612, in the token's own domain.

const DOMAIN = [
  { name: "name", type: "string" },
  { name: "version", type: "string" },
  { name: "chainId", type: "uint256" },
  { name: "verifyingContract", type: "address" },
];

const TYPES = {
  Claim: [
    { name: "member", type: "address" },
    { name: "to", type: "address" },
    { name: "amount", type: "uint256" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
  DataDeletion: [
    { name: "member", type: "address" },
    { name: "deadline", type: "uint256" },
  ],
  Permit: [
    { name: "owner", type: "address" },
    { name: "spender", type: "address" },
    { name: "value", type: "uint256" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
};

function document(primaryType, domain, message) {
  return { types: { EIP712Domain: DOMAIN, [primaryType]: TYPES[primaryType] }, primaryType, domain, message };
}

function unionDomain(config) {
  return { name: "DataUnion", version: "1", chainId: config.chain_id, verifyingContract: config.union };
}

export function claimDocument(config, message) {
  return document("Claim", unionDomain(config), message);
}

export function deletionDocument(config, message) {
  return document("DataDeletion", unionDomain(config), message);
}

export function permitDocument(config, message) {
  const { name, version } = config.token.permit;
  const domain = { name, version, chainId: config.chain_id, verifyingContract: config.token.address };
  return document("Permit", domain, message);
}

/** (v, r, s) of a 65-byte signature. */
export function splitSignature(signature) {
  const hex = signature.slice(2);
  let v = parseInt(hex.slice(128, 130), 16);
  if (v < 27) v += 27;
  return { r: "0x" + hex.slice(0, 64), s: "0x" + hex.slice(64, 128), v };
}
