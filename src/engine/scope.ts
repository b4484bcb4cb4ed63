/**
 * Vars as CEL reads them: a whole number is an int, as the literal 3 is, so
 * that `vars.replicas + 1` and `vars.port == 8080` work; a fraction stays a
 * double. The vars themselves stay plain JSON values, for the journal.
 */
export function celVars(value: unknown): unknown {
  if (typeof value === "number") return Number.isSafeInteger(value) ? BigInt(value) : value;
  if (Array.isArray(value)) return value.map(celVars);
  if (value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, celVars(inner)]));
  }
  return value;
}
