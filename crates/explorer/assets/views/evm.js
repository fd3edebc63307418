// EVM ParaTimes through their Ethereum JSON-RPC on this node: blocks,
// transactions with receipts and logs (ERC-20 transfers decoded), and
// address pages (balance, nonce, code, token name).

import { h, link, table, dl, section, json, problem } from '../dom.js';
import { eth, ethBatch, web3Url } from '../rpc.js';
import { short, time, hexAmount, hexNumber, hexToBytes } from '../format.js';

/** keccak256("Transfer(address,address,uint256)"), the ERC-20 transfer event. */
const TRANSFER = '0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef';

function addr(rt, a) {
  return a ? link(`/evm/${rt}/address/${a.toLowerCase()}`, a.toLowerCase(), { class: 'mono' }) : '—';
}

function txLink(rt, hash) {
  return link(`/evm/${rt}/tx/${hash}`, short(hash, 10), { title: hash, class: 'mono' });
}

async function needWeb3(rt) {
  return (await web3Url(rt)) ? null
    : h('div', {}, h('h1', {}, 'EVM ParaTime'), problem('This node serves no Ethereum JSON-RPC for this ParaTime.'));
}

function blockRow(rt, b) {
  return h('tr', {},
    h('td', {}, link(`/evm/${rt}/block/${hexNumber(b.number)}`, String(hexNumber(b.number)))),
    h('td', {}, time(hexNumber(b.timestamp))),
    h('td', {}, String(b.transactions.length)),
    h('td', {}, String(hexNumber(b.gasUsed))),
    h('td', { class: 'mono', title: b.hash }, short(b.hash, 10)));
}

export async function blocks(ctx, rt) {
  const missing = await needWeb3(rt);
  if (missing) return missing;
  const top = hexNumber(await eth(rt, 'eth_blockNumber'));
  const want = [];
  for (let n = top; n >= 0 && n > top - 20; n--) want.push(n);
  const list = (await ethBatch(rt, want.map((n) => ['eth_getBlockByNumber', ['0x' + n.toString(16), false]])))
    .filter((b) => b && !(b instanceof Error));
  const body = h('tbody', { id: 'evm-blocks-body' });
  list.forEach((b) => body.append(blockRow(rt, b)));
  let latest = top;
  ctx.onBlock(async (n) => {
    if (!n.results.events.some((e) => e.roothash && e.roothash.finalized && e.roothash.finalized.runtime === rt)) return;
    const b = await eth(rt, 'eth_getBlockByNumber', ['latest', false]).catch(() => null);
    if (!b || !ctx.current() || hexNumber(b.number) <= latest) return;
    latest = hexNumber(b.number);
    const r = blockRow(rt, b);
    r.classList.add('new');
    body.prepend(r);
    while (body.children.length > 20) body.lastChild.remove();
  });
  return h('div', {},
    h('h1', {}, 'EVM ParaTime: Ethereum blocks'),
    dl([['ParaTime', link(`/paratime/${rt}`, rt)], ['Chain id', String(hexNumber(await eth(rt, 'eth_chainId')))], ['Ethereum JSON-RPC', await web3Url(rt)]]),
    h('div', { class: 'table-wrap' }, h('table', {},
      h('caption', {}, 'The latest 20 blocks (live)'),
      h('thead', {}, h('tr', {}, ['Number', 'Time', 'Transactions', 'Gas used', 'Hash'].map((x) => h('th', { scope: 'col' }, x)))),
      body)));
}

export async function block(ctx, rt, n) {
  const missing = await needWeb3(rt);
  if (missing) return missing;
  const b = await eth(rt, 'eth_getBlockByNumber', ['0x' + Number(n).toString(16), true]);
  if (!b) return h('div', {}, h('h1', {}, `Block ${n}`), problem(`Block ${n} is not indexed (yet).`));
  const num = hexNumber(b.number);
  return h('div', {},
    h('h1', {}, `Ethereum block ${num}`),
    dl([
      ['ParaTime', link(`/paratime/${rt}`, rt)],
      ['Round', link(`/paratime/${rt}/round/${num}`, String(num))],
      ['Hash', b.hash], ['Parent', b.parentHash], ['Time', time(hexNumber(b.timestamp))],
      ['Gas used', `${hexNumber(b.gasUsed)} of ${hexNumber(b.gasLimit)}`],
      ['State root', b.stateRoot],
    ]),
    section('Transactions', table(null, ['Hash', 'From', 'To', 'Value'], b.transactions.map((t) => [
      txLink(rt, t.hash), addr(rt, t.from), t.to ? addr(rt, t.to) : 'contract creation', hexAmount(t.value),
    ]))));
}

/** A 32-byte topic holding an address, as the address. */
function topicAddress(t) {
  return '0x' + t.slice(-40);
}

function logView(rt, log) {
  const erc20 = log.topics[0] === TRANSFER && log.topics.length === 3;
  return h('div', { class: 'event log' },
    h('h4', {}, erc20 ? 'ERC-20 Transfer' : `Log ${hexNumber(log.logIndex)}`),
    dl([
      ['Contract', addr(rt, log.address)],
      erc20 && ['From', addr(rt, topicAddress(log.topics[1]))],
      erc20 && ['To', addr(rt, topicAddress(log.topics[2]))],
      erc20 && ['Amount', hexAmount(log.data)],
      ['Topics', h('ol', {}, log.topics.map((t) => h('li', { class: 'mono' }, t)))],
      ['Data', h('span', { class: 'mono' }, log.data)],
    ]));
}

export async function tx(ctx, rt, hash) {
  const missing = await needWeb3(rt);
  if (missing) return missing;
  const [t, r] = await ethBatch(rt, [['eth_getTransactionByHash', [hash]], ['eth_getTransactionReceipt', [hash]]]);
  if (!t || t instanceof Error) return h('div', {}, h('h1', {}, 'Ethereum transaction'), problem(`No transaction ${hash} is indexed.`));
  const receipt = r && !(r instanceof Error) ? r : null;
  return h('div', {},
    h('h1', {}, 'Ethereum transaction'),
    dl([
      ['Hash', t.hash],
      ['Block', t.blockNumber ? link(`/evm/${rt}/block/${hexNumber(t.blockNumber)}`, String(hexNumber(t.blockNumber))) : 'pending'],
      ['From', addr(rt, t.from)],
      ['To', t.to ? addr(rt, t.to) : 'contract creation'],
      receipt && receipt.contractAddress ? ['Created contract', addr(rt, receipt.contractAddress)] : null,
      ['Value', hexAmount(t.value)],
      ['Nonce', String(hexNumber(t.nonce))],
      ['Gas', `${receipt ? hexNumber(receipt.gasUsed) : '—'} used of ${hexNumber(t.gas)}`],
      ['Status', receipt ? (receipt.status === '0x1' ? h('span', { class: 'ok' }, 'success') : h('span', { class: 'bad' }, 'reverted')) : '—'],
      ['Input', h('span', { class: 'mono' }, t.input)],
    ]),
    section('Logs', receipt && receipt.logs.length ? receipt.logs.map((l) => logView(rt, l)) : h('p', {}, 'none')),
    section('Receipt', receipt ? json(receipt) : h('p', {}, 'none')));
}

/** An ABI-encoded `string` return value, as text (null when it is not one). */
export function abiString(hex) {
  try {
    const b = hexToBytes(hex);
    if (b.length < 64) return null;
    const off = Number(BigInt('0x' + hex.slice(2 + 0, 2 + 64)));
    const len = Number(BigInt('0x' + hex.slice(2 + off * 2, 2 + off * 2 + 64)));
    if (off + 32 + len > b.length) return null;
    return new TextDecoder('utf-8', { fatal: true }).decode(b.slice(off + 32, off + 32 + len));
  } catch { return null; }
}

export async function address(ctx, rt, a) {
  const missing = await needWeb3(rt);
  if (missing) return missing;
  const [balance, nonce, code] = await ethBatch(rt, [
    ['eth_getBalance', [a, 'latest']], ['eth_getTransactionCount', [a, 'latest']], ['eth_getCode', [a, 'latest']],
  ]);
  const isContract = typeof code === 'string' && code.length > 2;
  let token = [];
  if (isContract) {
    // name(), symbol(), decimals(), totalSupply(): shown when the contract answers them.
    const [name, symbol, decimals, supply] = await ethBatch(rt, ['0x06fdde03', '0x95d89b41', '0x313ce567', '0x18160ddd']
      .map((data) => ['eth_call', [{ to: a, data }, 'latest']]));
    token = [
      typeof name === 'string' && abiString(name) !== null && ['Token name', abiString(name)],
      typeof symbol === 'string' && abiString(symbol) !== null && ['Token symbol', abiString(symbol)],
      typeof decimals === 'string' && decimals.length === 66 && ['Token decimals', String(hexNumber(decimals))],
      typeof supply === 'string' && supply.length === 66 && ['Total supply', hexAmount(supply)],
    ];
  }
  const logs = await eth(rt, 'eth_getLogs', [{ address: a, fromBlock: '0x0', toBlock: 'latest' }]).catch(() => []);
  return h('div', {},
    h('h1', { class: 'mono' }, `${isContract ? 'Contract' : 'Address'} ${a}`),
    dl([
      ['ParaTime', link(`/paratime/${rt}`, rt)],
      ['Balance', balance instanceof Error ? '—' : hexAmount(balance)],
      ['Nonce', nonce instanceof Error ? '—' : String(hexNumber(nonce))],
      ...token,
      ['Code size', isContract ? `${(code.length - 2) / 2} bytes` : 'no code (an externally owned account)'],
    ]),
    isContract ? section(`Logs emitted (${logs.length})`, table(null, ['Block', 'Transaction', 'Event'], logs.slice(-50).reverse().map((l) => [
      link(`/evm/${rt}/block/${hexNumber(l.blockNumber)}`, String(hexNumber(l.blockNumber))),
      txLink(rt, l.transactionHash),
      l.topics[0] === TRANSFER ? `Transfer ${hexAmount(l.data)} to ${topicAddress(l.topics[2] || '')}` : short(l.topics[0] || '', 10),
    ]))) : null,
    isContract ? section('Code', h('pre', { class: 'json mono', id: 'code' }, code)) : null);
}
