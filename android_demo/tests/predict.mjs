// Drive the demo in Debian's headless Chromium under a Pixel 7 viewport and print what it computed (JSON).
//
//   node tests/predict.mjs [URL [CHROMIUM]]        (npm test)
//
// Without a URL it starts `python3 serve.py --port 0` itself and stops it at the end.
//
// Output: {crossOriginIsolated, models: {name: [{prediction, probs, ms}, ...]}, tapped: {...}, file: {...},
//          offline: {...}, benchmark: {...}, expansion: {model[ expanded]: {p50, expandMs, compileMs,
//          memoryBytes, downloadBytes}}, errors: [...]}. tests/test_android_demo.py checks it against
// the Python LiteRT interpreter.
import {spawn} from 'node:child_process';
import {chromium} from 'playwright-core';

let [url, executablePath = '/usr/bin/chromium'] = process.argv.slice(2);
let server = null;
if (!url) {
  server = spawn('python3', ['serve.py', '--port', '0'], {cwd: new URL('..', import.meta.url).pathname,
                                                           stdio: ['ignore', 'pipe', 'inherit']});
  url = await new Promise((resolve, reject) => {
    server.stdout.on('data', chunk => { const m = /on (http:\/\/\S+\/)/.exec(String(chunk)); if (m) resolve(m[1]); });
    server.on('exit', code => reject(new Error(`serve.py exited with ${code}`)));
  });
}

const PIXEL_7 = {
  viewport: {width: 412, height: 915}, deviceScaleFactor: 2.625, isMobile: true, hasTouch: true,
  userAgent: 'Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Mobile Safari/537.36',
};
const browser = await chromium.launch({
  executablePath, headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
});
const errors = [];
try {
  const context = await browser.newContext(PIXEL_7);
  const page = await context.newPage();
  page.on('pageerror', e => errors.push(`pageerror: ${e.message}`));
  // LiteRT's wasm prints its INFO/WARNING log lines to console.error: keep only real errors.
  page.on('console', m => {
    if (m.type() === 'error' && !/^(INFO|WARNING): /.test(m.text())) errors.push(`console: ${m.text()}`);
  });
  await page.goto(url);
  await page.evaluate(() => window.demo.ready.then(() => null));
  const result = {crossOriginIsolated: await page.evaluate(() => self.crossOriginIsolated), models: {}, errors};
  const names = await page.evaluate(() => window.demo.models().map(m => m.name));
  for (const name of names) result.models[name] = await page.evaluate(n => window.demo.classifyGallery(n), name);

  // The UI path: switch to the last model with its button, tap the 4th gallery image, read the card.
  await page.locator('#models button').last().tap();
  await page.locator('#gallery figure').nth(3).tap();
  await page.waitForFunction(() => document.getElementById('prediction').textContent !== 'Pick an image');
  result.tapped = {model: names.at(-1), index: 3, prediction: await page.textContent('#prediction'),
                   confidence: await page.textContent('#confidence'), latency: await page.textContent('#latency'),
                   size: await page.textContent('#model-size')};
  // The file input (the camera button is the same input with capture=environment): the 512 px icon,
  // an upscaled gallery image on black, goes through the crop/grey/28x28 preprocessing.
  await page.evaluate(() => { document.getElementById('prediction').textContent = ''; });
  await page.setInputFiles('#file', new URL('../icons/icon-512.png', import.meta.url).pathname);
  await page.waitForFunction(() => document.getElementById('prediction').textContent !== '');
  result.file = {prediction: await page.textContent('#prediction'), confidence: await page.textContent('#confidence')};
  result.benchmark = {};
  for (const name of names) {
    await page.evaluate(n => window.demo.select(n), name);
    result.benchmark[name] = await page.evaluate(() => window.demo.benchmark(50));
  }

  result.expansion = await page.evaluate(() => window.demo.compareExpansion(50));

  // Offline: once the service worker controls the page and the cache holds what was fetched, reload
  // with the network cut and classify again.
  await page.evaluate(() => window.demo.offlineReady);
  await page.evaluate(() => navigator.serviceWorker.ready.then(() => null));
  await page.reload();
  await page.evaluate(() => window.demo.offlineReady);
  await context.setOffline(true);
  await page.reload();
  await page.evaluate(() => window.demo.ready.then(() => null));
  const offlineRun = await page.evaluate(n => window.demo.classifyGallery(n), names[0]);
  result.offline = {controlled: await page.evaluate(() => !!navigator.serviceWorker.controller),
                    predictions: offlineRun.map(r => r.prediction)};
  console.log(JSON.stringify(result));
} finally {
  await browser.close();
  if (server) server.kill();
}
