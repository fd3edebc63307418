// The network: height, epoch, block time, finality, validators with voting
// power and uptime, committees per ParaTime, and the latest blocks, kept
// up to date by the node's block subscription.

import { h, link, table, section, problem } from '../dom.js';
import { batch, call, nodeSettings } from '../rpc.js';
import { short, time } from '../format.js';
import { barChart } from '../chart.js';

const WINDOW = 60;

function card(key, value, id) {
  return h('div', { class: 'card' }, h('div', { class: 'k' }, key), h('div', { class: 'v', id }, value));
}

/** Average block interval over `blocks` (oldest first), in ms. */
function interval(blocks) {
  if (blocks.length < 2) return null;
  const span = blocks[blocks.length - 1].time - blocks[0].time;
  return Math.round((span * 1000) / (blocks.length - 1));
}

/** Blocks per second of block time, oldest second first. */
function perSecond(blocks) {
  const counts = new Map();
  for (const b of blocks) counts.set(b.time, (counts.get(b.time) || 0) + 1);
  const seconds = [...counts.keys()].sort((a, b) => a - b);
  return { values: seconds.map((s) => counts.get(s)), labels: seconds.map((s) => time(s)) };
}

export async function network(ctx) {
  const status = await call('node_status');
  const latest = status.latest_height;
  if (!latest) return h('div', {}, h('h1', {}, 'Network'), problem('No block committed yet.'));
  const heights = [];
  for (let x = Math.max(1, latest - WINDOW + 1); x <= latest; x++) heights.push(x);
  const [validators, committees, runtimes, settings, results, ...rest] = await Promise.all([
    call('consensus_getValidators'),
    call('consensus_query', ['scheduler.Committees']).catch(() => []),
    call('consensus_query', ['registry.Runtimes']).catch(() => []),
    nodeSettings(),
    call('consensus_getBlockResults', [latest]),
    batch(heights.map((x) => ['consensus_getBlock', [x]])),
    batch(heights.map((x) => ['consensus_getBlockSigners', [x]])),
  ]);
  const [blockList, signerList] = rest;
  const blocks = blockList.filter((b) => b && !(b instanceof Error));
  const details = signerList.filter((d) => Array.isArray(d)).map((signers) => ({ signers }));

  const ms = interval(blocks);
  const cards = h('div', { class: 'cards' },
    card('Height', String(latest), 'height'),
    card('Epoch', String(results.epoch), 'epoch'),
    card('Block time', ms === null ? '—' : `≈ ${ms} ms`, 'blocktime'),
    card('Finality', ms === null ? 'at commit' : `at commit (≈ ${ms} ms)`, 'finality'),
    card('Validators', String(validators.length), 'validators'),
    card('Mempool', String(status.mempool_size), 'mempool'),
  );

  // Uptime: the share of the latest blocks whose certificate the validator signed.
  const signed = new Map();
  for (const d of details) for (const s of d.signers) signed.set(s.address, (signed.get(s.address) || 0) + 1);
  const total = validators.reduce((a, v) => a + Number(v.voting_power), 0) || 1;
  const valTable = table(`Validators (uptime over the last ${details.length} blocks)`,
    ['Entity', 'Node', 'Voting power', 'Share', 'Uptime'],
    validators.map((v) => [
      link(`/account/${v.entity}`, short(v.entity, 10), { title: v.entity }),
      link(`/node/${encodeURIComponent(v.node_id)}`, short(v.node_id, 8), { title: v.node_id }),
      String(v.voting_power),
      `${((100 * Number(v.voting_power)) / total).toFixed(1)} %`,
      details.length ? `${Math.round((100 * (signed.get(v.entity) || 0)) / details.length)} %` : '—',
    ]), { id: 'validators-table' });

  const evm = new Set(settings.web3.map((w) => w.runtime));
  const byRuntime = new Map();
  for (const c of committees) byRuntime.set(c.runtime, c);
  const comTable = table('Committees per ParaTime', ['ParaTime', 'Kind', 'Epoch', 'Workers', 'Backups'],
    runtimes.map((r) => {
      const c = byRuntime.get(r.id);
      const members = c ? c.members : [];
      const role = (name) => members.filter((m) => m.role === name)
        .map((m) => link(`/node/${encodeURIComponent(m.node_id)}`, short(m.node_id, 6), { title: m.node_id }))
        .flatMap((a, i) => (i ? [', ', a] : [a]));
      return [
        link(`/paratime/${r.id}`, short(r.id, 8), { title: r.id }),
        evm.has(r.id) ? 'EVM' : r.tee_hardware && r.tee_hardware !== 'none' ? 'confidential' : 'plain',
        c ? String(c.epoch) : '—',
        role('worker'), role('backup-worker'),
      ];
    }));

  const charts = h('div', { class: 'charts', id: 'charts' });
  const recent = h('tbody', { id: 'recent-blocks' });
  const row = (b) => h('tr', {},
    h('td', {}, link(`/block/${b.height}`, String(b.height))),
    h('td', {}, time(b.time)),
    h('td', {}, String(b.transactions.length)),
    h('td', { class: 'mono', title: b.hash }, short(b.hash, 10)));
  blocks.slice(-15).reverse().forEach((b) => { const r = row(b); r.dataset.height = String(b.height); recent.append(r); });
  const drawCharts = () => {
    const ps = perSecond(blocks);
    charts.replaceChildren(
      h('figure', {}, barChart('Blocks per second', ps.values, 'blocks', ps.labels), h('figcaption', {}, 'Blocks per second of block time')),
      h('figure', {}, barChart('Transactions per block', blocks.map((b) => b.transactions.length), 'txs', blocks.map((b) => `block ${b.height}`)), h('figcaption', {}, `Transactions per block, last ${blocks.length} blocks`)),
    );
  };
  drawCharts();

  ctx.onBlock((n) => {
    const b = n.block;
    document.getElementById('height').textContent = String(b.height);
    document.getElementById('epoch').textContent = String(n.results.epoch);
    blocks.push(b);
    while (blocks.length > WINDOW) blocks.shift();
    const m = interval(blocks);
    if (m !== null) {
      document.getElementById('blocktime').textContent = `≈ ${m} ms`;
      document.getElementById('finality').textContent = `at commit (≈ ${m} ms)`;
    }
    const r = row(b);
    r.classList.add('new');
    const top = recent.firstChild && recent.firstChild.dataset.height;
    recent.prepend(r);
    r.dataset.height = String(b.height);
    // Blocks committed between the first load and the subscription.
    if (top && b.height > Number(top) + 1) {
      const gap = [];
      for (let x = Number(top) + 1; x < b.height && gap.length < 15; x++) gap.push(x);
      batch(gap.map((x) => ['consensus_getBlock', [x]])).then((list) => {
        for (const g of list) {
          if (!g || g instanceof Error) continue;
          const gr = row(g);
          gr.dataset.height = String(g.height);
          r.after(gr);
        }
        while (recent.children.length > 15) recent.lastChild.remove();
      });
    }
    while (recent.children.length > 15) recent.lastChild.remove();
    drawCharts();
  });

  return h('div', {},
    h('h1', {}, `Network ${status.chain_id}`),
    cards,
    h('p', { class: 'note' }, 'Blocks are final when committed (Tendermint BFT): no block shown here can be reverted.'),
    section('Activity', charts),
    section('Latest blocks',
      h('div', { class: 'table-wrap' }, h('table', {},
        h('caption', {}, 'Latest blocks (live)'),
        h('thead', {}, h('tr', {}, ['Height', 'Time', 'Transactions', 'Hash'].map((x) => h('th', { scope: 'col' }, x)))),
        recent)),
      h('p', {}, link('/blocks', 'All recent blocks'))),
    section('Validators', valTable),
    section('ParaTimes', comTable),
  );
}
