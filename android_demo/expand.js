// Load-time expansion of a packed TFLite file, in the browser: the JavaScript twin of
// tfquant_lite/fold.py. A `packed` / `packed-int8` file rebuilds every binary filter at run time with
//   CAST -> ADD 128 -> GATHER(table) -> RESHAPE [-> SLICE -> RESHAPE] [-> CAST -> MUL s | -> MUL q_c];
// all their inputs are constants, so they are evaluated once here, with the semantics of TFLite's kernels:
//   CAST     y = x converted (integer inputs only: exact for the ±1, ±127 and 0..255 used)
//   ADD      y = x + z      (unquantized, broadcast, no fused activation)
//   MUL      y = x · z      (unquantized: float32 products rounded as IEEE float32, as in the kernel;
//                            or int8 with zero points 0 and s_x·s_z = s_y: clip(x·z), exact)
//   GATHER   y = take(x, positions, axis)      RESHAPE y = x with the output's shape
//   SLICE    y = x[begin : begin + size]
// Each result consumed by a kept op becomes that tensor's constant, and the folded ops are dropped, so
// LiteRT.js hands the convolutions to XNNPACK again. The download stays 1-bit; the expanded model costs
// the unpacked filters' bytes in memory.
//
// Writing: the original file is embedded unchanged at the end of a new flatbuffer (flatbuffers offsets
// point forward, so new tables written before it can reference its vectors and tables), and only the
// root Model, subgraph 0, its tensor and operator vectors, the rebuilt filters' Tensor tables and the
// buffers vector are new. Reading goes through the `flatbuffers` runtime by field id (TFLite schema,
// tensorflow/compiler/mlir/lite/schema/schema.fbs).
import * as flatbuffers from 'flatbuffers';

const OP = {ADD: 0, MUL: 18, RESHAPE: 22, GATHER: 36, CAST: 53, SLICE: 65};
const TYPE = {0: Float32Array, 2: Int32Array, 3: Uint8Array, 7: Int16Array, 9: Int8Array};
const INT8 = 9;
const FOLDABLE = new Set(Object.values(OP));
// Field ids: Model, SubGraph, Tensor, Buffer, Operator, OperatorCode, QuantizationParameters.
const MODEL = {version: 0, operatorCodes: 1, subgraphs: 2, description: 3, buffers: 4, metadataBuffer: 5, metadata: 6,
               signatureDefs: 7};
const SUBGRAPH = {tensors: 0, inputs: 1, outputs: 2, operators: 3, name: 4, debugMetadataIndex: 5};
const TENSOR = {shape: 0, type: 1, buffer: 2, name: 3, quantization: 4, isVariable: 5, sparsity: 6,
                shapeSignature: 7, hasRank: 8, variantTensors: 9};

class Reader {
  constructor(bytes) { this.bb = new flatbuffers.ByteBuffer(bytes); this.bytes = bytes; }
  slot(table, id) { return this.bb.__offset(table, 4 + 2 * id); }
  /** Absolute position of the object (table, vector, string) that field `id` points to, or 0. */
  target(table, id) { const o = this.slot(table, id); return o ? this.bb.__indirect(table + o) : 0; }
  fieldCount(table) { return (this.bb.readInt16(table - this.bb.readInt32(table)) - 4) / 2; }
  u8(table, id, d = 0) { const o = this.slot(table, id); return o ? this.bb.readUint8(table + o) : d; }
  i8(table, id, d = 0) { const o = this.slot(table, id); return o ? this.bb.readInt8(table + o) : d; }
  i32(table, id, d = 0) { const o = this.slot(table, id); return o ? this.bb.readInt32(table + o) : d; }
  u32(table, id, d = 0) { const o = this.slot(table, id); return o ? this.bb.readUint32(table + o) : d; }
  u64(table, id) { const o = this.slot(table, id); return o ? this.bb.readUint64(table + o) : 0n; }
  vector(table, id) {
    const o = this.slot(table, id);
    return o ? {start: this.bb.__vector(table + o), length: this.bb.__vector_len(table + o)} : {start: 0, length: 0};
  }
  tables(table, id) { const v = this.vector(table, id); return Array.from({length: v.length}, (_, i) => this.bb.__indirect(v.start + 4 * i)); }
  ints(table, id) { const v = this.vector(table, id); return Array.from({length: v.length}, (_, i) => this.bb.readInt32(v.start + 4 * i)); }
  floats(table, id) { const v = this.vector(table, id); return Array.from({length: v.length}, (_, i) => this.bb.readFloat32(v.start + 4 * i)); }
  int64s(table, id) { const v = this.vector(table, id); return Array.from({length: v.length}, (_, i) => this.bb.readInt64(v.start + 8 * i)); }
  bytesOf(table, id) { const v = this.vector(table, id); return this.bytes.subarray(v.start, v.start + v.length); }
}

const product = shape => shape.reduce((a, b) => a * b, 1);

function broadcastShape(a, b) {
  const rank = Math.max(a.length, b.length);
  const pa = Array(rank - a.length).fill(1).concat(a), pb = Array(rank - b.length).fill(1).concat(b);
  return pa.map((d, i) => {
    if (d !== pb[i] && d !== 1 && pb[i] !== 1) throw new Error(`shapes ${a} and ${b} do not broadcast`);
    return Math.max(d, pb[i]);
  });
}

/** Element-wise f(x, z) with NumPy broadcasting, into a new array of type Out. */
function binary(x, z, f, Out) {
  const shape = broadcastShape(x.shape, z.shape);
  const strides = s => {
    const padded = Array(shape.length - s.length).fill(1).concat(s);
    const out = Array(shape.length).fill(0);
    for (let i = shape.length - 1, step = 1; i >= 0; step *= padded[i], i--) out[i] = padded[i] === 1 ? 0 : step;
    return out;
  };
  const sx = strides(x.shape), sz = strides(z.shape), n = product(shape), out = new Out(n);
  const index = Array(shape.length).fill(0);
  for (let k = 0; k < n; k++) {
    let ix = 0, iz = 0;
    for (let d = 0; d < shape.length; d++) { ix += index[d] * sx[d]; iz += index[d] * sz[d]; }
    out[k] = f(x.data[ix], z.data[iz]);
    for (let d = shape.length - 1; d >= 0 && ++index[d] === shape[d]; d--) index[d] = 0;
  }
  return {data: out, shape};
}

function gather(params, positions, axis) {
  const outer = product(params.shape.slice(0, axis)), rows = params.shape[axis];
  const inner = product(params.shape.slice(axis + 1)), p = positions.data;
  if (p.some(i => i < 0 || i >= rows)) return null;  // out of range: the kernel's error, not folded
  const out = new params.data.constructor(outer * p.length * inner);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < p.length; j++) {
      const from = (o * rows + p[j]) * inner;
      out.set(params.data.subarray(from, from + inner), (o * p.length + j) * inner);
    }
  }
  return {data: out, shape: [...params.shape.slice(0, axis), ...positions.shape, ...params.shape.slice(axis + 1)]};
}

function slice(x, begin, size) {
  const shape = x.shape.map((d, i) => (size[i] < 0 ? d - begin[i] : size[i]));
  const n = product(shape), out = new x.data.constructor(n), index = Array(shape.length).fill(0);
  const strides = x.shape.map((_, i) => product(x.shape.slice(i + 1)));
  for (let k = 0; k < n; k++) {
    let from = 0;
    for (let d = 0; d < shape.length; d++) from += (index[d] + begin[d]) * strides[d];
    out[k] = x.data[from];
    for (let d = shape.length - 1; d >= 0 && ++index[d] === shape[d]; d--) index[d] = 0;
  }
  return {data: out, shape};
}

/** Reads model `bytes` and folds subgraph 0's constant unpack ops; returns the new bytes and a summary. */
export function expand(bytes) {
  const r = new Reader(bytes);
  const model = r.bb.readInt32(r.bb.position()) + r.bb.position();
  const buffers = r.tables(model, MODEL.buffers);
  for (const b of buffers) {
    if (r.u64(b, 1) > 1n) throw new Error('model keeps its weights outside the flatbuffer (buffer offsets); not expandable here');
  }
  const codes = r.tables(model, MODEL.operatorCodes).map(c => Math.max(r.i8(c, 0), r.i32(c, 3)));
  const subgraphs = r.tables(model, MODEL.subgraphs);
  const sub = subgraphs[0];
  const tensors = r.tables(sub, SUBGRAPH.tensors);
  for (const t of tensors) if (r.fieldCount(t) > 10) throw new Error('tensor table newer than this reader');
  const graphOutputs = new Set(r.ints(sub, SUBGRAPH.outputs));
  const info = tensors.map(t => ({
    shape: r.ints(t, TENSOR.shape), type: r.i8(t, TENSOR.type), buffer: r.u32(t, TENSOR.buffer),
    variable: r.u8(t, TENSOR.isVariable) !== 0, quantization: r.target(t, TENSOR.quantization),
  }));
  const quantized = t => t.quantization !== 0 && r.vector(t.quantization, 2).length > 0;
  const values = new Map();  // tensor index -> {data, shape}
  const constant = i => {
    if (values.has(i)) return values.get(i);
    const t = info[i], Type = TYPE[t.type], raw = r.bytesOf(buffers[t.buffer], 0);
    if (!Type || raw.length === 0) return null;
    const copy = raw.slice();  // aligned copy
    return {data: new Type(copy.buffer, 0, copy.length / Type.BYTES_PER_ELEMENT), shape: t.shape};
  };
  const unitRescale = ids => ids.every(i => {
    const q = info[i].quantization;
    return info[i].type === INT8 && quantized(info[i]) && r.vector(q, 2).length === 1 && r.int64s(q, 3).every(z => z === 0n);
  }) && Math.fround(r.floats(info[ids[0]].quantization, 2)[0] * r.floats(info[ids[1]].quantization, 2)[0])
      === r.floats(info[ids[2]].quantization, 2)[0];

  function evaluate(op) {
    const name = codes[r.u32(op, 0)], inputs = r.ints(op, 1).filter(i => i >= 0), outputs = r.ints(op, 2);
    if (!FOLDABLE.has(name) || outputs.length !== 1 || graphOutputs.has(outputs[0])) return null;
    const out = info[outputs[0]], Out = TYPE[out.type];
    if (!Out || inputs.some(i => info[i].variable)) return null;
    const x = inputs.map(constant);
    if (x.some(v => v === null)) return null;
    const options = r.target(op, 4);
    if ((name === OP.ADD || name === OP.MUL) && options && r.i8(options, 0) !== 0) return null;  // fused activation
    if ([OP.CAST, OP.ADD, OP.MUL].includes(name) && [...inputs, outputs[0]].some(i => quantized(info[i]))
        && !(name === OP.MUL && unitRescale([...inputs, outputs[0]]))) return null;
    let y = null;
    if (name === OP.CAST) {
      y = x[0].data instanceof Float32Array ? null : {data: Out.from(x[0].data), shape: x[0].shape};
    } else if (name === OP.ADD) {
      y = binary(x[0], x[1], (a, b) => a + b, Out);
    } else if (name === OP.MUL) {
      y = out.type === INT8 ? binary(x[0], x[1], (a, b) => Math.max(-128, Math.min(127, a * b)), Out)
                            : binary(x[0], x[1], (a, b) => a * b, Out);
    } else if (name === OP.GATHER) {
      if (options && r.i32(options, 1) !== 0) return null;  // batch_dims
      const axis = options ? r.i32(options, 0) : 0;
      y = gather(x[0], x[1], axis < 0 ? axis + x[0].shape.length : axis);
    } else if (name === OP.RESHAPE) {
      y = {data: x[0].data, shape: out.shape};
    } else if (name === OP.SLICE) {
      y = slice(x[0], Array.from(x[1].data), Array.from(x[2].data));
    }
    return y && y.data.length === product(out.shape) ? {index: outputs[0], value: {data: y.data, shape: out.shape}} : null;
  }

  const operators = r.tables(sub, SUBGRAPH.operators), kept = [];
  for (const op of operators) {
    const folded = evaluate(op);
    if (folded) values.set(folded.index, folded.value); else kept.push(op);
  }
  const used = new Set(kept.flatMap(op => r.ints(op, 1)));
  const rebuilt = [...values.keys()].filter(i => used.has(i));
  return {bytes: write(r, model, buffers, subgraphs, tensors, kept, rebuilt, values),
          folded: operators.length - kept.length, filters: rebuilt.length};
}

function write(r, model, buffers, subgraphs, tensors, kept, rebuilt, values) {
  const extra = rebuilt.reduce((n, i) => n + values.get(i).data.byteLength + 64, 0);
  const b = new flatbuffers.Builder(r.bytes.length + extra + 4096);
  // The original file, as one 16-byte aligned block: `at(p)` is the builder handle of its object at p.
  b.startVector(1, r.bytes.length, 16);
  b.space -= r.bytes.length;
  b.bb.bytes().set(r.bytes, b.space);
  const block = b.endVector();
  const at = p => block - 4 - p;
  const vectorOf = handles => {
    b.startVector(4, handles.length, 4);
    for (let i = handles.length - 1; i >= 0; i--) b.addOffset(handles[i]);
    return b.endVector();
  };
  const newBuffers = new Map();
  for (const i of rebuilt) {
    const v = values.get(i).data, raw = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    b.startVector(1, raw.length, 16);
    b.space -= raw.length;
    b.bb.bytes().set(raw, b.space);
    const data = b.endVector();
    b.startObject(3);
    b.addFieldOffset(0, data, 0);
    newBuffers.set(i, {index: buffers.length + newBuffers.size, table: b.endObject()});
  }
  const bufferVector = vectorOf([...buffers.map(at), ...[...newBuffers.values()].map(x => x.table)]);
  const copyOffset = (table, id, into) => { const p = r.target(table, id); if (p) b.addFieldOffset(into, at(p), 0); };
  const tensorHandles = tensors.map((t, i) => {
    if (!newBuffers.has(i)) return at(t);
    b.startObject(10);
    for (const id of [TENSOR.shape, TENSOR.name, TENSOR.quantization, TENSOR.sparsity, TENSOR.shapeSignature,
                      TENSOR.variantTensors]) copyOffset(t, id, id);
    b.addFieldInt8(TENSOR.type, r.i8(t, TENSOR.type), 0);
    b.addFieldInt32(TENSOR.buffer, newBuffers.get(i).index, 0);
    b.addFieldInt8(TENSOR.isVariable, r.u8(t, TENSOR.isVariable), 0);
    b.addFieldInt8(TENSOR.hasRank, r.u8(t, TENSOR.hasRank), 0);
    return b.endObject();
  });
  const tensorVector = vectorOf(tensorHandles), operatorVector = vectorOf(kept.map(at));
  const sub = subgraphs[0];
  b.startObject(6);
  b.addFieldOffset(SUBGRAPH.tensors, tensorVector, 0);
  b.addFieldOffset(SUBGRAPH.operators, operatorVector, 0);
  for (const id of [SUBGRAPH.inputs, SUBGRAPH.outputs, SUBGRAPH.name]) copyOffset(sub, id, id);
  b.addFieldInt32(SUBGRAPH.debugMetadataIndex, r.i32(sub, SUBGRAPH.debugMetadataIndex, -1), -1);
  const subgraphVector = vectorOf([b.endObject(), ...subgraphs.slice(1).map(at)]);
  b.startObject(8);
  b.addFieldInt32(MODEL.version, r.u32(model, MODEL.version), 0);
  b.addFieldOffset(MODEL.subgraphs, subgraphVector, 0);
  b.addFieldOffset(MODEL.buffers, bufferVector, 0);
  for (const id of [MODEL.operatorCodes, MODEL.description, MODEL.metadataBuffer, MODEL.metadata, MODEL.signatureDefs]) {
    copyOffset(model, id, id);
  }
  b.finish(b.endObject(), 'TFL3');
  return b.asUint8Array();
}
