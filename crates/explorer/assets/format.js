// Formats: hashes, times, amounts, addresses (Bech32 and hex), base64 and
// a small strict CBOR decoder and encoder for ParaTime transactions and
// queries.

/** `s` shortened to its ends, for tables (the full value stays in the title). */
export function short(s, n = 8) {
  s = String(s);
  return s.length <= 2 * n + 1 ? s : s.slice(0, n) + '…' + s.slice(-n);
}

/** Seconds since the Unix epoch as an ISO time (UTC). */
export function time(seconds) {
  if (seconds === undefined || seconds === null) return '—';
  return new Date(Number(seconds) * 1000).toISOString().replace('T', ' ').replace('.000Z', ' UTC');
}

/** A base-unit amount (decimal string or number) with thousands separators. */
export function amount(v) {
  if (v === undefined || v === null) return '—';
  const s = String(v);
  if (!/^[0-9]+$/.test(s)) return s;
  return s.replace(/\B(?=(\d{3})+(?!\d))/g, '\u202f');
}

/** A hex quantity (`0x..`) as a decimal amount. */
export function hexAmount(v) {
  if (typeof v !== 'string' || !/^0x[0-9a-fA-F]*$/.test(v)) return String(v ?? '—');
  return amount(v === '0x' ? '0' : BigInt(v).toString());
}

/** A hex quantity as a Number (for heights and counts). */
export function hexNumber(v) {
  return typeof v === 'string' && /^0x[0-9a-fA-F]+$/.test(v) ? Number(BigInt(v)) : Number(v);
}

export function base64ToBytes(b64) {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function bytesToBase64(bytes) {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

export function bytesToHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export function hexToBytes(hex) {
  hex = hex.replace(/^0x/, '');
  if (hex.length % 2 || !/^[0-9a-fA-F]*$/.test(hex)) throw new Error('not hex');
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

// Bech32 (BIP-173), as Oasis addresses use it with the `oasis` prefix.
const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';

function polymod(values) {
  const G = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk ^= G[i];
  }
  return chk;
}

function hrpExpand(hrp) {
  const out = [];
  for (const c of hrp) out.push(c.charCodeAt(0) >>> 5);
  out.push(0);
  for (const c of hrp) out.push(c.charCodeAt(0) & 31);
  return out;
}

function convert(data, from, to, pad) {
  let acc = 0, bits = 0;
  const out = [], max = (1 << to) - 1;
  for (const v of data) {
    acc = (acc << from) | v;
    bits += from;
    while (bits >= to) { bits -= to; out.push((acc >>> bits) & max); }
  }
  if (pad && bits > 0) out.push((acc << (to - bits)) & max);
  else if (!pad && (bits >= from || ((acc << (to - bits)) & max))) throw new Error('bad padding');
  return out;
}

/** 21 address bytes as `oasis1…`. */
export function bech32Address(bytes) {
  const data = convert(bytes, 8, 5, true);
  const values = hrpExpand('oasis').concat(data, [0, 0, 0, 0, 0, 0]);
  const mod = polymod(values) ^ 1;
  const checksum = [];
  for (let i = 0; i < 6; i++) checksum.push((mod >>> (5 * (5 - i))) & 31);
  return 'oasis1' + data.concat(checksum).map((d) => CHARSET[d]).join('');
}

/** `oasis1…` as its 21 bytes (throws when it is not a valid address). */
export function addressBytes(text) {
  const s = text.toLowerCase();
  if (!s.startsWith('oasis1') || s !== text && text.toUpperCase() !== text) throw new Error('not an address');
  const data = [];
  for (const c of s.slice(6)) {
    const d = CHARSET.indexOf(c);
    if (d < 0) throw new Error('not an address');
    data.push(d);
  }
  if (polymod(hrpExpand('oasis').concat(data)) !== 1) throw new Error('bad checksum');
  const bytes = convert(data.slice(0, -6), 5, 8, false);
  if (bytes.length !== 21) throw new Error('not an address');
  return new Uint8Array(bytes);
}

/** Whether `s` is an `oasis1…` address with a valid checksum. */
export function isOasisAddress(s) {
  try { addressBytes(s); return true; } catch { return false; }
}

/** A `0x` + 42 hex digit address of an account in a ParaTime as `oasis1…`. */
export function hexAddressToBech32(hex) {
  try { return bech32Address(hexToBytes(hex)); } catch { return hex; }
}

// Canonical CBOR, as much as the ParaTime transactions and queries use.
/** Decodes CBOR bytes; byte strings come back as Uint8Array, big integers as BigInt. */
export function cborDecode(bytes) {
  let pos = 0;
  const need = (n) => { if (pos + n > bytes.length) throw new Error('truncated CBOR'); };
  const uint = (info) => {
    if (info < 24) return info;
    const len = { 24: 1, 25: 2, 26: 4, 27: 8 }[info];
    if (!len) throw new Error('unsupported CBOR length');
    need(len);
    let v = 0n;
    for (let i = 0; i < len; i++) v = (v << 8n) | BigInt(bytes[pos++]);
    return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const item = (depth) => {
    if (depth > 64) throw new Error('CBOR too deep');
    need(1);
    const b = bytes[pos++];
    const major = b >> 5, info = b & 31;
    switch (major) {
      case 0: return uint(info);
      case 1: { const v = uint(info); return typeof v === 'bigint' ? -1n - v : -1 - v; }
      case 2: { const n = Number(uint(info)); need(n); const v = bytes.slice(pos, pos + n); pos += n; return v; }
      case 3: { const n = Number(uint(info)); need(n); const v = new TextDecoder('utf-8', { fatal: true }).decode(bytes.slice(pos, pos + n)); pos += n; return v; }
      case 4: { const n = Number(uint(info)); if (n > bytes.length) throw new Error('bad CBOR'); const v = []; for (let i = 0; i < n; i++) v.push(item(depth + 1)); return v; }
      case 5: {
        const n = Number(uint(info)); if (n > bytes.length) throw new Error('bad CBOR');
        const v = new Map();
        for (let i = 0; i < n; i++) { const k = item(depth + 1); v.set(typeof k === 'string' ? k : JSON.stringify(plain(k)), item(depth + 1)); }
        return v;
      }
      case 6: uint(info); return item(depth + 1);
      case 7:
        if (info === 20) return false;
        if (info === 21) return true;
        if (info === 22 || info === 23) return null;
        throw new Error('unsupported CBOR simple value');
    }
    throw new Error('bad CBOR');
  };
  const v = item(0);
  if (pos !== bytes.length) throw new Error('trailing bytes after CBOR');
  return v;
}

/** A decoded CBOR value as plain JSON-able data (bytes as 0x hex, maps as objects). */
export function plain(v) {
  if (v instanceof Uint8Array) return '0x' + bytesToHex(v);
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) return v.map(plain);
  if (v instanceof Map) { const o = {}; for (const [k, x] of v) o[k] = plain(x); return o; }
  return v;
}

/** Encodes maps (JS objects, keys sorted canonically), text, bytes, arrays and small integers. */
export function cborEncode(v) {
  const out = [];
  const head = (major, n) => {
    if (n < 24) out.push((major << 5) | n);
    else if (n < 0x100) out.push((major << 5) | 24, n);
    else if (n < 0x10000) out.push((major << 5) | 25, n >> 8, n & 255);
    else out.push((major << 5) | 26, (n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255);
  };
  const enc = (x) => {
    if (x instanceof Uint8Array) { head(2, x.length); out.push(...x); }
    else if (typeof x === 'string') { const b = new TextEncoder().encode(x); head(3, b.length); out.push(...b); }
    else if (typeof x === 'number' && Number.isInteger(x) && x >= 0 && x < 2 ** 32) head(0, x);
    else if (Array.isArray(x)) { head(4, x.length); x.forEach(enc); }
    else if (x && typeof x === 'object') {
      const keys = Object.keys(x).sort((a, b) => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0));
      head(5, keys.length);
      for (const k of keys) { enc(k); enc(x[k]); }
    } else throw new Error('cannot encode ' + typeof x);
  };
  enc(v);
  return new Uint8Array(out);
}

const AMOUNT_KEYS = /^(amount|shares|balance|amount_change|fee)$/;

/**
 * A decoded body made readable: 21-byte addresses (`0x00…`, 42 hex digits)
 * as `oasis1…`, and hex amounts under amount-like keys as decimals.
 */
export function readable(v, key = '') {
  if (typeof v === 'string' && /^0x[0-9a-f]{42}$/.test(v)) {
    const a = hexAddressToBech32(v);
    return a.startsWith('oasis1') ? a : v;
  }
  if (typeof v === 'string' && AMOUNT_KEYS.test(key) && /^0x[0-9a-f]*$/.test(v)) {
    return v === '0x' ? '0' : BigInt(v).toString();
  }
  if (Array.isArray(v)) {
    // An SDK amount is [amount, denomination].
    if (AMOUNT_KEYS.test(key) && v.length === 2 && typeof v[0] === 'string') {
      return [readable(v[0], key), v[1] === '0x' ? 'native' : v[1]];
    }
    return v.map((x) => readable(x, key));
  }
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, readable(x, k)]));
  return v;
}
