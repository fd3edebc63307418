// What the Rust test harness (tests/e2e/evm.rs) passes in.
import { compile } from './compile.mjs';

function need(name) {
  const v = process.env[name];
  if (!v) {
    throw new Error(`${name} is not set: these tests run against a localnet started by tests/e2e/evm.rs`);
  }
  return v;
}

export const HTTP_URL = need('ATOLL_WEB3_HTTP');
export const WS_URL = need('ATOLL_WEB3_WS');
/// Funded Ethereum keys (0x hex), comma-separated; each test file uses its own.
export const KEYS = need('ATOLL_ETH_KEYS').split(',');
export const CHAIN_ID = BigInt(need('ATOLL_CHAIN_ID'));

export const CONTRACTS = compile();

/// Resolves `fn()` once it returns a truthy value, polling every `ms`, at
/// most `tries` times (bounded: a test never hangs).
export async function eventually(fn, what, tries = 100, ms = 100) {
  let last;
  for (let i = 0; i < tries; i++) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, ms));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last}` : ''}`);
}

/// Rejects if `p` does not settle in `ms`.
export function within(p, ms, what) {
  let t;
  const timeout = new Promise((_, rej) => {
    t = setTimeout(() => rej(new Error(`timed out: ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(t));
}
