/**
 * Minimal assertions for Deno.test (JSR's @std/assert is unreachable here).
 * @module
 */
export class AssertionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AssertionError";
  }
}

export function assert(cond: unknown, msg = "Assertion failed."): asserts cond {
  if (!cond) throw new AssertionError(msg);
}

function eq(a: unknown, b: unknown): boolean {
  if (a === b || Object.is(a, b)) return true;
  if (a && b && typeof a === "object" && typeof b === "object") {
    if (ArrayBuffer.isView(a) && ArrayBuffer.isView(b)) {
      const x = a as unknown as ArrayLike<number>, y = b as unknown as ArrayLike<number>;
      if (x.length !== y.length) return false;
      for (let i = 0; i < x.length; i++) if (!(x[i] === y[i] || Object.is(x[i], y[i]))) return false;
      return true;
    }
    if (Array.isArray(a) !== Array.isArray(b)) return false;
    const ka = Object.keys(a), kb = Object.keys(b);
    if (ka.length !== kb.length) return false;
    return ka.every((k) => eq((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return false;
}

export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  if (!eq(actual, expected)) {
    throw new AssertionError(
      `${msg ? msg + ": " : ""}values differ.\n  actual:   ${fmt(actual)}\n  expected: ${fmt(expected)}`,
    );
  }
}

export function assertNotEquals<T>(actual: T, expected: T, msg?: string): void {
  if (eq(actual, expected)) {
    throw new AssertionError(`${msg ? msg + ": " : ""}values are equal: ${fmt(actual)}`);
  }
}

export function assertAlmostEquals(actual: number, expected: number, tol = 1e-7, msg?: string): void {
  if (!(Math.abs(actual - expected) <= tol)) {
    throw new AssertionError(`${msg ? msg + ": " : ""}${actual} is not within ${tol} of ${expected}.`);
  }
}

export function assertMatch(actual: string, re: RegExp, msg?: string): void {
  if (!re.test(actual)) throw new AssertionError(`${msg ? msg + ": " : ""}"${actual}" does not match ${re}.`);
}

export function assertStringIncludes(actual: string, part: string, msg?: string): void {
  if (!actual.includes(part)) {
    throw new AssertionError(`${msg ? msg + ": " : ""}"${actual}" does not include "${part}".`);
  }
}

// deno-lint-ignore no-explicit-any
type Ctor = new (...args: any[]) => Error;

export function assertThrows(fn: () => unknown, errorClass: Ctor = Error, includes?: string): Error {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof errorClass)) throw new AssertionError(`Expected ${errorClass.name}, got ${e}`);
    if (includes && !(e as Error).message.includes(includes)) {
      throw new AssertionError(`Error message "${(e as Error).message}" does not include "${includes}".`);
    }
    return e as Error;
  }
  throw new AssertionError("Expected the function to throw.");
}

export async function assertRejects(
  fn: () => Promise<unknown>,
  errorClass: Ctor = Error,
  includes?: string,
): Promise<Error> {
  try {
    await fn();
  } catch (e) {
    if (!(e instanceof errorClass)) throw new AssertionError(`Expected ${errorClass.name}, got ${e}`);
    if (includes && !(e as Error).message.includes(includes)) {
      throw new AssertionError(`Error message "${(e as Error).message}" does not include "${includes}".`);
    }
    return e as Error;
  }
  throw new AssertionError("Expected the promise to reject.");
}

function fmt(v: unknown): string {
  try {
    return JSON.stringify(
      v,
      (_k, x) => (ArrayBuffer.isView(x) ? Array.from(x as unknown as ArrayLike<number>) : x),
    );
  } catch {
    return String(v);
  }
}
