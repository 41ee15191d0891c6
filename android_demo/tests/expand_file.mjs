// Expand a packed .tflite file with the demo's expand.js (as the page does at load) and write the result.
//
//   node tests/expand_file.mjs IN.tflite OUT.tflite      prints {"folded": ops, "filters": n, "ms": load-time cost}
import {readFileSync, writeFileSync} from 'node:fs';
import {expand} from '../expand.js';

const [input, output] = process.argv.slice(2);
if (!input || !output) { console.error('usage: node tests/expand_file.mjs IN.tflite OUT.tflite'); process.exit(2); }
const bytes = new Uint8Array(readFileSync(input));
const start = performance.now();
const result = expand(bytes);
const ms = performance.now() - start;
writeFileSync(output, result.bytes);
console.log(JSON.stringify({folded: result.folded, filters: result.filters, ms, bytes: result.bytes.length}));
