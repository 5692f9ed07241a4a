// @ts-check
// Binary codecs for the bytes that cross the wire (mirrored in eagle_widget/wire.py).
/** @typedef {import("./protocol.js").Binary} Binary */
/** @typedef {import("./protocol.js").ResultTrait} ResultTrait */
import { CHAINS, PROB_SCALE, STEP_HEADER_BYTES, stepRecordBytes } from "./protocol.js";

/**
 * A Uint8Array view of binary data as any front end hands it over: DataView (Jupyter),
 * ArrayBuffer, a typed array, or a plain array of byte values (tests, stand-in models).
 * @param {Binary | unknown} data
 * @returns {Uint8Array}
 */
export function toBytes(data) {
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (Array.isArray(data)) return Uint8Array.from(data);
  throw new TypeError(`expected binary data (DataView, ArrayBuffer, typed array), got ${describe(data)}`);
}

function describe(value) {
  if (value === null) return "null";
  if (typeof value === "object") return value.constructor?.name ?? "object";
  return typeof value;
}

function view(bytes) {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function checkMultiple(bytes, size, what) {
  if (bytes.byteLength % size !== 0) {
    throw new RangeError(`${what}: ${bytes.byteLength} bytes is not a multiple of ${size}`);
  }
}

/** Little-endian float32 array from bytes. */
export function decodeFloat32(data) {
  const bytes = toBytes(data);
  checkMultiple(bytes, 4, "float32 array");
  const dv = view(bytes);
  const out = new Float32Array(bytes.byteLength / 4);
  for (let i = 0; i < out.length; i++) out[i] = dv.getFloat32(4 * i, true);
  return out;
}

/** Little-endian int32 array from bytes. */
export function decodeInt32(data) {
  const bytes = toBytes(data);
  checkMultiple(bytes, 4, "int32 array");
  const dv = view(bytes);
  const out = new Int32Array(bytes.byteLength / 4);
  for (let i = 0; i < out.length; i++) out[i] = dv.getInt32(4 * i, true);
  return out;
}

/** The region label map: little-endian uint16, row-major, `shape` = [height, width]. */
export function decodeLabels(data, shape) {
  const bytes = toBytes(data);
  if (!Array.isArray(shape) || shape.length !== 2) {
    throw new TypeError(`label shape must be [height, width], got ${JSON.stringify(shape)}`);
  }
  const [height, width] = shape;
  if (bytes.byteLength !== 2 * height * width) {
    throw new RangeError(
      `label map of shape [${height}, ${width}] needs ${2 * height * width} bytes, got ${bytes.byteLength}`,
    );
  }
  const dv = view(bytes);
  const out = new Uint16Array(height * width);
  for (let i = 0; i < out.length; i++) out[i] = dv.getUint16(2 * i, true);
  return out;
}

/** One step record (layout in protocol.js) starting at byte `offset`. */
export function decodeStep(data, offset = 0) {
  const bytes = toBytes(data);
  if (bytes.byteLength - offset < STEP_HEADER_BYTES) {
    throw new RangeError(`step record truncated: ${bytes.byteLength - offset} bytes left`);
  }
  const dv = view(bytes);
  const chainCode = dv.getUint8(offset + 12);
  const nTargets = dv.getUint16(offset + 14, true);
  if (bytes.byteLength - offset < stepRecordBytes(nTargets)) {
    throw new RangeError(`step record with ${nTargets} targets truncated`);
  }
  if (chainCode >= CHAINS.length) throw new RangeError(`unknown chain code ${chainCode}`);
  const probs = (start) => {
    const out = new Float32Array(nTargets);
    for (let j = 0; j < nTargets; j++) out[j] = dv.getUint16(start + 2 * j, true) / PROB_SCALE;
    return out;
  };
  const base = offset + STEP_HEADER_BYTES;
  return {
    index: dv.getUint32(offset, true),
    region: dv.getUint32(offset + 4, true),
    rank: dv.getUint32(offset + 8, true),
    chain: CHAINS[chainCode],
    imagesScored: dv.getUint32(offset + 16, true),
    insight: dv.getFloat32(offset + 20, true),
    necessity: dv.getFloat32(offset + 24, true),
    score: dv.getFloat32(offset + 28, true),
    area: dv.getFloat32(offset + 32, true),
    probsInsert: probs(base),
    probsDelete: probs(base + 2 * nTargets),
  };
}

/** Concatenated step records, as kept in the `result` trait. */
export function decodeSteps(data) {
  const bytes = toBytes(data);
  const steps = [];
  let offset = 0;
  while (offset < bytes.byteLength) {
    const step = decodeStep(bytes, offset);
    steps.push(step);
    offset += stepRecordBytes(step.probsInsert.length);
  }
  return steps;
}

function quantize(p) {
  const clipped = Math.min(1, Math.max(0, Number(p)));
  return Math.round(clipped * PROB_SCALE);
}

/** Inverse of decodeStep (used by tests and by stand-in models of finished results). */
export function encodeStep(step) {
  const nTargets = step.probsInsert.length;
  if (step.probsDelete.length !== nTargets) {
    throw new RangeError(
      `probsInsert has ${nTargets} targets but probsDelete has ${step.probsDelete.length}`,
    );
  }
  const chainCode = CHAINS.indexOf(step.chain);
  if (chainCode < 0) throw new RangeError(`chain must be one of ${CHAINS.join(", ")}, got ${step.chain}`);
  const bytes = new Uint8Array(stepRecordBytes(nTargets));
  const dv = view(bytes);
  dv.setUint32(0, step.index, true);
  dv.setUint32(4, step.region, true);
  dv.setUint32(8, step.rank, true);
  dv.setUint8(12, chainCode);
  dv.setUint16(14, nTargets, true);
  dv.setUint32(16, step.imagesScored, true);
  dv.setFloat32(20, step.insight, true);
  dv.setFloat32(24, step.necessity, true);
  dv.setFloat32(28, step.score, true);
  dv.setFloat32(32, step.area, true);
  for (let j = 0; j < nTargets; j++) {
    dv.setUint16(STEP_HEADER_BYTES + 2 * j, quantize(step.probsInsert[j]), true);
    dv.setUint16(STEP_HEADER_BYTES + 2 * (nTargets + j), quantize(step.probsDelete[j]), true);
  }
  return bytes;
}

/**
 * The `result` trait (a dict whose binary fields arrive as DataView) decoded for
 * state.applyResult. An empty dict decodes to null.
 * @param {ResultTrait | null | undefined} raw
 */
export function decodeResult(raw) {
  if (!raw || raw.run === undefined) return null;
  const complete = Boolean(raw.complete);
  /** @type {Record<string, any>} */
  const decoded = {
    run: raw.run,
    complete,
    steps: raw.steps ? decodeSteps(raw.steps) : [],
    imagesScored: raw.images_scored,
    seconds: raw.seconds,
  };
  if (complete) {
    decoded.order = decodeInt32(raw.order);
    decoded.insertion = decodeFloat32(raw.insertion);
    decoded.deletion = decodeFloat32(raw.deletion);
    decoded.areas = decodeFloat32(raw.areas);
    decoded.insertionAuc = raw.insertion_auc;
    decoded.deletionAuc = raw.deletion_auc;
  }
  return decoded;
}
