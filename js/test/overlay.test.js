import assert from "node:assert/strict";
import { test } from "node:test";
import { sequentialColor } from "../src/colors.js";
import { DEFAULT_MODE, FOCUS_DIM, composeOverlay, focusFlags, displaySize, regionColors } from "../src/overlay.js";
import { applyStep, startRun } from "../src/state.js";

const pixel = (rgba, width, x, y) => Array.from(rgba.slice(4 * (y * width + x), 4 * (y * width + x) + 4));

// 2 x 2 label map: regions 0 1 / 2 2
const LABELS = Uint16Array.from([0, 1, 2, 2]);
const COLORS = Uint8ClampedArray.from([10, 0, 0, 255, 0, 20, 0, 255, 0, 0, 30, 255]);

test("the overlay scales the label map by nearest neighbour", () => {
  const out = composeOverlay(LABELS, 2, 2, 4, 4, COLORS);
  assert.deepEqual(pixel(out, 4, 0, 0), [10, 0, 0, 255]);
  assert.deepEqual(pixel(out, 4, 1, 1), [10, 0, 0, 255]);
  assert.deepEqual(pixel(out, 4, 2, 0), [0, 20, 0, 255]);
  assert.deepEqual(pixel(out, 4, 3, 3), [0, 0, 30, 255]);
  assert.deepEqual(pixel(out, 4, 0, 2), [0, 0, 30, 255]);
});

test("boundaries mark the last pixel before a region changes", () => {
  const B = [255, 255, 255, 200];
  const out = composeOverlay(LABELS, 2, 2, 4, 4, COLORS, { boundary: B });
  assert.deepEqual(pixel(out, 4, 1, 0), B); // 0 | 1 edge
  assert.deepEqual(pixel(out, 4, 0, 1), B); // 0 above 2
  assert.deepEqual(pixel(out, 4, 0, 0), [10, 0, 0, 255]);
  assert.deepEqual(pixel(out, 4, 0, 3), [0, 0, 30, 255]); // inside region 2, image edge is no boundary
  assert.deepEqual(pixel(out, 4, 3, 3), [0, 0, 30, 255]);
});

test("a highlighted region is outlined on all of its inner edges", () => {
  const H = [255, 0, 128, 255];
  const out = composeOverlay(LABELS, 2, 2, 4, 4, COLORS, { highlight: { region: 2, color: H } });
  assert.deepEqual(pixel(out, 4, 0, 2), H); // top row of region 2 touches 0 above
  assert.deepEqual(pixel(out, 4, 3, 2), H);
  assert.deepEqual(pixel(out, 4, 1, 3), [0, 0, 30, 255]);
  assert.deepEqual(pixel(out, 4, 1, 1), [10, 0, 0, 255]); // region 0 not outlined
});

test("a label map that does not match its size is rejected", () => {
  assert.throws(() => composeOverlay(LABELS, 3, 2, 3, 2, COLORS), /4 pixels, expected 3 x 2/);
});

function threeRegionState() {
  const run = { id: 1, targets: [0], p_full: [0.9], p_blank: [0.1] };
  let s = startRun(run, 3);
  s = applyStep(s, { index: 0, region: 1, rank: 0, chain: "insert", imagesScored: 6, insight: 0, necessity: 0, score: 0, area: 0.3, probsInsert: [0.7], probsDelete: [0.4] });
  s = applyStep(s, { index: 1, region: 2, rank: 1, chain: "insert", imagesScored: 10, insight: 0, necessity: 0, score: 0, area: 0.6, probsInsert: [0.8], probsDelete: [0.3] });
  return s;
}

test("kept and removed views fill the complementary region sets", () => {
  const s = threeRegionState();
  const kept = regionColors(s, "kept", 1);
  const removed = regionColors(s, "removed", 1);
  const alpha = (rgba) => [rgba[3], rgba[7], rgba[11]];
  assert.deepEqual(alpha(kept).map((a) => a > 200), [true, false, true]);
  assert.deepEqual(alpha(removed).map((a) => a > 200), [false, true, false]);
  assert.throws(() => regionColors(s, "sepia", 1), /map mode must be one of focus, heat, kept, removed/);
});

test("the heat view colours placed regions by gain and leaves the rest clear", () => {
  const s = threeRegionState();
  const heat = regionColors(s, "heat", 0);
  // region 1 gain: (0.7-0.1)+(0.9-0.4) = 1.1 (the top); region 2: 0.1+0.1 = 0.2
  assert.deepEqual(Array.from(heat.slice(4, 7)), sequentialColor(1));
  assert.deepEqual(Array.from(heat.slice(8, 11)), sequentialColor(0.2 / 1.1));
  assert.ok(heat[7] > heat[11], "more important regions are more opaque");
  assert.deepEqual(Array.from(heat.slice(0, 4)), [0, 0, 0, 0]); // region 0 not placed
});

test("display size brings the long side into range and keeps the aspect", () => {
  assert.deepEqual(displaySize(64, 32), [384, 192]);
  assert.deepEqual(displaySize(1440, 720), [720, 360]);
  assert.deepEqual(displaySize(500, 400), [500, 400]);
  assert.deepEqual(displaySize(0, 0), [0, 0]);
});

test("the heat map opacity caps every region's alpha and keeps their order", () => {
  const s = threeRegionState();
  const full = regionColors(s, "heat", 0, null, 1);
  const faint = regionColors(s, "heat", 0, null, 0.3);
  assert.equal(full[7], 255); // the most important region at full opacity is solid
  assert.equal(faint[7], Math.round(255 * 0.3));
  assert.ok(faint[7] > faint[11] && faint[11] > 0);
  assert.deepEqual(Array.from(regionColors(s, "heat", 0, null, 0).filter((_, i) => i % 4 === 3)), [0, 0, 0]);
});

test("the default focus view leaves the top regions clear and veils the rest", () => {
  assert.equal(DEFAULT_MODE, "focus");
  const s = threeRegionState(); // region 1 placed first, then region 2
  const focus = regionColors(s, "focus", 1);
  const alpha = (rgba) => [rgba[3], rgba[7], rgba[11]];
  // clear (alpha 0) over the top region: the image's own colours show, untinted
  assert.deepEqual(alpha(focus), [Math.round(255 * FOCUS_DIM), 0, Math.round(255 * FOCUS_DIM)]);
  assert.deepEqual(Array.from(focus.slice(0, 3)), [0, 0, 0]); // a grey veil, no hue of its own
  assert.deepEqual(alpha(regionColors(s, "focus", 2)), [Math.round(255 * FOCUS_DIM), 0, 0]);
});

test("a hovered word's focus preview shows its own best regions", () => {
  const s = threeRegionState();
  assert.deepEqual(Array.from(focusFlags(s, 1)), [0, 1, 0]); // the run's order
  // target column 0: region 1 gains (0.7 - p_blank) + ..., region 2 less
  const own = focusFlags(s, 1, [0]);
  assert.equal(own.reduce((a, b) => a + b, 0), 1);
  assert.equal(own[0], 0); // never an unplaced region
});
