import assert from "node:assert/strict";
import { test } from "node:test";
import { diagnosisWords, hallucinationValues, oppositeAnswer, readDiagnosis, regionFlags } from "../src/diagnosis.js";
import { statusParts } from "../src/format.js";
import { composeOverlay, regionColors } from "../src/overlay.js";
import { applyResult, applyStep, rankValues, startRun } from "../src/state.js";

const close = (actual, expected, tol = 1e-6) =>
  assert.ok(
    actual.length === expected.length && expected.every((e, i) => Math.abs(actual[i] - e) <= tol),
    `${Array.from(actual)} != ${expected}`,
  );

// Three regions ranked 1, 2, 0 for one target. Gains of F = I + N by position:
// (0.5-0.1)+(0.9-0.6) = 0.7, (0.7-0.5)+(0.6-0.2) = 0.6, (0.9-0.7)+(0.2-0.1) = 0.3;
// cumulative 0.7, 1.3, 1.6: rank values (1.6 - c) / 0.9 = 1, 1/3, 0.
function completeState(lambda2 = 1) {
  const run = { id: 4, targets: [0], p_full: [0.9], p_blank: [0.1], lambda2, mode: "diagnose", search: "lazy" };
  return applyResult(startRun(run, 3), {
    steps: [],
    complete: true,
    order: Int32Array.from([1, 2, 0]),
    insertion: Float32Array.from([0.1, 0.5, 0.7, 0.9]),
    deletion: Float32Array.from([0.9, 0.6, 0.2, 0.1]),
    areas: Float32Array.from([0, 0.3, 0.6, 1]),
    insertionAuc: 0.6,
    deletionAuc: 0.4,
  });
}

test("the rank map is the reference's: top region 1, last 0, in between by cumulative gain", () => {
  close(rankValues(completeState()), [0, 1, 1 / 3]);
});

test("the hallucination map is 1 - the rank map: the region ranked last is the hottest", () => {
  close(hallucinationValues(completeState()), [1, 0, 2 / 3]);
});

test("the rank map is unknown until the run is complete", () => {
  let s = startRun({ id: 1, targets: [0], p_full: [0.9], p_blank: [0.1] }, 3);
  s = applyStep(s, { index: 0, region: 1, rank: 0, chain: "insert", imagesScored: 6, insight: 0, necessity: 0, score: 0, area: 0.3, probsInsert: [0.5], probsDelete: [0.6] });
  assert.ok(Array.from(hallucinationValues(s)).every(Number.isNaN));
  // diagnosis colours stay clear until then; the heat map already shows the placed region
  const clear = regionColors(s, "diagnose", 0);
  assert.deepEqual([clear[3], clear[7], clear[11]], [0, 0, 0]);
});

test("the rank map of zero gains falls back to a straight ramp by rank", () => {
  const run = { id: 2, targets: [0], p_full: [0.5], p_blank: [0.5] };
  const flat = Float32Array.from([0.5, 0.5, 0.5, 0.5]);
  const s = applyResult(startRun(run, 3), {
    steps: [],
    complete: true,
    order: Int32Array.from([2, 0, 1]),
    insertion: flat,
    deletion: flat,
    areas: Float32Array.from([0, 0.3, 0.6, 1]),
  });
  close(rankValues(s), [0.5, 0, 1]);
});

test("in diagnose mode the regions that drive the wrong answer are the most opaque", () => {
  const rgba = regionColors(completeState(), "diagnose", 0);
  const alpha = [rgba[3], rgba[7], rgba[11]];
  assert.ok(alpha[0] > alpha[2] && alpha[2] > alpha[1], `alphas ${alpha}`);
});

const TRAIT = {
  run: 4,
  complete: true,
  correct: "no",
  correct_id: 2,
  original: "yes",
  revised: "no",
  corrected: true,
  removed_regions: [6, 3],
  removed_area: 0.125,
  max_area: 0.5,
  areas: [0.0625, 0.125, 0.1875],
  p_correct: [0.4, 0.75, 0.8],
  p_start: 0.15,
  cut: 1,
};

test("the diagnosis curve starts at the full image and marks the chosen cut", () => {
  const d = readDiagnosis(TRAIT);
  assert.deepEqual(
    d.points.map((p) => [p.area, p.p]),
    [[0, 0.15], [0.0625, 0.4], [0.125, 0.75], [0.1875, 0.8]],
  );
  assert.deepEqual(d.cut, { index: 1, area: 0.125, p: 0.75 });
  assert.equal(d.revised, "no");
  assert.deepEqual(d.removedRegions, [6, 3]);
});

test("a diagnosis that never corrected the answer has no cut", () => {
  const d = readDiagnosis({ ...TRAIT, corrected: false, revised: null, removed_area: null, cut: null });
  assert.equal(d.cut, null);
  assert.equal(d.corrected, false);
  assert.equal(d.points.length, 4);
});

test("no diagnosis, a pending one, and bad ones", () => {
  assert.equal(readDiagnosis({}), null);
  assert.equal(readDiagnosis(undefined), null);
  const pending = readDiagnosis({ run: 5, complete: false, correct: "no", original: "yes", max_area: 0.5 });
  assert.equal(pending.complete, false);
  assert.deepEqual(pending.points, []);
  assert.throws(() => readDiagnosis({ ...TRAIT, p_correct: [0.1] }), /3 areas but 1 probabilities/);
  assert.throws(() => readDiagnosis({ ...TRAIT, cut: 3 }), /cut 3 is outside 0..2/);
});

test("region flags mark the given regions and reject unknown ones", () => {
  assert.deepEqual(Array.from(regionFlags(4, [3, 1])), [0, 1, 0, 1]);
  assert.throws(() => regionFlags(4, [4]), /region 4 is outside 0..3/);
});

const pixel = (rgba, width, x, y) => Array.from(rgba.slice(4 * (y * width + x), 4 * (y * width + x) + 4));

test("outlined regions get a closed band inside them, image border included", () => {
  // 3 x 3 label map, region 1 is the centre: scaled x8 to 24 x 24 (centre block 8..15)
  const labels = Uint16Array.from([0, 0, 0, 0, 1, 0, 0, 0, 0]);
  const colors = Uint8ClampedArray.from([10, 0, 0, 255, 0, 20, 0, 255]);
  const O = [0, 229, 255, 255];
  const centre = composeOverlay(labels, 3, 3, 24, 24, colors, { outline: { flags: Uint8Array.from([0, 1]), color: O, width: 2 } });
  assert.deepEqual(pixel(centre, 24, 8, 8), O); // corner of the centre block
  assert.deepEqual(pixel(centre, 24, 9, 12), O); // two pixels in from its left edge
  assert.deepEqual(pixel(centre, 24, 14, 12), O); // and from its right edge
  assert.deepEqual(pixel(centre, 24, 10, 12), [0, 20, 0, 255]); // the inside stays
  assert.deepEqual(pixel(centre, 24, 7, 12), [10, 0, 0, 255]); // the neighbour is untouched
  const frame = composeOverlay(labels, 3, 3, 24, 24, colors, { outline: { flags: Uint8Array.from([1, 0]), color: O, width: 1 } });
  assert.deepEqual(pixel(frame, 24, 0, 12), O); // region 0 closed along the image border
  assert.deepEqual(pixel(frame, 24, 1, 12), [10, 0, 0, 255]);
  assert.deepEqual(pixel(frame, 24, 7, 12), O); // and along the centre block
});

test("the status line of a diagnosis names the correct answer and the regeneration", () => {
  const s = { ...completeState(), totalSteps: 3, stepsDone: 3, imagesScored: 30 };
  const pending = readDiagnosis({ run: 4, complete: false, correct: "no", original: "yes" });
  const parts = statusParts("explaining", s, 2, pending);
  assert.deepEqual(parts.slice(0, 2), ["explaining", "diagnosis of “no”"]);
  assert.equal(parts.at(-1), "removing the regions ranked last and regenerating the answer");
  assert.ok(!parts.some((p) => p.includes("left")));
  assert.equal(statusParts("done", s, 2, readDiagnosis(TRAIT)).at(-1), "2.0 s");
});

test("without a correct answer from the user it is a counterfactual, worded as such everywhere", () => {
  const given = diagnosisWords(readDiagnosis(TRAIT));
  assert.equal(given.title, "Diagnosis: the correct answer is “no”");
  assert.equal(given.after, "revised answer");
  const asked = diagnosisWords(readDiagnosis({ ...TRAIT, counterfactual: true }));
  assert.equal(asked.title, "Counterfactual: what makes it say “no”");
  assert.equal(asked.status, "counterfactual “no”");
  assert.equal(asked.mode, "Counterfactual");
  for (const text of Object.values(asked)) assert.ok(!/correct|diagnos|wrong/i.test(text), text);
  const s = { ...completeState(), totalSteps: 3, stepsDone: 3, imagesScored: 30 };
  const pending = readDiagnosis({ run: 4, complete: false, correct: "no", original: "yes", counterfactual: true });
  assert.equal(statusParts("explaining", s, 2, pending)[1], "counterfactual “no”");
});

test("a yes/no answer offers its opposite as the correct answer, in the same case", () => {
  assert.equal(oppositeAnswer(["yes"]), "no");
  assert.equal(oppositeAnswer([" Yes", "."]), "No");
  assert.equal(oppositeAnswer(["NO", ",", " there", " is"]), "YES");
  assert.equal(oppositeAnswer(["No"]), "Yes");
  assert.equal(oppositeAnswer(["a", " red", " circle"]), null);
  assert.equal(oppositeAnswer(["yesterday"]), null);
  assert.equal(oppositeAnswer([]), null);
});
