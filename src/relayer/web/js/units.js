// Token amounts as BigInt base units: parsed from and formatted to decimal text exactly.

/** `units` as whole tokens, with at least `minFraction` decimals and no trailing zeros beyond. */
export function formatUnits(units, decimals, minFraction = 2) {
  const value = BigInt(units);
  const sign = value < 0n ? "-" : "";
  const abs = value < 0n ? -value : value;
  const scale = 10n ** BigInt(decimals);
  const whole = (abs / scale).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  let fraction = (abs % scale).toString().padStart(decimals, "0").replace(/0+$/, "");
  fraction = fraction.padEnd(Math.min(minFraction, decimals), "0");
  return sign + whole + (fraction ? "." + fraction : "");
}

/** Base units of a decimal amount typed by a person ("12", "12.5", "0.000001"). */
export function parseUnits(text, decimals) {
  const clean = text.trim().replace(/,/g, "");
  const match = /^(\d*)(?:\.(\d*))?$/.exec(clean);
  if (!match || clean === "" || clean === ".") {
    throw new RangeError("Enter an amount such as 12.5");
  }
  const [, whole, fraction = ""] = match;
  if (fraction.length > decimals) {
    throw new RangeError(`The token has ${decimals} decimals: use at most ${decimals} places`);
  }
  return BigInt(whole || "0") * 10n ** BigInt(decimals) + BigInt(fraction.padEnd(decimals, "0") || "0");
}
