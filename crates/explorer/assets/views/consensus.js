// The consensus layer: blocks, transactions (decoded, with results and
// events) and accounts (balance, nonce, escrow, delegations, debonding,
// balances in the ParaTimes this node serves).

import { h, link, table, dl, section, json, problem } from '../dom.js';
import { batch, call, maybe } from '../rpc.js';
import { short, time, amount, addressBytes, bytesToBase64, cborEncode, hexAmount, isOasisAddress, readable } from '../format.js';

/** A value shown as text, with addresses and heights made links. */
export function value(v) {
  if (typeof v === 'string' && isOasisAddress(v)) return link(`/account/${v}`, v, { class: 'mono' });
  if (v === null || v === undefined) return '—';
  if (typeof v === 'object') return json(v);
  return String(v);
}

/** An event (`{service: {kind: {...}}}`) as a heading and its fields. */
export function event(ev) {
  const [service] = Object.keys(ev);
  const inner = ev[service] || {};
  const [kind] = Object.keys(inner);
  const fields = inner[kind];
  return h('div', { class: 'event' },
    h('h4', {}, `${service}.${kind}`),
    fields && typeof fields === 'object' && !Array.isArray(fields)
      ? dl(Object.entries(fields).map(([k, v]) => [k, eventField(k, v, fields)]))
      : json(fields));
}

/** An event field: a ParaTime id, and its round, as links. */
function eventField(key, v, all) {
  if (key === 'runtime' && typeof v === 'string' && /^[0-9a-f]{64}$/.test(v)) return link(`/paratime/${v}`, v, { class: 'mono' });
  if (key === 'round' && typeof all.runtime === 'string' && /^[0-9a-f]{64}$/.test(all.runtime) && Number.isInteger(v)) {
    return link(`/paratime/${all.runtime}/round/${v}`, String(v));
  }
  return value(v);
}

function events(list, caption) {
  return section(caption, list && list.length ? list.map(event) : h('p', {}, 'none'));
}

function outcome(result) {
  return result.error
    ? h('span', { class: 'bad' }, `failed: ${result.error.module || ''} ${result.error.code ?? ''} ${result.error.message || ''}`.trim())
    : h('span', { class: 'ok' }, 'ok');
}

export async function blocks(ctx) {
  const latest = await call('consensus_getBlock');
  const heights = [];
  for (let x = latest.height; x > 0 && x > latest.height - 50; x--) heights.push(x);
  const list = (await batch(heights.map((x) => ['consensus_getBlock', [x]]))).filter((b) => b && !(b instanceof Error));
  const body = h('tbody', { id: 'blocks-body' });
  const row = (b) => h('tr', {},
    h('td', {}, link(`/block/${b.height}`, String(b.height))),
    h('td', {}, time(b.time)),
    h('td', {}, String(b.transactions.length)),
    h('td', {}, b.proposer ? link(`/account/${b.proposer}`, short(b.proposer, 10), { title: b.proposer }) : '—'),
    h('td', { class: 'mono', title: b.hash }, short(b.hash, 10)));
  list.forEach((b) => body.append(row(b)));
  ctx.onBlock((n) => {
    const r = row(n.block);
    r.classList.add('new');
    body.prepend(r);
    while (body.children.length > 50) body.lastChild.remove();
  });
  return h('div', {}, h('h1', {}, 'Consensus blocks'),
    h('div', { class: 'table-wrap' }, h('table', {},
      h('caption', {}, 'The latest 50 blocks (live)'),
      h('thead', {}, h('tr', {}, ['Height', 'Time', 'Transactions', 'Proposer', 'Hash'].map((x) => h('th', { scope: 'col' }, x)))),
      body)));
}

function txTable(details) {
  return table('Transactions', ['#', 'Hash', 'Method', 'Signer', 'Result'],
    details.transactions.map((t, i) => [
      String(i),
      link(`/tx/${t.hash}`, short(t.hash, 10), { title: t.hash, class: 'mono' }),
      t.method || '(undecodable)',
      t.signer ? link(`/account/${t.signer}`, short(t.signer, 10), { title: t.signer }) : '—',
      outcome(t.result),
    ]));
}

export async function block(ctx, height) {
  const n = Number(height);
  const [b, details, results] = await Promise.all([
    maybe('consensus_getBlock', [n]), maybe('consensus_getBlockDetails', [n]), maybe('consensus_getBlockResults', [n]),
  ]);
  if (!b) return h('div', {}, h('h1', {}, `Block ${n}`), problem(`Block ${n} is not committed (yet), or not kept by this node.`));
  return h('div', {},
    h('h1', {}, `Block ${b.height}`),
    dl([
      ['Height', String(b.height)],
      ['Time', time(b.time)],
      ['Epoch', results ? String(results.epoch) : '—'],
      ['Hash', b.hash],
      ['State root', b.state_root],
      ['Proposer', b.proposer ? value(b.proposer) : '—'],
      ['Signers of the previous block', details ? details.signers.map((s) => [value(s.address), ` (power ${s.power}) `]) : '—'],
      ['Neighbours', [b.height > 1 ? link(`/block/${b.height - 1}`, '← previous') : '', ' ', link(`/block/${b.height + 1}`, 'next →')]],
    ]),
    details ? section('Transactions', txTable(details)) : null,
    results ? events(results.events, 'Block events') : null);
}

export async function tx(ctx, hash) {
  const t = await maybe('consensus_getTransaction', [hash]);
  if (!t) return h('div', {}, h('h1', {}, 'Transaction'), problem(`No committed transaction ${hash} is known to this node.`));
  const details = await maybe('consensus_getBlockDetails', [t.height]);
  const d = details ? details.transactions[t.index] : null;
  return h('div', {},
    h('h1', {}, d && d.method ? `Transaction ${d.method}` : 'Transaction'),
    dl([
      ['Hash', t.hash],
      ['Block', link(`/block/${t.height}`, String(t.height))],
      ['Index', String(t.index)],
      ['Result', outcome(t.result)],
      ['Gas used', String(t.result.gas_used)],
      d && ['Method', d.method || '(undecodable)'],
      d && ['Signer', d.signer ? value(d.signer) : '—'],
      d && ['Nonce', d.nonce === undefined ? '—' : String(d.nonce)],
      d && ['Fee', d.fee ? `${amount(d.fee.amount)} for up to ${d.fee.gas} gas` : 'none'],
    ]),
    d ? section('Body', d.body && typeof d.body === 'object' && !Array.isArray(d.body)
      ? dl(Object.entries(readable(d.body)).map(([k, v]) => [k, value(v)]))
      : json(readable(d.body))) : null,
    events(t.result.events, 'Events'));
}

/** The account's balances in each ParaTime this node serves. */
async function paratimeBalances(address) {
  let rts = [];
  try { rts = await call('runtime_list'); } catch { return []; }
  let args;
  try { args = bytesToBase64(cborEncode({ address: addressBytes(address) })); } catch { return []; }
  const answers = await batch(rts.map((rt) => ['runtime_query', [rt, 'accounts.Balances', args]]));
  return rts.map((rt, i) => {
    const a = answers[i];
    if (a instanceof Error) return [rt, 'unavailable'];
    const bal = (a.result && a.result.balances) || {};
    const list = Object.entries(bal).map(([denom, v]) => `${hexAmount(v)}${denom === '"0x"' ? '' : ' ' + denom}`);
    return [rt, list.length ? list.join(', ') : '0'];
  });
}

export async function account(ctx, address) {
  const [acct, delegations, balances] = await Promise.all([
    call('consensus_getAccount', [address]),
    call('consensus_query', ['staking.Delegations', { address }]).catch(() => []),
    paratimeBalances(address),
  ]);
  const debonding = await batch(delegations.map((d) => ['consensus_query', ['staking.DebondingDelegations', { escrow: address, delegator: d.delegator }]]));
  const general = acct.general || {};
  const escrow = acct.escrow || {};
  return h('div', {},
    h('h1', { class: 'mono' }, `Account ${address}`),
    dl([
      ['Address', address],
      ['Balance', amount(general.balance ?? '0')],
      ['Nonce', String(general.nonce ?? 0)],
      ['Escrow (active)', `${amount(escrow.active?.balance ?? '0')} (${amount(escrow.active?.total_shares ?? '0')} shares)`],
      ['Escrow (debonding)', `${amount(escrow.debonding?.balance ?? '0')} (${amount(escrow.debonding?.total_shares ?? '0')} shares)`],
      general.allowances && ['Allowances', json(general.allowances)],
    ]),
    section('Delegations to this account',
      table(null, ['Delegator', 'Shares', 'Debonding'],
        delegations.map((d, i) => [value(d.delegator), amount(d.shares),
          debonding[i] instanceof Error || !debonding[i] || !debonding[i].length ? 'none' : json(debonding[i])]))),
    section('In the ParaTimes served here',
      table(null, ['ParaTime', 'Balance'], balances.map(([rt, b]) => [link(`/paratime/${rt}/account/${address}`, short(rt, 8), { title: rt }), b]))),
    section('Raw', json(acct)));
}
