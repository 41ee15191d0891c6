// LiteRT.js (WebAssembly, CPU) around a 28x28 grey image classifier, plus the pixel preprocessing.
//
// Preprocessing, the same as export/run_tflite.py: pixels p in 0..255 -> x = (p / 255 - mean) / std,
// float32 NHWC [1, 28, 28, 1]. Probabilities: the model output itself when it already is a distribution
// (non-negative, sums to 1), softmax(output) otherwise.
import {loadLiteRt, loadAndCompile, supportsFeature, Tensor} from '@litertjs/core';
import {expand} from './expand.js';

const WASM_DIR = new URL('./node_modules/@litertjs/core/wasm/', import.meta.url).href;

/** Load the wasm runtime once; threads only where the page is cross-origin isolated (COOP + COEP). */
export async function initRuntime() {
  const threads = self.crossOriginIsolated && await supportsFeature('relaxedSimd') && await supportsFeature('threads');
  await loadLiteRt(WASM_DIR, threads ? {threads: true} : {});
  return {threads, maxThreads: threads ? navigator.hardwareConcurrency : 1};
}

export class Classifier {
  /** entry: one model of models/models.json; preprocess: {mean, std}. A packed file (1-bit filters
   *  rebuilt in the graph) is expanded at load (expand.js: its unpacking folded into constant filters,
   *  so the convolutions run on XNNPACK) unless expandPacked is false. */
  static async load(entry, preprocess, numThreads = 1, expandPacked = true) {
    const response = await fetch(new URL(`./models/${entry.file}`, import.meta.url));
    if (!response.ok) throw new Error(`models/${entry.file}: HTTP ${response.status}`);
    const bytes = new Uint8Array(await response.arrayBuffer());
    const start = performance.now();
    const expanded = expandPacked ? expand(bytes) : {folded: 0};
    const loaded = expanded.folded ? expanded.bytes : bytes;
    const expandMs = performance.now() - start;
    const model = await loadAndCompile(loaded, {accelerator: 'wasm', cpuOptions: {numThreads}});
    const load = {expanded: expanded.folded > 0, expandMs, compileMs: performance.now() - start - expandMs,
                  memoryBytes: loaded.byteLength};
    return new Classifier(entry, preprocess, model, bytes.byteLength, load);
  }

  /** bytes: the download; load: {expanded, expandMs, compileMs, memoryBytes (the model handed to LiteRT)}. */
  constructor(entry, preprocess, model, bytes, load) {
    Object.assign(this, {entry, preprocess, model, bytes, load});
    this.shape = Array.from(model.getInputDetails()[0].shape);
  }

  /** pixels: Uint8Array of 28*28 grey values. Returns {probs: Float32Array, ms: run() wall time}. */
  async classify(pixels) {
    const {mean, std} = this.preprocess;
    const x = Float32Array.from(pixels, p => (p / 255 - mean) / std);
    const input = new Tensor(x, this.shape);
    const start = performance.now();
    const outputs = await this.model.run(input);
    const ms = performance.now() - start;
    input.delete();
    const y = await outputs[0].data();
    for (const t of outputs) t.delete();
    return {probs: toProbabilities(y), ms};
  }

  delete() { this.model.delete(); }
}

export function toProbabilities(y) {
  const sum = y.reduce((a, b) => a + b, 0);
  if (Math.min(...y) >= 0 && Math.abs(sum - 1) < 1e-2) return Float32Array.from(y, v => v / sum);
  const top = Math.max(...y);
  const e = Float32Array.from(y, v => Math.exp(v - top));
  const total = e.reduce((a, b) => a + b, 0);
  return e.map(v => v / total);
}

/** Any image (camera frame, file) -> 28x28 grey pixels in Fashion-MNIST's style: centre square crop,
 *  light object on a dark background (inverted when the border is brighter than mid-grey). */
export function toFashionPixels(source, width, height) {
  const side = Math.min(width, height);
  const canvas = new OffscreenCanvas(28, 28);
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  ctx.drawImage(source, (width - side) / 2, (height - side) / 2, side, side, 0, 0, 28, 28);
  const rgba = ctx.getImageData(0, 0, 28, 28).data;
  const grey = new Uint8Array(28 * 28);
  for (let i = 0; i < grey.length; i++) {
    grey[i] = Math.round(0.299 * rgba[4 * i] + 0.587 * rgba[4 * i + 1] + 0.114 * rgba[4 * i + 2]);
  }
  let border = 0;
  for (let i = 0; i < 28; i++) border += grey[i] + grey[27 * 28 + i] + grey[i * 28] + grey[i * 28 + 27];
  if (border / (4 * 28) > 128) for (let i = 0; i < grey.length; i++) grey[i] = 255 - grey[i];
  return grey;
}
