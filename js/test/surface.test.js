import assert from "node:assert/strict";
import { test } from "node:test";
import { contrast, isDark, over } from "../src/surface.js";

test("contrast is WCAG's ratio: 21 for black on white, 1 for a colour on itself", () => {
  assert.equal(contrast([0, 0, 0], [255, 255, 255]), 21);
  assert.equal(contrast([31, 31, 31], [31, 31, 31]), 1);
  // VS Code Dark's muted text on the white that vscode-jupyter paints under widgets
  assert.ok(contrast([157, 157, 157], [255, 255, 255]) < 4.5);
});

test("a surface is dark when white text reads better on it than black", () => {
  assert.equal(isDark([31, 31, 31]), true); // VS Code Dark Modern's editor
  assert.equal(isDark([255, 255, 255]), false);
  assert.equal(isDark([25, 118, 210]), true); // JupyterLab's brand blue
  assert.equal(isDark([238, 238, 238]), false);
});

test("a translucent colour is composited over what is behind it", () => {
  assert.deepEqual(over([0, 0, 0, 0.8], [255, 255, 255, 1]).map(Math.round), [51, 51, 51, 1]);
  assert.deepEqual(over([10, 20, 30, 1], [255, 255, 255, 1]), [10, 20, 30, 1]);
});
