// Search: a height, a round, a hash, an address (oasis1… or 0x…). Each
// input goes to the page that shows it; a hash is looked up where it can
// be (consensus, then each ParaTime, then each EVM ParaTime).

import { batch, call, maybe, nodeSettings, eth } from './rpc.js';
import { isOasisAddress } from './format.js';

/** What `q` is, without asking the node. */
export function classify(q) {
  q = q.trim();
  if (/^[0-9]{1,19}$/.test(q)) return { kind: 'height', value: q };
  const round = q.match(/^(?:round|r)\s*#?\s*([0-9]{1,19})$/i);
  if (round) return { kind: 'round', value: round[1] };
  if (isOasisAddress(q)) return { kind: 'oasis', value: q.toLowerCase() };
  if (/^0x[0-9a-fA-F]{40}$/.test(q)) return { kind: 'eth', value: q.toLowerCase() };
  if (/^(0x)?[0-9a-fA-F]{64}$/.test(q)) return { kind: 'hash', value: q.replace(/^0x/, '').toLowerCase() };
  return { kind: 'unknown', value: q };
}

async function runtimes() {
  try { return await call('runtime_list'); } catch { return []; }
}

/** The route `q` leads to, or a sentence saying why there is none. */
export async function resolve(q) {
  const c = classify(q);
  switch (c.kind) {
    case 'height': return { route: `/block/${c.value}` };
    case 'round': {
      const rts = await runtimes();
      return rts.length ? { route: `/round/${c.value}` } : { none: 'this node serves no ParaTime, so it has no rounds' };
    }
    case 'oasis': return { route: `/account/${c.value}` };
    case 'eth': {
      const evm = (await nodeSettings()).web3;
      return evm.length ? { route: `/evm/${evm[0].runtime}/address/${c.value}` } : { none: 'this node serves no EVM ParaTime' };
    }
    case 'hash': {
      const tx = await maybe('consensus_getTransaction', [c.value]);
      if (tx) return { route: `/tx/${c.value}` };
      for (const rt of await runtimes()) {
        const t = await maybe('runtime_getTransaction', [rt, c.value]).catch(() => null);
        if (t) return { route: `/paratime/${rt}/tx/${c.value}` };
      }
      for (const w of (await nodeSettings()).web3) {
        const t = await eth(w.runtime, 'eth_getTransactionByHash', ['0x' + c.value]).catch(() => null);
        if (t) return { route: `/evm/${w.runtime}/tx/0x${c.value}` };
        const b = await eth(w.runtime, 'eth_getBlockByHash', ['0x' + c.value, false]).catch(() => null);
        if (b) return { route: `/evm/${w.runtime}/block/${parseInt(b.number, 16)}` };
      }
      const blockHeight = await findConsensusBlock(c.value);
      if (blockHeight !== null) return { route: `/block/${blockHeight}` };
      return { none: `no transaction or block with hash ${c.value} is known to this node` };
    }
    default:
      return { none: `“${c.value}” is not a height, a round (“round 12”), a hash or an address (oasis1… or 0x…)` };
  }
}

/** A consensus block hash among the latest 500 blocks (the API looks blocks up by height). */
async function findConsensusBlock(hash) {
  const latest = await maybe('consensus_getBlock', []);
  if (!latest) return null;
  const heights = [];
  for (let h = latest.height; h > 0 && h > latest.height - 500; h--) heights.push(h);
  const blocks = await batch(heights.map((h) => ['consensus_getBlock', [h]]));
  const hit = blocks.find((b) => b && !(b instanceof Error) && b.hash === hash);
  return hit ? hit.height : null;
}
