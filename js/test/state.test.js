import assert from "node:assert/strict";
import { test } from "node:test";
import {
  applyResult,
  applyStep,
  curvePoints,
  emptyState,
  estimateRemaining,
  keptFlags,
  normalizeGains,
  placedCount,
  regionGains,
  startRun,
  targetColumns,
  trapezoidAuc,
} from "../src/state.js";

const close = (a, b, eps = 1e-6) => assert.ok(Math.abs(a - b) < eps, `${a} != ${b}`);

// 4 regions, 2 targets (tokens 1 and 3); two insertion steps and one removal step.
const RUN = { id: 5, targets: [1, 3], total_steps: 4, mode: "word", search: "lazy", p_full: [0.9, 0.8], p_blank: [0.1, 0.2] };
const STEPS = [
  { index: 0, region: 2, rank: 0, chain: "insert", imagesScored: 8, insight: 0.45, necessity: 0.4, score: 0.85, area: 0.3, probsInsert: [0.6, 0.3], probsDelete: [0.5, 0.7] },
  { index: 1, region: 0, rank: 1, chain: "insert", imagesScored: 14, insight: 0.65, necessity: 0.6, score: 1.25, area: 0.55, probsInsert: [0.8, 0.5], probsDelete: [0.3, 0.5] },
  { index: 2, region: 3, rank: 3, chain: "remove", imagesScored: 18, insight: 0.775, necessity: 0.75, score: 1.5, area: 0.8, probsInsert: [0.85, 0.7], probsDelete: [0.2, 0.3] },
];

function streamed() {
  return STEPS.reduce(applyStep, startRun(RUN, 4));
}

test("a fresh run knows its anchors: blank image at area 0, full image at area 1", () => {
  const s = startRun(RUN, 4);
  assert.deepEqual(Array.from(s.order), [-1, -1, -1, -1]);
  assert.deepEqual(
    curvePoints(s, "insertion").map((p) => [p.k, p.area, +p.value.toFixed(6)]),
    [
      [0, 0, 0.15],
      [4, 1, 0.85],
    ],
  );
  assert.deepEqual(curvePoints(s, "deletion").map((p) => +p.value.toFixed(6)), [0.85, 0.15]);
  assert.equal(placedCount(emptyState()), 0);
});

test("insertion steps fill ranks from the top, removal steps from the bottom", () => {
  const s = streamed();
  assert.deepEqual(Array.from(s.order), [2, 0, -1, 3]);
  assert.deepEqual(Array.from(s.rankOf), [1, -1, 0, 3]);
  assert.equal(s.stepsDone, 3);
  assert.equal(s.imagesScored, 18);
  assert.equal(s.lastRegion, 3);
  assert.deepEqual(
    curvePoints(s, "insertion").map((p) => [p.k, +p.area.toFixed(6), +p.value.toFixed(6)]),
    [
      [0, 0, 0.15],
      [1, 0.3, 0.45],
      [2, 0.55, 0.65],
      [3, 0.8, 0.775],
      [4, 1, 0.85],
    ],
  );
});

test("the state is not mutated by applyStep", () => {
  const before = startRun(RUN, 4);
  applyStep(before, STEPS[0]);
  assert.deepEqual(Array.from(before.order), [-1, -1, -1, -1]);
  assert.equal(before.ins[1], null);
});

test("region gains are the marginal gains of F = I + N, NaN where unknown", () => {
  const gains = regionGains(streamed());
  close(gains[2], 0.3 + 0.25);
  close(gains[0], 0.2 + 0.2);
  close(gains[3], 0.075 + 0.1);
  assert.ok(Number.isNaN(gains[1]));
  const norm = normalizeGains(gains);
  close(norm[2], 1);
  close(norm[0], 0.4 / 0.55);
  assert.ok(Number.isNaN(norm[1]));
});

test("a token's own map uses only its column of the per-target probabilities", () => {
  const s = streamed();
  assert.deepEqual(targetColumns(s, [3]), [1]);
  assert.deepEqual(targetColumns(s, [0, 2]), []);
  const own = regionGains(s, targetColumns(s, [1]));
  close(own[2], 0.6 - 0.1 + (0.9 - 0.5));
  close(own[0], 0.8 - 0.6 + (0.5 - 0.3));
});

test("lambdas weight insight and necessity", () => {
  const s = STEPS.reduce(applyStep, startRun({ ...RUN, lambda1: 1, lambda2: 0 }, 4));
  close(regionGains(s)[2], 0.3);
});

test("a view that missed earlier steps still puts later ones at their rank", () => {
  const s = applyStep(startRun(RUN, 4), STEPS[1]);
  assert.deepEqual(Array.from(s.order), [-1, 0, -1, -1]);
  assert.ok(Number.isNaN(regionGains(s)[0])); // rank 0's set is unknown
});

test("steps with a bad region, rank or target count are rejected", () => {
  const s = startRun(RUN, 4);
  assert.throws(() => applyStep(s, { ...STEPS[0], region: 4 }), /region 4 is outside 0..3/);
  assert.throws(() => applyStep(s, { ...STEPS[0], rank: -1 }), /rank -1/);
  assert.throws(() => applyStep(s, { ...STEPS[0], probsInsert: [0.1] }), /1 values, the run has 2 targets/);
});

test("a complete result replaces the streamed order and curves", () => {
  const flat = (rows) => Float32Array.from(rows.flat());
  const result = {
    complete: true,
    steps: STEPS,
    order: [2, 0, 1, 3],
    insertion: flat([[0.1, 0.2], [0.6, 0.3], [0.8, 0.5], [0.85, 0.7], [0.9, 0.8]]),
    deletion: flat([[0.9, 0.8], [0.5, 0.7], [0.3, 0.5], [0.2, 0.3], [0.1, 0.2]]),
    areas: [0, 0.3, 0.55, 0.8, 1],
    insertionAuc: 0.61,
    deletionAuc: 0.42,
    imagesScored: 20,
    seconds: 2.5,
  };
  const s = applyResult(startRun({ id: 5, targets: [1, 3] }, 4), result);
  assert.equal(s.complete, true);
  assert.deepEqual(Array.from(s.order), [2, 0, 1, 3]);
  assert.equal(s.stepsDone, 4);
  assert.equal(s.imagesScored, 20);
  assert.deepEqual(s.aucs, { insertion: 0.61, deletion: 0.42 });
  assert.equal(curvePoints(s, "insertion").length, 5);
  assert.ok(regionGains(s).every((g) => Number.isFinite(g)));
  close(s.pBlank[1], 0.2);
  assert.throws(() => applyResult(startRun({ id: 5, targets: [1, 3] }, 4), { ...result, order: [0, 1] }), /order has 2 regions, expected 4/);
});

test("a stopped run keeps the steps it made", () => {
  const s = applyResult(startRun(RUN, 4), { complete: false, steps: STEPS.slice(0, 2), seconds: 1 });
  assert.equal(s.complete, false);
  assert.deepEqual(Array.from(s.order), [2, 0, -1, -1]);
  assert.equal(s.seconds, 1);
});

test("kept flags mark the top-k regions", () => {
  const s = streamed();
  assert.deepEqual(Array.from(keptFlags(s, 0)), [0, 0, 0, 0]);
  assert.deepEqual(Array.from(keptFlags(s, 1)), [0, 0, 1, 0]);
  assert.deepEqual(Array.from(keptFlags(s, 2)), [1, 0, 1, 0]);
  assert.deepEqual(Array.from(keptFlags(s, 9)), [1, 0, 1, 1]);
});

test("trapezoid AUC and the time estimate", () => {
  close(trapezoidAuc([{ area: 0, value: 0 }, { area: 1, value: 1 }]), 0.5);
  close(trapezoidAuc([{ area: 0, value: 1 }, { area: 0.5, value: 1 }, { area: 1, value: 0 }]), 0.75);
  assert.equal(estimateRemaining(10, 0, 50), null);
  close(estimateRemaining(10, 5, 50), 90);
  assert.equal(estimateRemaining(10, 50, 50), 0);
});
