import assert from "node:assert/strict";
import { test } from "node:test";
import { chipColors, promptPieces, readSpans, sourceShares, spanChipValues } from "../src/chips.js";
import { sequentialColor } from "../src/colors.js";
import { regionColors } from "../src/overlay.js";
import { applyStep, startRun } from "../src/state.js";

const close = (a, b, eps = 1e-6) => assert.ok(Math.abs(a - b) < eps, `${a} != ${b}`);

const PROMPT = "Is there a red circle?";
// 3 image regions (0..2), then the spans "red" (3) and "circle" (4)
const TRAIT = {
  n_image_regions: 3,
  spans: [
    { text: "red", start: 11, stop: 14, region: 3 },
    { text: "circle", start: 15, stop: 21, region: 4 },
  ],
};

// two targets: token 0 rests on "red" (+0.4) and region 0 (+0.2), token 1 on "circle" (+0.5)
// the insertion chain places red, circle, 0, 1, 2; each step's probabilities are the prefix's
const RUN = { id: 1, targets: [0, 1], total_steps: 5, p_full: [0.7, 0.6], p_blank: [0.1, 0.1] };
const PREFIX_INS = [
  [0.5, 0.1], // red
  [0.5, 0.6], // + circle
  [0.7, 0.6], // + region 0
  [0.7, 0.6], // + region 1
];
const PREFIX_DEL = [
  [0.3, 0.6], // red removed
  [0.3, 0.1], // + circle removed
  [0.1, 0.1], // + region 0 removed
  [0.1, 0.1], // + region 1 removed
];
const ORDER = [3, 4, 0, 1];

function streamed(steps = ORDER.length) {
  let state = startRun(RUN, 5);
  for (let rank = 0; rank < steps; rank++) {
    state = applyStep(state, {
      index: rank, region: ORDER[rank], rank, chain: "insert", imagesScored: 2 * rank + 2,
      insight: 0, necessity: 0, score: 0, area: (rank + 1) / 5,
      probsInsert: PREFIX_INS[rank], probsDelete: PREFIX_DEL[rank],
    }); // prettier-ignore
  }
  return state;
}

test("the trait reads as spans whose ids follow the image's, and is checked", () => {
  const spans = readSpans(TRAIT);
  assert.equal(spans.nImage, 3);
  assert.deepEqual(spans.spans.map((s) => s.text), ["red", "circle"]);
  assert.equal(readSpans({}), null);
  assert.equal(readSpans({ n_image_regions: 3, spans: [] }), null);
  assert.throws(() => readSpans({ n_image_regions: 2, spans: TRAIT.spans }), /expected 2/);
});

test("the prompt reads as written, each span one piece", () => {
  const pieces = promptPieces(PROMPT, TRAIT.spans);
  assert.equal(pieces.map((p) => p.text).join(""), PROMPT);
  assert.deepEqual(pieces, [
    { text: "Is there a ", span: null },
    { text: "red", span: 0 },
    { text: " ", span: null },
    { text: "circle", span: 1 },
    { text: "?", span: null },
  ]);
  assert.throws(() => promptPieces(PROMPT, [TRAIT.spans[1], TRAIT.spans[0]]), /not inside/);
});

test("a chip gets its span's heat value, the same as the image regions' scale", () => {
  const state = streamed();
  const spans = readSpans(TRAIT).spans;
  // all targets: gains red 0.2 + 0.2 (per target mean of 0.4 + 0.4 and 0 + 0), circle 0.25 + 0.25,
  // region 0 0.1 + 0.1: circle is the largest, so it reads 1 and red 0.8
  const both = spanChipValues(state, spans, "heat", 1, null);
  close(both[1].value, 1);
  close(both[0].value, 0.4 / 0.5);
  // the map colours regions by the same values: a chip's colour is its region's colour
  const rgba = regionColors(state, "heat", 1, null);
  assert.deepEqual(chipColors(both[0].value).background, Array.from(rgba.slice(4 * 3, 4 * 3 + 3)));
  assert.deepEqual(chipColors(both[1].value).background, sequentialColor(1));
  // token 0 alone: red is its top span, circle did nothing for it
  const first = spanChipValues(state, spans, "heat", 1, [0]);
  close(first[0].value, 1);
  close(first[1].value, 0);
  // token 1 alone: circle
  const second = spanChipValues(state, spans, "heat", 1, [1]);
  close(second[1].value, 1);
  close(second[0].value, 0);
});

test("the slider's k keeps chips in the top set and marks the step at k", () => {
  const state = streamed();
  const spans = readSpans(TRAIT).spans;
  const at1 = spanChipValues(state, spans, "focus", 1);
  assert.deepEqual(at1.map((v) => [v.kept, v.current, v.rank]), [[true, true, 0], [false, false, 1]]);
  const at2 = spanChipValues(state, spans, "focus", 2);
  assert.deepEqual(at2.map((v) => [v.kept, v.current]), [[true, false], [true, true]]);
  const at3 = spanChipValues(state, spans, "focus", 3);
  assert.deepEqual(at3.map((v) => v.current), [false, false]); // the step at 3 is an image region
  // a streaming step that just placed a span highlights it
  assert.equal(spanChipValues(state, spans, "focus", 0, null, 4)[1].current, true);
});

test("a span the search has not placed yet has no value and no colour", () => {
  const state = streamed(1); // only red placed, with no known neighbour past k = 1 for circle
  const values = spanChipValues(state, readSpans(TRAIT).spans, "heat", 1);
  assert.equal(values[1].rank, -1);
  assert.ok(Number.isNaN(values[1].value));
  assert.equal(chipColors(values[1].value), null);
  assert.equal(chipColors(1).ink, "dark");
  assert.equal(chipColors(0).ink, "light");
});

test("the three-way shares are the focused tokens' own, or their mean", () => {
  const raw = { targets: [0, 2], shares: [[0.5, 0.3, 0.2], [0.1, 0.7, 0.2]] };
  const first = sourceShares(raw, [0]);
  close(first.image, 0.5);
  close(first.prompt, 0.3);
  close(first.prior, 0.2);
  const all = sourceShares(raw, null);
  close(all.image, 0.3);
  close(all.prompt, 0.5);
  assert.equal(all.count, 2);
  assert.equal(sourceShares(raw, [1]), null); // token 1 was not explained
  assert.equal(sourceShares({ targets: [0], shares: [[null, null, null]] }, [0]), null); // not measured
  assert.equal(sourceShares(undefined, [0]), null);
});
