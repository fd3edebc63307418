// The explorer in a real browser: headless Debian Chromium, driven by
// playwright-core, against a running localnet that tests/e2e/explorer.rs
// started and made transfers on. Everything it needs comes from the
// environment (see `need` below). Every wait is bounded; nothing asserts
// how fast the page is (the load time is printed, not checked).

import { chromium } from 'playwright-core';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (tests/e2e/explorer.rs sets it)`);
  return v;
}

const EXPLORER = need('EXPLORER_URL'); // http://127.0.0.1:PORT/explorer
const WEB3 = need('WEB3_URL'); // http://127.0.0.1:PORT of the EVM ParaTime
const ARTIFACTS = need('ARTIFACTS_DIR');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const facts = JSON.parse(need('EXPLORER_FACTS'));
const WAIT = 90_000;

const origin = new URL(EXPLORER).origin;
const allowed = new Set([origin, new URL(WEB3).origin]);
const wsOrigin = (u) => u.replace(/^http/, 'ws');
for (const o of [...allowed]) allowed.add(wsOrigin(o));

const profile = mkdtempSync(join(tmpdir(), 'atoll-explorer-chromium-'));
mkdirSync(ARTIFACTS, { recursive: true });

const context = await chromium.launchPersistentContext(profile, {
  executablePath: CHROMIUM,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  viewport: { width: 1280, height: 900 },
});

const requests = [];
const errors = [];
context.on('request', (r) => requests.push(r.url()));
const page = context.pages()[0] || await context.newPage();
page.on('websocket', (ws) => requests.push(ws.url()));
page.on('pageerror', (e) => errors.push(String(e)));
page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });

const main = () => page.locator('#main');

/** Shows `route` and waits until the page has rendered it. */
async function show(route) {
  await page.evaluate((r) => { location.hash = '#' + r; }, route);
  await page.waitForFunction((r) => document.getElementById('main').dataset.route === r, route, { timeout: WAIT });
}

/** Waits until the main area contains `text`. */
async function sees(text) {
  await page.waitForFunction((t) => document.getElementById('main').textContent.includes(t), text, { timeout: WAIT })
    .catch(async () => {
      throw new Error(`the page at ${await page.evaluate(() => location.hash)} never showed ${JSON.stringify(text)}; it shows:\n${(await main().textContent()).slice(0, 2000)}`);
    });
}

let failed = false;
async function check(name, f) {
  try {
    await f();
    console.log(`ok - ${name}`);
  } catch (e) {
    failed = true;
    console.log(`not ok - ${name}\n  ${String(e.stack || e).split('\n').join('\n  ')}`);
  }
}

async function screenshots(name) {
  for (const scheme of ['light', 'dark']) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.screenshot({ path: join(ARTIFACTS, `${name}-${scheme}.png`), fullPage: true });
  }
  await page.emulateMedia({ colorScheme: 'light' });
}

await check('the network page loads (load time printed)', async () => {
  const started = Date.now();
  await page.goto(EXPLORER);
  await page.waitForFunction(() => document.getElementById('main').dataset.route === '/', null, { timeout: WAIT });
  const ms = Date.now() - started;
  const rendered = await main().getAttribute('data-loaded-ms');
  console.log(`# page load: ${ms} ms from navigation to the rendered network page (view ${rendered} ms)`);
  await sees('Validators');
  await sees('Committees per ParaTime');
  assert.ok(await page.locator('svg.chart').count() >= 2, 'two charts');
  const uptime = await page.locator('#validators-table tbody tr:first-child td:last-child').textContent();
  assert.match(uptime, /^\d+ %$/, `the validator's uptime is known: ${uptime}`);
  await screenshots('network');
});

await check('live updates: a new block shows without a reload', async () => {
  await page.waitForFunction(() => document.getElementById('live').textContent === 'live', null, { timeout: WAIT });
  const before = await page.locator('#height').textContent();
  const marker = await page.evaluate(() => { window.__sameDocument = true; return true; });
  assert.ok(marker);
  await page.waitForFunction((h) => document.getElementById('height').textContent !== h, before, { timeout: WAIT });
  const after = await page.locator('#height').textContent();
  assert.ok(Number(after) > Number(before), `${after} > ${before}`);
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the page was not reloaded');
  const top = await page.locator('#recent-blocks tr:first-child td:first-child').textContent();
  assert.ok(Number(top) >= Number(after), `the newest row ${top} follows the height ${after}`);
});

await check('the consensus transfer shows on its block and transaction pages', async () => {
  await show(`/tx/${facts.consensus_tx}`);
  await sees('staking.Transfer');
  await sees(facts.consensus_to);
  await sees('staking.transfer');
  await screenshots('consensus-tx');
  await show(`/block/${facts.consensus_height}`);
  await sees('staking.Transfer');
  await screenshots('consensus-block');
  await show(`/account/${facts.consensus_to}`);
  await sees('Balance');
  await screenshots('account');
});

await check('the ParaTime transfer shows on its round and transaction pages', async () => {
  await show(`/paratime/${facts.plain}/tx/${facts.paratime_tx}`);
  await sees('accounts.Transfer');
  await sees(facts.consensus_to);
  await sees(facts.paratime_amount_text);
  await screenshots('paratime-tx');
  await show(`/paratime/${facts.plain}/round/${facts.paratime_round}`);
  await sees('accounts.Transfer');
  await show(`/paratime/${facts.plain}`);
  await sees('Latest rounds');
  await sees('not confidential');
  await screenshots('paratime');
});

await check('the ERC-20 transfer shows on the EVM pages with its log', async () => {
  await show(`/evm/${facts.evm}/tx/${facts.erc20_tx}`);
  await sees('ERC-20 Transfer');
  await sees(facts.token.toLowerCase());
  await sees(facts.erc20_to.toLowerCase());
  await sees(facts.erc20_amount_text);
  await screenshots('evm-tx');
  await show(`/evm/${facts.evm}`);
  await sees('Ethereum blocks');
  await screenshots('evm-blocks');
});

await check('a contract named <script>…</script> shows its name as text', async () => {
  await show(`/evm/${facts.evm}/address/${facts.token.toLowerCase()}`);
  await sees(facts.token_name);
  await sees('Code size');
  assert.equal(await page.locator('#main script').count(), 0, 'no script element inside the page');
  assert.equal(await page.evaluate(() => window.__xss), undefined, 'the name never ran');
  await screenshots('contract');
});

await check('entities, nodes and ParaTimes pages', async () => {
  await show('/entities');
  await sees('validator');
  await screenshots('entities');
  // Node ids are base64 (they may hold '/' and '+'): each link still leads to its node.
  const links = await page.locator('#main a[href^="#/node/"]').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
  assert.ok(links.length >= 2, `node links: ${links}`);
  for (const href of links) {
    await show(href.slice(1));
    await sees('Roles');
    await sees('TEE capability');
  }
  await show('/paratimes');
  await sees(facts.evm);
  await sees('EVM');
});

async function search(q, route) {
  await page.fill('#q', q);
  await page.press('#q', 'Enter');
  await page.waitForFunction((r) => document.getElementById('main').dataset.route === r, route, { timeout: WAIT })
    .catch(async () => { throw new Error(`searching ${q} did not lead to ${route}: ${await main().textContent()}`); });
}

await check('search finds an oasis1 address, a 0x address, a height and a hash', async () => {
  await search(facts.consensus_to, `/account/${facts.consensus_to}`);
  await search(facts.erc20_to, `/evm/${facts.evm}/address/${facts.erc20_to.toLowerCase()}`);
  await search(String(facts.consensus_height), `/block/${facts.consensus_height}`);
  await search(facts.consensus_tx, `/tx/${facts.consensus_tx}`);
  await search(facts.paratime_tx, `/paratime/${facts.plain}/tx/${facts.paratime_tx}`);
  await search(facts.erc20_tx, `/evm/${facts.evm}/tx/${facts.erc20_tx}`);
  await search(`round ${facts.paratime_round}`, `/round/${facts.paratime_round}`);
});

await check('readable at 360 px wide', async () => {
  await page.setViewportSize({ width: 360, height: 780 });
  await show('/');
  await sees('Validators');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `the page is ${overflow} px wider than the window`);
  await screenshots('network-360');
  await page.setViewportSize({ width: 1280, height: 900 });
});

await check('the theme toggle switches to dark and back', async () => {
  const bg = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const light = await bg();
  await page.click('#theme');
  const dark = await bg();
  assert.notEqual(light, dark);
  await page.click('#theme');
  assert.equal(await bg(), light);
});

await check('the page made no request outside the node', async () => {
  const outside = requests.filter((u) => !u.startsWith('data:') && !allowed.has(new URL(u).origin));
  assert.deepEqual(outside, [], `requests outside the node: ${outside.join(', ')}`);
  assert.ok(requests.some((u) => u.startsWith('ws')), 'the page used the node\'s WebSocket');
  console.log(`# ${requests.length} requests, all to ${[...allowed].join(', ')}`);
});

await check('no script errors', async () => {
  assert.deepEqual(errors, []);
});

await context.close();
rmSync(profile, { recursive: true, force: true });
process.exit(failed ? 1 : 0);
