import assert from "node:assert/strict";
import { test } from "node:test";
import {
  decodeFloat32,
  decodeInt32,
  decodeLabels,
  decodeResult,
  decodeStep,
  decodeSteps,
  encodeStep,
  toBytes,
} from "../src/codecs.js";
import { stepRecordBytes } from "../src/protocol.js";

// The record of protocol.js written out byte by byte: index 3, region 7, rank 2,
// chain "remove", 2 targets, 123 images, insight 0.5, necessity 0.25, score 0.75,
// area 0.125, probs_insert [1, 0.5], probs_delete [0, 0.25]. tests/test_widget.py checks
// the Python encoder against the same bytes.
const SPEC_HEX =
  "03000000" + "07000000" + "02000000" + "01" + "00" + "0200" + "7b000000" +
  "0000003f" + "0000803e" + "0000403f" + "0000003e" +
  "ffff" + "0080" + "0000" + "0040";

function hex(s) {
  return Uint8Array.from(s.match(/../g).map((b) => parseInt(b, 16)));
}

test("decodeStep reads the documented byte layout", () => {
  const step = decodeStep(hex(SPEC_HEX));
  assert.equal(step.index, 3);
  assert.equal(step.region, 7);
  assert.equal(step.rank, 2);
  assert.equal(step.chain, "remove");
  assert.equal(step.imagesScored, 123);
  assert.equal(step.insight, 0.5);
  assert.equal(step.necessity, 0.25);
  assert.equal(step.score, 0.75);
  assert.equal(step.area, 0.125);
  assert.deepEqual(Array.from(step.probsInsert), [1, Math.fround(32768 / 65535)]);
  assert.deepEqual(Array.from(step.probsDelete), [0, Math.fround(16384 / 65535)]);
});

test("encodeStep writes the documented byte layout", () => {
  const bytes = encodeStep({
    index: 3,
    region: 7,
    rank: 2,
    chain: "remove",
    imagesScored: 123,
    insight: 0.5,
    necessity: 0.25,
    score: 0.75,
    area: 0.125,
    probsInsert: [1, 32768 / 65535],
    probsDelete: [0, 16384 / 65535],
  });
  assert.deepEqual(Array.from(bytes), Array.from(hex(SPEC_HEX)));
  assert.equal(bytes.byteLength, stepRecordBytes(2));
});

test("probabilities survive a round trip within 1/65535 and are clipped to [0, 1]", () => {
  const probsInsert = [0, 0.123456, 0.5, 0.987654, 1.2];
  const probsDelete = [-0.1, 0.3333, 0.66667, 0.999, 1];
  const step = decodeStep(
    encodeStep({ index: 0, region: 1, rank: 0, chain: "insert", imagesScored: 2, insight: 0, necessity: 0, score: 0, area: 0, probsInsert, probsDelete }),
  );
  probsInsert.forEach((p, j) => assert.ok(Math.abs(step.probsInsert[j] - Math.min(1, p)) <= 0.5 / 65535 + 1e-9));
  probsDelete.forEach((p, j) => assert.ok(Math.abs(step.probsDelete[j] - Math.max(0, p)) <= 0.5 / 65535 + 1e-9));
});

test("decodeSteps splits concatenated records and accepts a DataView at an offset", () => {
  const a = encodeStep({ index: 0, region: 4, rank: 0, chain: "insert", imagesScored: 10, insight: 0.1, necessity: 0.2, score: 0.3, area: 0.25, probsInsert: [0.1], probsDelete: [0.9] });
  const b = encodeStep({ index: 1, region: 2, rank: 3, chain: "remove", imagesScored: 20, insight: 0.4, necessity: 0.5, score: 0.9, area: 0.75, probsInsert: [0.7], probsDelete: [0.2] });
  const buffer = new Uint8Array(5 + a.length + b.length);
  buffer.set(a, 5);
  buffer.set(b, 5 + a.length);
  const steps = decodeSteps(new DataView(buffer.buffer, 5));
  assert.deepEqual(
    steps.map((s) => [s.index, s.region, s.rank, s.chain, s.imagesScored]),
    [
      [0, 4, 0, "insert", 10],
      [1, 2, 3, "remove", 20],
    ],
  );
});

test("truncated or malformed records are rejected with the reason", () => {
  const bytes = hex(SPEC_HEX);
  assert.throws(() => decodeStep(bytes.slice(0, 20)), /truncated/);
  assert.throws(() => decodeStep(bytes.slice(0, bytes.length - 1)), /truncated/);
  const badChain = bytes.slice();
  badChain[12] = 9;
  assert.throws(() => decodeStep(badChain), /unknown chain code 9/);
  assert.throws(() => encodeStep({ chain: "sideways", probsInsert: [], probsDelete: [] }), /chain must be one of/);
});

test("label maps decode as little-endian uint16 and check their shape", () => {
  const labels = decodeLabels(Uint8Array.from([1, 0, 0, 1, 255, 255, 2, 0, 3, 0, 4, 0]), [2, 3]);
  assert.deepEqual(Array.from(labels), [1, 256, 65535, 2, 3, 4]);
  assert.throws(() => decodeLabels(new Uint8Array(10), [2, 3]), /needs 12 bytes, got 10/);
  assert.throws(() => decodeLabels(new Uint8Array(12), [6]), /\[height, width\]/);
});

test("float32 and int32 arrays decode little-endian", () => {
  const f = new Float32Array([0.5, -2, 1e-3]);
  assert.deepEqual(Array.from(decodeFloat32(new DataView(f.buffer))), Array.from(f));
  assert.deepEqual(Array.from(decodeInt32(Uint8Array.from([255, 255, 255, 255, 5, 0, 0, 0]))), [-1, 5]);
  assert.throws(() => decodeFloat32(new Uint8Array(6)), /not a multiple of 4/);
});

test("toBytes accepts the binary forms front ends hand over and names what it got", () => {
  const u8 = Uint8Array.from([1, 2, 3]);
  assert.deepEqual(Array.from(toBytes(new DataView(u8.buffer, 1))), [2, 3]);
  assert.deepEqual(Array.from(toBytes(u8.buffer)), [1, 2, 3]);
  assert.deepEqual(Array.from(toBytes([4, 5])), [4, 5]);
  assert.throws(() => toBytes("abc"), /got string/);
  assert.throws(() => toBytes({}), /got Object/);
});

test("decodeResult decodes complete results and ignores an empty dict", () => {
  assert.equal(decodeResult({}), null);
  const step = encodeStep({ index: 0, region: 1, rank: 0, chain: "insert", imagesScored: 4, insight: 0.6, necessity: 0.5, score: 1.1, area: 0.5, probsInsert: [0.6], probsDelete: [0.5] });
  const result = decodeResult({
    run: 2,
    complete: true,
    steps: new DataView(step.buffer),
    order: new DataView(new Int32Array([1, 0]).buffer),
    insertion: new DataView(new Float32Array([0.1, 0.6, 0.9]).buffer),
    deletion: new DataView(new Float32Array([0.9, 0.5, 0.1]).buffer),
    areas: new DataView(new Float32Array([0, 0.5, 1]).buffer),
    insertion_auc: 0.55,
    deletion_auc: 0.5,
    images_scored: 4,
    seconds: 1.5,
  });
  assert.equal(result.run, 2);
  assert.deepEqual(Array.from(result.order), [1, 0]);
  assert.equal(result.steps.length, 1);
  assert.deepEqual(Array.from(result.areas), [0, 0.5, 1]);
  assert.equal(result.insertionAuc, 0.55);
});
