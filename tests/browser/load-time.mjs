// Times the explorer's network page against a running node: `node load-time.mjs URL [RUNS]`
// (URL like http://127.0.0.1:PORT/explorer). Each run is a fresh headless Chromium profile (no
// cache), from navigation until the page says the network view has rendered. Prints each time
// and the median. A measurement for docs/PERFORMANCE.md, not a test: nothing is asserted.

import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [url, runsArg] = process.argv.slice(2);
if (!url) {
  console.error('usage: node load-time.mjs http://127.0.0.1:PORT/explorer [runs]');
  process.exit(2);
}
const runs = Math.min(Math.max(Number(runsArg) || 5, 1), 50);
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

const times = [];
for (let i = 0; i < runs; i++) {
  const profile = mkdtempSync(join(tmpdir(), 'atoll-explorer-load-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = context.pages()[0] || await context.newPage();
    const started = Date.now();
    await page.goto(url);
    await page.waitForFunction(() => document.getElementById('main')?.dataset.route === '/', null, { timeout: 60_000 });
    times.push(Date.now() - started);
    console.log(`run ${i + 1}: ${times.at(-1)} ms`);
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}
const sorted = [...times].sort((a, b) => a - b);
console.log(`median ${sorted[Math.floor(sorted.length / 2)]} ms over ${runs} runs`);
