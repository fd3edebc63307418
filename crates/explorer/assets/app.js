// The explorer's shell: hash routing (`#/block/12`), the theme toggle, the
// search box and the live connection; each page is a view module.

import { h, append, problem } from './dom.js';
import { Live } from './rpc.js';
import { resolve } from './search.js';
import * as overview from './views/overview.js';
import * as consensus from './views/consensus.js';
import * as registry from './views/registry.js';
import * as paratime from './views/paratime.js';
import * as evm from './views/evm.js';

const ROUTES = [
  [/^\/?$/, overview.network],
  [/^\/blocks$/, consensus.blocks],
  [/^\/block\/(\d+)$/, consensus.block],
  [/^\/tx\/([0-9a-f]{64})$/, consensus.tx],
  [/^\/account\/(oasis1[0-9a-z]+)$/, consensus.account],
  [/^\/entities$/, registry.entities],
  [/^\/entity\/([^/]+)$/, registry.entity],
  [/^\/node\/([^/]+)$/, registry.node],
  [/^\/paratimes$/, paratime.list],
  [/^\/round\/(\d+)$/, paratime.roundEverywhere],
  [/^\/paratime\/([0-9a-f]{64})$/, paratime.rounds],
  [/^\/paratime\/([0-9a-f]{64})\/round\/(\d+)$/, paratime.round],
  [/^\/paratime\/([0-9a-f]{64})\/tx\/([0-9a-f]{64})$/, paratime.tx],
  [/^\/paratime\/([0-9a-f]{64})\/account\/(oasis1[0-9a-z]+)$/, paratime.account],
  [/^\/evm\/([0-9a-f]{64})$/, evm.blocks],
  [/^\/evm\/([0-9a-f]{64})\/block\/(\d+)$/, evm.block],
  [/^\/evm\/([0-9a-f]{64})\/tx\/(0x[0-9a-fA-F]{64})$/, evm.tx],
  [/^\/evm\/([0-9a-f]{64})\/address\/(0x[0-9a-fA-F]{40})$/, evm.address],
];

const live = new Live();
const main = document.getElementById('main');
let generation = 0;
let stops = [];

live.onstate = (s) => {
  const el = document.getElementById('live');
  el.textContent = s === 'live' ? 'live' : s + '…';
  el.classList.toggle('on', s === 'live');
};

/** Shows the page of the current `location.hash`. */
async function route() {
  const gen = ++generation;
  stops.forEach((f) => f());
  stops = [];
  // Match the route as written (a base64 id may hold an encoded `/`), then decode its parts.
  const path = location.hash.replace(/^#/, '') || '/';
  const ctx = {
    live,
    /** Whether this page is still the one shown. */
    current: () => gen === generation,
    /** Calls `f(notification)` on each new block while this page is shown. */
    onBlock: (f) => { stops.push(live.listen((n) => { if (gen === generation) f(n); })); },
  };
  // The section the page belongs to is marked current in the navigation.
  const sectionOf = { blocks: '#/blocks', block: '#/blocks', tx: '#/blocks', account: '#/blocks', entities: '#/entities', entity: '#/entities', node: '#/entities', paratimes: '#/paratimes', paratime: '#/paratimes', evm: '#/paratimes', round: '#/paratimes' };
  const current = sectionOf[path.split('/')[1]] || '#/';
  for (const a of document.querySelectorAll('nav a')) {
    if (a.getAttribute('href') === current) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const started = performance.now();
  for (const [re, view] of ROUTES) {
    const m = path.match(re);
    if (!m) continue;
    try {
      const content = await view(ctx, ...m.slice(1).map(decodeURIComponent));
      if (gen !== generation) return;
      main.replaceChildren(content);
    } catch (e) {
      if (gen !== generation) return;
      main.replaceChildren(h('h1', {}, 'Something went wrong'), problem(String(e.message || e)));
    }
    document.title = (main.querySelector('h1')?.textContent || 'explorer') + ' · atoll explorer';
    main.dataset.loadedMs = String(Math.round(performance.now() - started));
    main.dataset.route = path;
    return;
  }
  main.replaceChildren(h('h1', {}, 'No such page'), problem(`Nothing is shown at “${path}”.`), h('p', {}, h('a', { href: '#/' }, 'Back to the network')));
  main.dataset.route = path;
}

window.addEventListener('hashchange', () => { route(); main.focus({ preventScroll: true }); });

document.getElementById('search').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const q = document.getElementById('q').value;
  if (!q.trim()) return;
  const where = await resolve(q).catch((e) => ({ none: String(e.message || e) }));
  if (where.route) {
    location.hash = '#' + where.route;
  } else {
    generation++;
    main.replaceChildren(h('h1', {}, 'Not found'), problem(where.none));
    main.dataset.route = 'search';
  }
});

// Theme: the system's by default; the button switches and remembers.
const themeButton = document.getElementById('theme');
function applyTheme(theme) {
  if (theme) document.documentElement.dataset.theme = theme;
  else delete document.documentElement.dataset.theme;
  const dark = theme ? theme === 'dark' : matchMedia('(prefers-color-scheme: dark)').matches;
  themeButton.setAttribute('aria-pressed', String(dark));
  themeButton.textContent = dark ? 'Light theme' : 'Dark theme';
}
let savedTheme = null;
try { savedTheme = localStorage.getItem('atoll-explorer-theme'); } catch { /* storage off */ }
applyTheme(savedTheme);
matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => applyTheme(document.documentElement.dataset.theme || null));
themeButton.addEventListener('click', () => {
  const next = document.documentElement.dataset.theme === 'dark' ||
    (!document.documentElement.dataset.theme && matchMedia('(prefers-color-scheme: dark)').matches) ? 'light' : 'dark';
  try { localStorage.setItem('atoll-explorer-theme', next); } catch { /* storage off */ }
  applyTheme(next);
});

append(main, []);
route();
