// The registry: entities and their nodes (roles, expiry, runtimes, TEE
// capability).

import { h, link, table, dl, section, json, problem } from '../dom.js';
import { call } from '../rpc.js';
import { short } from '../format.js';

const ROLES = [[1, 'compute'], [2, 'observer'], [4, 'key manager'], [8, 'validator']];

/** A roles bit mask as words. */
export function roles(mask) {
  const names = ROLES.filter(([bit]) => mask & bit).map(([, n]) => n);
  return names.length ? names.join(', ') : 'none';
}

const FOREVER = 9223372036854775807;
function expiry(epoch) {
  return Number(epoch) >= FOREVER ? 'never (genesis node)' : `epoch ${epoch}`;
}

function tee(n) {
  const withTee = (n.runtimes || []).filter((r) => r.tee);
  return withTee.length ? `TEE for ${withTee.length} runtime(s): ${withTee.map((r) => r.tee.hardware || 'yes').join(', ')}` : 'none (no TEE)';
}

function nodeLink(id) {
  return link(`/node/${encodeURIComponent(id)}`, short(id, 8), { title: id, class: 'mono' });
}

export async function entities() {
  const [ents, nodes, validators] = await Promise.all([
    call('consensus_query', ['registry.Entities']),
    call('consensus_query', ['registry.Nodes']),
    call('consensus_getValidators').catch(() => []),
  ]);
  const power = new Map(validators.map((v) => [v.node_id, v]));
  return h('div', {},
    h('h1', {}, 'Entities and nodes'),
    section(`Entities (${ents.length})`,
      table(null, ['Entity', 'Nodes'], ents.map((e) => [
        link(`/entity/${encodeURIComponent(e.id)}`, short(e.id, 10), { title: e.id, class: 'mono' }),
        (e.nodes || []).map(nodeLink).flatMap((a, i) => (i ? [', ', a] : [a])),
      ]))),
    section(`Nodes (${nodes.length})`,
      table(null, ['Node', 'Entity', 'Roles', 'Runtimes', 'Expires', 'TEE', 'Voting power'], nodes.map((n) => [
        nodeLink(n.id),
        link(`/entity/${encodeURIComponent(n.entity_id)}`, short(n.entity_id, 8), { title: n.entity_id, class: 'mono' }),
        roles(n.roles),
        String((n.runtimes || []).length),
        expiry(n.expiration),
        tee(n),
        power.has(n.id) ? String(power.get(n.id).voting_power) : '—',
      ]))));
}

export async function entity(ctx, id) {
  const [ents, nodes, validators] = await Promise.all([
    call('consensus_query', ['registry.Entities']),
    call('consensus_query', ['registry.Nodes']),
    call('consensus_getValidators').catch(() => []),
  ]);
  const e = ents.find((x) => x.id === id);
  if (!e) return h('div', {}, h('h1', {}, 'Entity'), problem(`No entity ${id} is registered.`));
  const own = nodes.filter((n) => n.entity_id === id);
  const account = validators.find((v) => own.some((n) => n.id === v.node_id));
  return h('div', {},
    h('h1', { class: 'mono' }, `Entity ${short(id, 12)}`),
    dl([
      ['Id', id],
      account ? ['Account', link(`/account/${account.entity}`, account.entity)] : null,
      ['Nodes', String(own.length)],
    ]),
    section('Nodes', table(null, ['Node', 'Roles', 'Expires'], own.map((n) => [nodeLink(n.id), roles(n.roles), expiry(n.expiration)]))),
    section('Descriptor', json(e)));
}

export async function node(ctx, id) {
  const [nodes, validators, committees] = await Promise.all([
    call('consensus_query', ['registry.Nodes']),
    call('consensus_getValidators').catch(() => []),
    call('consensus_query', ['scheduler.Committees']).catch(() => []),
  ]);
  const n = nodes.find((x) => x.id === id);
  if (!n) return h('div', {}, h('h1', {}, 'Node'), problem(`No node ${id} is registered.`));
  const v = validators.find((x) => x.node_id === id);
  const seats = committees.flatMap((c) => c.members.filter((m) => m.node_id === id).map((m) => [c.runtime, m.role, c.epoch]));
  return h('div', {},
    h('h1', { class: 'mono' }, `Node ${short(id, 12)}`),
    dl([
      ['Id', id],
      ['Entity', link(`/entity/${encodeURIComponent(n.entity_id)}`, n.entity_id)],
      ['Roles', roles(n.roles)],
      ['Expires', expiry(n.expiration)],
      ['Consensus key', n.consensus ? n.consensus.id : '—'],
      ['P2P key', n.p2p ? n.p2p.id : '—'],
      ['Software', n.software_version || '—'],
      ['TEE capability', tee(n)],
      ['Voting power', v ? String(v.voting_power) : 'not a validator'],
    ]),
    section('Runtimes it serves', table(null, ['ParaTime', 'Version', 'TEE'], (n.runtimes || []).map((r) => [
      link(`/paratime/${r.id}`, short(r.id, 8), { title: r.id }),
      r.version ? `${r.version.major}.${r.version.minor}.${r.version.patch}` : '—',
      r.tee ? json(r.tee) : 'none',
    ]))),
    section('Committee seats', table(null, ['ParaTime', 'Role', 'Epoch'], seats.map(([rt, role, epoch]) => [
      link(`/paratime/${rt}`, short(rt, 8), { title: rt }), role, String(epoch),
    ]))),
    section('Descriptor', json(n)));
}
