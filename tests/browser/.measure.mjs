import { chromium } from 'playwright-core';
const url = process.argv[2];
const out = [];
for (let i = 0; i < 5; i++) {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu'] });
  const page = await browser.newPage();
  const t0 = Date.now();
  await page.goto(url);
  await page.waitForFunction(() => document.getElementById('main').dataset.route === '/', null, { timeout: 60000 });
  const ms = Date.now() - t0;
  const h = await page.locator('#height').textContent();
  out.push(ms);
  console.log(`load ${i}: ${ms} ms at height ${h}`);
  await browser.close();
}
out.sort((a, b) => a - b);
console.log(`median ${out[2]} ms, min ${out[0]}, max ${out[4]}`);
