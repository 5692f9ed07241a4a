import assert from "node:assert/strict";
import { test } from "node:test";
import { displayToken, formatSeconds, statusParts } from "../src/format.js";
import { applyStep, emptyState, startRun } from "../src/state.js";

test("tokens show without their leading space and with visible blanks", () => {
  assert.equal(displayToken(" red"), "red");
  assert.equal(displayToken("ing"), "ing");
  assert.equal(displayToken(" "), "␣");
  assert.equal(displayToken("\n"), "↵");
});

test("durations read naturally at every scale", () => {
  assert.equal(formatSeconds(4.14), "4.1 s");
  assert.equal(formatSeconds(42.4), "42 s");
  assert.equal(formatSeconds(125), "2 min 05 s");
  assert.equal(formatSeconds(3720), "1 h 02 min");
  assert.equal(formatSeconds(Number.NaN), "–");
});

test("the status line names mode, search, steps, images, time and time left", () => {
  let s = startRun({ id: 0, targets: [2, 3], total_steps: 10, mode: "word", search: "lazy", p_full: [1, 1], p_blank: [0, 0] }, 10);
  s = applyStep(s, { index: 0, region: 4, rank: 0, chain: "insert", imagesScored: 22, insight: 0, necessity: 0, score: 0, area: 0.1, probsInsert: [0.5, 0.5], probsDelete: [0.5, 0.5] });
  s = applyStep(s, { index: 1, region: 5, rank: 1, chain: "insert", imagesScored: 40, insight: 0, necessity: 0, score: 0, area: 0.2, probsInsert: [0.6, 0.6], probsDelete: [0.4, 0.4] });
  assert.deepEqual(statusParts("explaining", s, 4), [
    "explaining",
    "word level (2 tokens)",
    "lazy search",
    "step 2/10",
    "40 images",
    "4.0 s",
    "~16 s left",
  ]);
  assert.deepEqual(statusParts("generating", emptyState(), null), ["generating the caption"]);
  const done = { ...s, seconds: 12.5 };
  assert.deepEqual(statusParts("done", done, null).slice(-1), ["13 s"]);
});
