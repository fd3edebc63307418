// ParaTimes: rounds with their state roots and consensus heights,
// transactions and events, accounts; what a confidential ParaTime shows.

import { h, link, table, dl, section, json, problem } from '../dom.js';
import { batch, call, maybe, nodeSettings } from '../rpc.js';
import { short, time, amount, base64ToBytes, cborDecode, plain, hexAmount, addressBytes, bytesToBase64, cborEncode, readable } from '../format.js';

/** Whether the runtime descriptor says the ParaTime is confidential. */
function confidential(desc) {
  return desc && desc.tee_hardware && desc.tee_hardware !== 'none';
}

/** What this page can and cannot show of a ParaTime, said plainly. */
function visibility(desc) {
  if (confidential(desc)) {
    return h('p', { class: 'note', id: 'visibility' },
      `This ParaTime is confidential (${desc.tee_hardware}). Visible here: its rounds (hashes, state roots, consensus heights), ` +
      'its committees, the number and hashes of its transactions, and what its modules chose to emit as public events. ' +
      'Not visible: the contents of encrypted transactions and results, and its state (balances, contract storage), ' +
      'which only the enclaves holding the keys can read.');
  }
  return h('p', { class: 'note', id: 'visibility' },
    'This ParaTime is not confidential: its transactions, results, events and state are public, and all of them are shown here.');
}

async function descriptor(rt) {
  return call('consensus_query', ['registry.Runtime', { runtime: rt }]).catch(() => null);
}

async function kind(rt, desc) {
  const s = await nodeSettings();
  if (s.web3.some((w) => w.runtime === rt)) return 'EVM';
  return confidential(desc) ? 'confidential' : 'plain';
}

export async function list() {
  const [runtimes, served] = await Promise.all([
    call('consensus_query', ['registry.Runtimes']),
    call('runtime_list').catch(() => []),
  ]);
  const rows = await Promise.all(runtimes.map(async (r) => {
    const latest = await call('consensus_query', ['roothash.LatestBlock', { runtime: r.id }]).catch(() => null);
    const k = await kind(r.id, r);
    return [
      link(`/paratime/${r.id}`, r.id, { class: 'mono' }),
      k,
      latest ? String(latest.round) : '—',
      served.includes(r.id) ? 'yes' : 'no',
      k === 'EVM' ? link(`/evm/${r.id}`, 'Ethereum view') : '—',
    ];
  }));
  return h('div', {}, h('h1', {}, 'ParaTimes'),
    table(null, ['ParaTime', 'Kind', 'Latest round', 'Served by this node', ''], rows));
}

function roundRow(rt, b) {
  return h('tr', {},
    h('td', {}, link(`/paratime/${rt}/round/${b.round}`, String(b.round))),
    h('td', {}, b.header.header_type),
    h('td', {}, time(b.header.timestamp)),
    h('td', {}, b.consensus_height ? link(`/block/${b.consensus_height}`, String(b.consensus_height)) : '—'),
    h('td', {}, String(b.transactions.length)),
    h('td', { class: 'mono', title: b.header.state_root }, short(b.header.state_root, 10)));
}

export async function rounds(ctx, rt) {
  const desc = await descriptor(rt);
  const served = await call('runtime_list').catch(() => []);
  const head = [h('h1', { class: 'mono' }, `ParaTime ${short(rt, 10)}`),
    dl([['Id', rt], ['Kind', await kind(rt, desc)], desc ? ['Committee', `${desc.executor.group_size} worker(s), ${desc.executor.group_backup_size} backup(s)`] : null]),
    visibility(desc)];
  const s = await nodeSettings();
  if (s.web3.some((w) => w.runtime === rt)) head.push(h('p', {}, link(`/evm/${rt}`, 'Ethereum blocks, transactions and contracts of this ParaTime')));
  if (!served.includes(rt)) {
    const latest = await call('consensus_query', ['roothash.LatestBlock', { runtime: rt }]).catch(() => null);
    return h('div', {}, head, problem('This node does not serve this ParaTime: only its latest round header, as consensus knows it, is shown.'), latest ? json(latest) : null);
  }
  const latest = await call('runtime_getBlock', [rt]);
  const want = [];
  for (let r = latest.round; r >= 0 && r > latest.round - 30; r--) want.push(r);
  const blocks = (await batch(want.map((r) => ['runtime_getBlock', [rt, r]]))).filter((b) => b && !(b instanceof Error));
  const body = h('tbody', { id: 'rounds-body' });
  blocks.forEach((b) => body.append(roundRow(rt, b)));
  let top = latest.round;
  ctx.onBlock(async (n) => {
    const fin = n.results.events.filter((e) => e.roothash && e.roothash.finalized && e.roothash.finalized.runtime === rt);
    for (const f of fin) {
      if (f.roothash.finalized.round <= top) continue;
      const b = await maybe('runtime_getBlock', [rt, f.roothash.finalized.round]).catch(() => null);
      if (!b || !ctx.current()) continue;
      top = Math.max(top, b.round);
      const r = roundRow(rt, b);
      r.classList.add('new');
      body.prepend(r);
      while (body.children.length > 30) body.lastChild.remove();
    }
  });
  return h('div', {}, head, section('Latest rounds',
    h('div', { class: 'table-wrap' }, h('table', {},
      h('caption', {}, 'The latest 30 rounds (live)'),
      h('thead', {}, h('tr', {}, ['Round', 'Kind', 'Time', 'Consensus height', 'Transactions', 'State root'].map((x) => h('th', { scope: 'col' }, x)))),
      body))));
}

/** A ParaTime transaction's raw CBOR (base64) decoded: method, body, nonce, fee. */
export function decodeTx(b64) {
  try {
    const outer = cborDecode(base64ToBytes(b64));
    if (!Array.isArray(outer) || !(outer[0] instanceof Uint8Array)) throw new Error('not an SDK transaction');
    const tx = cborDecode(outer[0]);
    const c = tx.get('call');
    const ai = tx.get('ai');
    const si = ai && ai.get('si') ? ai.get('si') : [];
    const fee = ai && ai.get('fee');
    return {
      method: c ? c.get('method') || '' : '',
      body: c ? plain(c.get('body')) : null,
      nonces: si.map((s) => s.get('nonce')),
      fee: fee ? { amount: readable(plain(fee.get('amount')), 'amount'), gas: fee.get('gas') } : null,
      signers: si.map((s) => plain(s.get('address_spec'))),
    };
  } catch (e) {
    return { method: '', error: String(e.message || e) };
  }
}

/** The SDK modules' event names, by module and code. */
const EVENTS = {
  accounts: { 1: 'Transfer', 2: 'Burn', 3: 'Mint' },
  consensus_accounts: { 1: 'Deposit', 2: 'Withdraw', 3: 'Delegate', 4: 'UndelegateStart', 5: 'UndelegateDone' },
  core: { 1: 'GasUsed' },
  evm: { 1: 'Log' },
};

/** A field of a ParaTime body or event, as text or a link. */
function field(rt, v) {
  if (typeof v === 'string' && v.startsWith('oasis1')) return link(`/paratime/${rt}/account/${v}`, v, { class: 'mono' });
  if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && typeof v[1] === 'string') return `${amount(v[0])} ${v[1]}`;
  if (v && typeof v === 'object') return json(v);
  return String(v);
}

function fields(rt, value) {
  return value && typeof value === 'object' && !Array.isArray(value)
    ? dl(Object.entries(value).map(([k, v]) => [k, field(rt, v)]))
    : json(value);
}

function runtimeEvent(rt, ev) {
  const name = (EVENTS[ev.module] || {})[ev.code];
  return h('div', { class: 'event' },
    h('h4', {}, name ? `${ev.module}.${name}` : `${ev.module} event ${ev.code}`),
    fields(rt, readable(ev.value)));
}

function outcome(r) {
  if (!r) return '—';
  if (r.result && 'ok' in r.result) return h('span', { class: 'ok' }, 'ok');
  return h('span', { class: 'bad' }, `failed: ${JSON.stringify(r.result)}`);
}

export async function round(ctx, rt, n) {
  const r = Number(n);
  const [b, txs, evs] = await Promise.all([
    maybe('runtime_getBlock', [rt, r]), maybe('runtime_getTransactions', [rt, r]), maybe('runtime_getEvents', [rt, r]),
  ]);
  if (!b) return h('div', {}, h('h1', {}, `Round ${r}`), problem(`Round ${r} of this ParaTime is not finalized (yet), or not served by this node.`));
  return h('div', {},
    h('h1', {}, `Round ${b.round}`),
    dl([
      ['ParaTime', link(`/paratime/${rt}`, rt)],
      ['Round', String(b.round)],
      ['Kind', b.header.header_type],
      ['Time', time(b.header.timestamp)],
      ['Consensus height', b.consensus_height ? link(`/block/${b.consensus_height}`, String(b.consensus_height)) : '—'],
      ['Hash', b.hash],
      ['Previous hash', b.header.previous_hash],
      ['State root', b.header.state_root],
      ['I/O root', b.header.io_root],
      ['Messages', String(b.messages.length)],
      ['Neighbours', [b.round > 0 ? link(`/paratime/${rt}/round/${b.round - 1}`, '← previous') : '', ' ', link(`/paratime/${rt}/round/${b.round + 1}`, 'next →')]],
    ]),
    section('Transactions', table(null, ['#', 'Hash', 'Method', 'Gas used', 'Result'], (txs || []).map((t) => {
      const d = decodeTx(t.tx);
      return [String(t.index), link(`/paratime/${rt}/tx/${t.hash}`, short(t.hash, 10), { title: t.hash, class: 'mono' }),
        d.method || '(not an SDK transaction)', String(t.result.gas_used), outcome(t.result)];
    }))),
    section('Round events', evs && evs.length ? evs.map((e) => runtimeEvent(rt, e)) : h('p', {}, 'none')));
}

export async function tx(ctx, rt, hash) {
  const loc = await maybe('runtime_getTransaction', [rt, hash]);
  if (!loc) return h('div', {}, h('h1', {}, 'ParaTime transaction'), problem(`No transaction ${hash} is known in this ParaTime.`));
  const all = await call('runtime_getTransactions', [rt, loc.round]);
  const t = all.find((x) => x.hash === hash);
  const d = t ? decodeTx(t.tx) : { method: '' };
  return h('div', {},
    h('h1', {}, d.method ? `ParaTime transaction ${d.method}` : 'ParaTime transaction'),
    dl([
      ['Hash', hash],
      ['ParaTime', link(`/paratime/${rt}`, rt)],
      ['Round', link(`/paratime/${rt}/round/${loc.round}`, String(loc.round))],
      ['Index', String(loc.index)],
      ['Result', outcome(loc.result)],
      ['Gas used', String(loc.result.gas_used)],
      ['Method', d.method || `(not an SDK transaction${d.error ? ': ' + d.error : ''})`],
      d.nonces && ['Nonce', d.nonces.join(', ')],
      d.fee && ['Fee', [field(rt, d.fee.amount), ` for up to ${d.fee.gas} gas`]],
    ]),
    d.body !== undefined ? section('Body', fields(rt, readable(d.body))) : null,
    d.signers ? section('Signers', json(d.signers)) : null,
    section('Events', loc.result.events && loc.result.events.length ? loc.result.events.map((e) => runtimeEvent(rt, e)) : h('p', {}, 'none')));
}

export async function account(ctx, rt, address) {
  let args;
  try { args = bytesToBase64(cborEncode({ address: addressBytes(address) })); } catch {
    return h('div', {}, h('h1', {}, 'Account'), problem(`${address} is not an address.`));
  }
  const [bal, nonce] = await batch([['runtime_query', [rt, 'accounts.Balances', args]], ['runtime_query', [rt, 'accounts.Nonce', args]]]);
  if (bal instanceof Error) return h('div', {}, h('h1', {}, 'Account'), problem(bal.message));
  const balances = Object.entries((bal.result && bal.result.balances) || {});
  return h('div', {},
    h('h1', { class: 'mono' }, `Account ${address}`),
    dl([
      ['ParaTime', link(`/paratime/${rt}`, rt)],
      ['Nonce', nonce instanceof Error ? '—' : String(nonce.result)],
      ['Consensus account', link(`/account/${address}`, address)],
    ]),
    section('Balances', table(null, ['Denomination', 'Amount'],
      balances.map(([denom, v]) => [denom === '"0x"' ? 'native' : denom, hexAmount(v)]))));
}

export async function roundEverywhere(ctx, n) {
  const rts = await call('runtime_list').catch(() => []);
  return h('div', {}, h('h1', {}, `Round ${n}`),
    h('p', {}, 'Each ParaTime counts its own rounds:'),
    h('ul', {}, rts.map((rt) => h('li', {}, link(`/paratime/${rt}/round/${n}`, `round ${n} of ${short(rt, 8)}`, { title: rt })))));
}
