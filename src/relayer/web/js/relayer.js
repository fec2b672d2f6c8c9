// The relayer's HTTP API (same origin). Failures come back as {"error": {"code", "message"}};
// a relayer that cannot be reached is told apart, because the page can go on without it.

export const UNREACHABLE =
  "The relayer cannot be reached, so history, gasless claims, statements, deletion requests, " +
  "licenses and estimates are unavailable for now. Your claimable amount is read from the " +
  "chain, and Claim still works: it needs only your wallet.";

export class RelayerError extends Error {
  constructor(kind, message, status = null) {
    super(message);
    this.kind = kind;
    this.status = status;
  }
}

/** JSON with BigInts written as plain integers (the API takes amounts as JSON integers). */
export function jsonBody(value) {
  const marked = JSON.stringify(value, (_, v) => (typeof v === "bigint" ? `#big:${v}` : v));
  return marked.replace(/"#big:(\d+)"/g, "$1");
}

async function fetchOrUnreachable(path, options) {
  let response;
  try {
    response = await fetch(path, options);
  } catch {
    throw new RelayerError("unreachable", UNREACHABLE);
  }
  if (response.ok) return response;
  let message = `The relayer answered ${response.status}.`;
  try {
    message = (await response.json()).error.message || message;
  } catch {
    // a proxy's page, or nothing: with no error body, a gateway status means it is down
    if ([502, 503, 504].includes(response.status)) {
      throw new RelayerError("unreachable", UNREACHABLE, response.status);
    }
  }
  throw new RelayerError("error", message, response.status);
}

export async function get(path) {
  const response = await fetchOrUnreachable(path, { headers: { Accept: "application/json" } });
  return response.json();
}

export async function send(method, path, body) {
  const response = await fetchOrUnreachable(path, {
    method,
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: jsonBody(body),
  });
  return response.json();
}

export async function download(path) {
  const response = await fetchOrUnreachable(path, { headers: { Accept: "text/csv" } });
  return response.blob();
}

/** A response's exact bytes (a report: its keccak256 is checked against the chain). */
export async function bytes(path) {
  const response = await fetchOrUnreachable(path, { headers: { Accept: "application/json" } });
  return new Uint8Array(await response.arrayBuffer());
}
