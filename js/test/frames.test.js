import assert from "node:assert/strict";
import { test } from "node:test";
import { captionLayout, dividerLayout, frameColumns, frameKey, frameOfX, readFrames } from "../src/frames.js";
import { isControlKey } from "../src/keys.js";

test("a column of the strip lies in the frame whose equal share of the width holds it", () => {
  // 4 frames of 32 columns: frame k is columns 32k..32k+31
  const frames = Array.from({ length: 128 }, (_, x) => frameOfX(x, 128, 4));
  for (let x = 0; x < 128; x++) assert.equal(frames[x], Math.floor(x / 32), `column ${x}`);
  assert.equal(frameOfX(-3, 128, 4), 0); // clamped to the strip
  assert.equal(frameOfX(500, 128, 4), 3);
  assert.equal(frameOfX(2.5, 5, 5), 2); // a canvas position, not only a whole column
});

test("a frame's columns tile the strip with no gap and no overlap", () => {
  for (const [width, count] of [[128, 4], [1000, 7], [5, 5]]) {
    let end = 0;
    for (let i = 0; i < count; i++) {
      const [a, b] = frameColumns(i, width, count);
      assert.equal(a, end, `frame ${i} of ${count} starts where the last ended`);
      assert.ok(b > a);
      for (let x = a; x < b; x++) assert.equal(frameOfX(x + 0.5, width, count), i);
      end = b;
    }
    assert.equal(end, width);
  }
});

test("captions go over their frames left to right, dividers between frames only", () => {
  assert.deepEqual(captionLayout(4), [
    { index: 0, left: 0, width: 25 },
    { index: 1, left: 25, width: 25 },
    { index: 2, left: 50, width: 25 },
    { index: 3, left: 75, width: 25 },
  ]);
  assert.deepEqual(dividerLayout(4), [25, 50, 75]);
  assert.deepEqual(dividerLayout(1), []);
});

test("the arrow keys step through the frames and show them large; Escape returns to the strip", () => {
  const strip = { current: 0, zoomed: false };
  assert.deepEqual(frameKey("ArrowRight", strip, 4), { current: 1, zoomed: true }); // frame 2
  assert.deepEqual(frameKey("ArrowLeft", strip, 4), { current: 0, zoomed: true }); // stops at frame 1
  assert.deepEqual(frameKey("ArrowRight", { current: 3, zoomed: true }, 4), { current: 3, zoomed: true });
  assert.deepEqual(frameKey("End", strip, 4), { current: 3, zoomed: true });
  assert.deepEqual(frameKey("Home", { current: 2, zoomed: true }, 4), { current: 0, zoomed: true });
  assert.deepEqual(frameKey("Enter", { current: 2, zoomed: false }, 4), { current: 2, zoomed: true });
  assert.deepEqual(frameKey("Escape", { current: 2, zoomed: true }, 4), { current: 2, zoomed: false });
  assert.equal(frameKey("Escape", strip, 4), null); // nothing to undo: the host's
  assert.equal(frameKey("ArrowUp", strip, 4), null);
  assert.equal(frameKey("a", strip, 4), null);
});

test("the frames trait is read as a clip of two or more frames, else as an image", () => {
  assert.equal(readFrames({}), null);
  assert.equal(readFrames(undefined), null);
  assert.equal(readFrames({ count: 1, labels: ["Frame 1"] }), null);
  assert.deepEqual(readFrames({ count: 2, labels: ["Frame 1", "Frame 2"], details: ["a.png", "b.png"] }), {
    count: 2,
    labels: ["Frame 1", "Frame 2"],
    details: ["a.png", "b.png"],
  });
  assert.deepEqual(readFrames({ count: 2 }).labels, ["Frame 1", "Frame 2"]);
});

test("the map of a clip keeps its arrow keys from the host, as a control does", () => {
  const map = { closest: (selector) => (selector.includes("[data-ew-keys]") ? {} : null) };
  assert.equal(isControlKey({ key: "ArrowRight", target: map }), true);
  assert.equal(isControlKey({ key: "ArrowLeft", target: map }), true);
});
