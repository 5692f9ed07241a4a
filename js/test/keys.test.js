import assert from "node:assert/strict";
import { test } from "node:test";
import { isControlKey } from "../src/keys.js";

// a stand-in for event.target: closest() finds a control when the target is one
const control = { closest: (selector) => (selector.includes("input") ? {} : null) };
const text = { closest: () => null };
const key = (k, target = control, mods = {}) => ({ key: k, target, ...mods });

test("arrow, paging, Enter and Space keys on the widget's controls stay in the widget", () => {
  for (const k of ["ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight", "Home", "End", "PageUp", "PageDown", "Enter", " "]) {
    assert.equal(isControlKey(key(k)), true, k);
  }
});

test("host shortcuts and keys outside a control reach the host", () => {
  assert.equal(isControlKey(key("ArrowUp", text)), false); // not on a control
  assert.equal(isControlKey(key("Enter", control, { shiftKey: true })), false); // run the cell
  assert.equal(isControlKey(key("s", control, { ctrlKey: true })), false); // save
  assert.equal(isControlKey(key("ArrowDown", control, { altKey: true })), false);
  assert.equal(isControlKey(key("Escape")), false); // leave to the host (command mode)
  assert.equal(isControlKey(key("a")), false);
});
