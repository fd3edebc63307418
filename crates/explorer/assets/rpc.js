// The node's JSON-RPC API (same origin, HTTP and WebSocket) and the
// Ethereum JSON-RPC of its EVM ParaTimes (same host, their own ports).

let nextId = 1;

/** An answer's error as an Error carrying the JSON-RPC code. */
function rpcError(e) {
  const err = new Error(e.message || 'error ' + e.code);
  err.code = e.code;
  return err;
}

async function post(url, body) {
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!r.ok) throw new Error(`HTTP ${r.status} from ${url}`);
  return r.json();
}

/** Calls `method` of the node API. */
export async function call(method, params = []) {
  const a = await post('/', { jsonrpc: '2.0', id: nextId++, method, params });
  if (a.error) throw rpcError(a.error);
  return a.result;
}

/** Calls `method`, answering `null` when the node says "not found" (-32004). */
export async function maybe(method, params = []) {
  try { return await call(method, params); } catch (e) { if (e.code === -32004) return null; throw e; }
}

/** Many calls in one batch: each answer, or an Error, in order. */
export async function batch(calls, url = '/') {
  if (!calls.length) return [];
  const first = nextId;
  nextId += calls.length;
  const body = calls.map(([method, params], i) => ({ jsonrpc: '2.0', id: first + i, method, params: params || [] }));
  const answers = await post(url, body);
  const byId = new Map((Array.isArray(answers) ? answers : [answers]).map((a) => [a.id, a]));
  return body.map((c) => {
    const a = byId.get(c.id);
    if (!a) return new Error('no answer');
    return a.error ? rpcError(a.error) : a.result;
  });
}

let settings = null;
/** What the node told the page about itself (`settings.json`: web3 ports). */
export async function nodeSettings() {
  if (!settings) {
    const r = await fetch('/explorer/settings.json');
    settings = r.ok ? await r.json() : { web3: [] };
  }
  return settings;
}

/** The Ethereum JSON-RPC URL of EVM ParaTime `runtime` on this node, if it has one. */
export async function web3Url(runtime) {
  const s = await nodeSettings();
  const w = s.web3.find((x) => x.runtime === runtime);
  return w ? `${location.protocol}//${location.hostname}:${w.port}` : null;
}

/** Calls `method` of the Ethereum JSON-RPC of `runtime`. */
export async function eth(runtime, method, params = []) {
  const url = await web3Url(runtime);
  if (!url) throw new Error('this node serves no Ethereum JSON-RPC for this ParaTime');
  const a = await post(url, { jsonrpc: '2.0', id: nextId++, method, params });
  if (a.error) throw rpcError(a.error);
  return a.result;
}

/** Many Ethereum JSON-RPC calls in one batch. */
export async function ethBatch(runtime, calls) {
  const url = await web3Url(runtime);
  if (!url) throw new Error('this node serves no Ethereum JSON-RPC for this ParaTime');
  return batch(calls, url);
}

/**
 * Live blocks: one WebSocket to the node, subscribed to
 * `consensus_subscribeBlocks`; reconnects after a drop. `listener(n)` gets
 * each notification ({block, results}).
 */
export class Live {
  constructor() {
    this.listeners = new Set();
    this.state = 'connecting';
    this.onstate = () => {};
    this.connect();
  }

  connect() {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${proto}//${location.host}/`);
    this.ws = ws;
    ws.onopen = () => {
      ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'consensus_subscribeBlocks', params: [] }));
    };
    ws.onmessage = (m) => {
      let msg;
      try { msg = JSON.parse(m.data); } catch { return; }
      if (msg.id === 1 && msg.result !== undefined) this.setState('live');
      if (msg.method === 'consensus_block' && msg.params && msg.params.result) {
        for (const l of this.listeners) {
          try { l(msg.params.result); } catch (e) { console.error(e); }
        }
      }
    };
    ws.onclose = () => {
      this.setState('reconnecting');
      setTimeout(() => this.connect(), 2000);
    };
  }

  setState(s) { this.state = s; this.onstate(s); }

  /** Adds a listener; returns a function that removes it. */
  listen(f) { this.listeners.add(f); return () => this.listeners.delete(f); }
}
