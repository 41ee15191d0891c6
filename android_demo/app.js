// The demo's page: model switch, gallery, camera/file input, result card, benchmark.
// window.demo exposes the same operations to the Playwright test (tests/predict.mjs).
import {Classifier, initRuntime, toFashionPixels} from './classifier.js';
import {CACHE_NAME} from './cache_name.js';

const $ = id => document.getElementById(id);
const state = {manifest: null, gallery: [], classifiers: {}, current: null, pixels: null};

function percentile(sorted, q) { return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]; }

function drawPixels(canvas, pixels) {
  const image = new ImageData(28, 28);
  pixels.forEach((p, i) => image.data.set([p, p, p, 255], 4 * i));
  canvas.getContext('2d').putImageData(image, 0, 0);
}

async function loadJson(path) {
  const response = await fetch(path);
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status} (run \`python -m export.build_demo\`)`);
  return response.json();
}

async function compileAll(numThreads) {
  for (const c of Object.values(state.classifiers)) c.delete();
  state.classifiers = {};
  for (const entry of state.manifest.models) {
    state.classifiers[entry.name] = await Classifier.load(entry, state.manifest.preprocess, numThreads);
  }
}

function selectModel(name) {
  if (!(name in state.classifiers)) throw new Error(`no model named ${name}`);
  state.current = name;
  for (const b of $('models').querySelectorAll('button')) b.setAttribute('aria-pressed', b.dataset.name === name);
  const c = state.classifiers[name];
  $('model-size').textContent = `${name}, ${(c.bytes / 1024).toFixed(1)} KiB`;
  $('model-size').title = c.load.expanded
    ? `expanded at load in ${c.load.expandMs.toFixed(1)} ms to ${(c.load.memoryBytes / 1024).toFixed(1)} KiB in memory` : '';
  if (state.pixels) show(state.pixels);
}

async function show(pixels, label) {
  state.pixels = pixels;
  drawPixels($('preview'), pixels);
  const {probs, ms} = await state.classifiers[state.current].classify(pixels);
  const ranked = Array.from(probs.keys()).sort((a, b) => probs[b] - probs[a]);
  const classes = state.manifest.classes;
  const verdict = label === undefined ? '' : label === ranked[0] ? ' ✓' : ` ✗ (is ${classes[label]})`;
  $('prediction').textContent = classes[ranked[0]] + verdict;
  $('confidence').textContent = `${(100 * probs[ranked[0]]).toFixed(1)}% confident`;
  $('latency').textContent = `${ms.toFixed(2)} ms`;
  $('top3').replaceChildren(...ranked.slice(0, 3).map(k => {
    const li = document.createElement('li');
    li.innerHTML = `<meter min="0" max="1" value="${probs[k]}"></meter> ${classes[k]} ${(100 * probs[k]).toFixed(1)}%`;
    return li;
  }));
  return {prediction: ranked[0], probs};
}

async function classifyGallery(name) {
  const classifier = state.classifiers[name];
  const results = [];
  for (const item of state.gallery) {
    const {probs, ms} = await classifier.classify(item.pixels);
    results.push({prediction: probs.indexOf(Math.max(...probs)), probs: Array.from(probs), ms});
  }
  return results;
}

async function benchmark(runs = 100) {
  const classifier = state.classifiers[state.current];
  const pixels = state.pixels ?? state.gallery[0].pixels;
  const times = [];
  for (let i = 0; i < runs; i++) times.push((await classifier.classify(pixels)).ms);
  times.sort((a, b) => a - b);
  const stats = {p50: percentile(times, .5), p90: percentile(times, .9), p99: percentile(times, .99)};
  $('summary').textContent = `${state.current}: ${runs} runs, p50 ${stats.p50.toFixed(2)} ms, ` +
      `p90 ${stats.p90.toFixed(2)} ms, p99 ${stats.p99.toFixed(2)} ms`;
  return stats;
}

/** Each model loaded as downloaded and expanded at load: load-time cost, in-memory size, p50 latency. */
async function compareExpansion(runs = 50) {
  const pixels = state.gallery[0].pixels, out = {};
  for (const entry of state.manifest.models) {
    for (const expandPacked of [false, true]) {
      const c = await Classifier.load(entry, state.manifest.preprocess, 1, expandPacked);
      if (!expandPacked || c.load.expanded) {
        const times = [];
        for (let i = 0; i < runs; i++) times.push((await c.classify(pixels)).ms);
        times.sort((a, b) => a - b);
        out[`${entry.name}${c.load.expanded ? ' expanded' : ''}`] = {...c.load, downloadBytes: c.bytes, p50: percentile(times, .5)};
      }
      c.delete();
    }
  }
  return out;
}

async function runGallery() {
  const results = await classifyGallery(state.current);
  let correct = 0;
  results.forEach((r, i) => {
    const ok = r.prediction === state.gallery[i].label;
    correct += ok;
    state.gallery[i].figure.className = ok ? 'ok' : 'bad';
  });
  $('summary').textContent = `${state.current}: ${correct}/${results.length} gallery images right`;
  return results;
}

function buildUi() {
  $('models').replaceChildren(...state.manifest.models.map(entry => {
    const b = document.createElement('button');
    b.dataset.name = entry.name;
    b.innerHTML = `${entry.name}<small>${(entry.bytes / 1024).toFixed(1)} KiB</small>`;
    b.onclick = () => selectModel(entry.name);
    return b;
  }));
  $('gallery').replaceChildren(...state.gallery.map(item => {
    const figure = document.createElement('figure');
    const canvas = document.createElement('canvas');
    canvas.width = canvas.height = 28;
    drawPixels(canvas, item.pixels);
    const caption = document.createElement('figcaption');
    caption.textContent = state.manifest.classes[item.label];
    figure.append(canvas, caption);
    figure.onclick = () => show(item.pixels, item.label);
    item.figure = figure;
    return figure;
  }));
  for (const input of [$('camera'), $('file')]) {
    input.onchange = async () => {
      const file = input.files[0];
      if (!file) return;
      const bitmap = await createImageBitmap(file);
      await show(toFashionPixels(bitmap, bitmap.width, bitmap.height));
      bitmap.close();
    };
  }
  $('benchmark').onclick = () => benchmark();
  $('run-all').onclick = () => runGallery();
}

/** Put everything this page fetched (wasm included) into the offline cache, even before the service
 *  worker controlled the page. */
async function cacheLoadedResources() {
  if (!('caches' in self)) return;
  const urls = performance.getEntriesByType('resource').map(e => e.name)
      .filter(u => u.startsWith(location.origin) && !u.includes('?'));
  const cache = await caches.open(CACHE_NAME);
  await Promise.all(urls.map(async u => { if (!(await cache.match(u))) await cache.add(u); }));
}

async function main() {
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('sw.js', {type: 'module'}).catch(e => console.warn('service worker:', e));
  }
  const [runtime, manifest, gallery] = await Promise.all(
      [initRuntime(), loadJson('models/models.json'), loadJson('models/gallery.json')]);
  state.manifest = manifest;
  state.gallery = gallery.images.map(
      g => ({label: g.label, pixels: Uint8Array.from(atob(g.pixels), c => c.charCodeAt(0))}));
  await compileAll(1);
  buildUi();
  selectModel(manifest.models[0].name);
  if (runtime.maxThreads > 1) {
    $('threads').replaceChildren(...[1, runtime.maxThreads].map(n => new Option(String(n), n)));
    $('threads').onchange = async () => { await compileAll(Number($('threads').value)); selectModel(state.current); };
    $('threads-box').hidden = false;
  }
  $('benchmark').disabled = $('run-all').disabled = false;
  const threads = runtime.threads ? 'threads available' : '1 thread';
  $('status').textContent = `LiteRT.js on WebAssembly (CPU, ${threads}), ` +
      `${manifest.models.length} models, offline-ready`;
  await show(state.gallery[0].pixels, state.gallery[0].label);
  return runtime;
}

const ready = main().catch(e => { $('status').textContent = `Error: ${e.message}`; throw e; });
window.demo = {
  ready,
  offlineReady: ready.then(cacheLoadedResources),
  models: () => state.manifest.models,
  gallery: () => state.gallery.map(g => g.label),
  select: name => selectModel(name),
  classifyGallery,
  benchmark,
  compareExpansion,
  show: index => show(state.gallery[index].pixels, state.gallery[index].label),
};
