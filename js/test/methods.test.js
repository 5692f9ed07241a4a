// A comparison's method switch (src/methods.js) and the offline page's answer for it.
import assert from "node:assert/strict";
import test from "node:test";
import { decodeFloat32 } from "../src/codecs.js";
import { mapMethods, readMethods, shownMethod } from "../src/methods.js";
import { standInModel } from "../src/page.js";
import { MSG, STATUS } from "../src/protocol.js";

const bytesOf = (values) => new Uint8Array(Float32Array.from(values).buffer);
const run = { id: 0, mode: "word", targets: [1, 2], p_full: [0.9, 0.8], p_blank: [0.1, 0.2] };
// two regions, two targets: (N + 1) x T row-major curves, one set per method
const result = (ins) => ({
  run: 0,
  complete: true,
  insertion: bytesOf(ins),
  deletion: bytesOf([0.9, 0.8, 0.5, 0.5, 0.1, 0.2]),
  areas: bytesOf([0, 0.5, 1]),
  insertion_auc: 0,
  deletion_auc: 0,
});
const trait = () => ({
  names: ["eagle", "rise"],
  active: "eagle",
  states: { eagle: { run, result: result([0.1, 0.2, 0.7, 0.3, 0.9, 0.8]) }, rise: { run, result: result([0.1, 0.2, 0.2, 0.6, 0.9, 0.8]) } },
});

test("one result has no methods; a comparison shows its first unless another is chosen", () => {
  assert.equal(readMethods({}), null);
  assert.deepEqual(shownMethod(null, "rise", run, "own"), { name: null, run, result: "own" });
  const methods = readMethods(trait());
  assert.deepEqual(methods.names, ["eagle", "rise"]);
  assert.equal(shownMethod(methods, null, {}, {}).name, "eagle");
  assert.equal(shownMethod(methods, "rise", {}, {}).result, methods.states.rise.result);
  assert.equal(shownMethod(methods, "gone", {}, {}).name, "eagle");
  assert.throws(() => readMethods({ names: ["eagle"], states: {} }), /eagle has no run or result/);
});

test("mapMethods views every method alike", () => {
  const mapped = mapMethods(readMethods(trait()), (r, res) => ({ run: { ...r, id: 7 }, result: { ...res, run: 7 } }));
  assert.deepEqual(mapped.names, ["eagle", "rise"]);
  assert.ok(mapped.names.every((name) => mapped.states[name].run.id === 7 && mapped.states[name].result.run === 7));
});

test("the page answers a clicked word with each method's own column of it", async () => {
  const state = { tokens: ["A", " red", " square"], status: STATUS.DONE, run, result: trait().states.eagle.result, methods: trait() };
  const model = standInModel(state, { json: {}, filename: "x.json" });
  const order = [];
  for (const name of ["methods", "run", "result"]) model.on(`change:${name}`, () => order.push(name));
  model.send({ type: MSG.EXPLAIN, targets: [2] });
  await new Promise((resolve) => setTimeout(resolve, 5));
  assert.deepEqual(order, ["methods", "run", "result"]); // the views find the methods first
  const methods = model.get("methods");
  const column = (name) => Array.from(decodeFloat32(methods.states[name].result.insertion)).map((v) => +v.toFixed(3));
  assert.deepEqual(column("eagle"), [0.2, 0.3, 0.8]);
  assert.deepEqual(column("rise"), [0.2, 0.6, 0.8]);
  // trapezoids over areas 0, 0.5, 1: 0.4 for eagle's column, 0.55 for rise's
  assert.ok(Math.abs(methods.states.eagle.result.insertion_auc - 0.4) < 1e-6);
  assert.ok(Math.abs(methods.states.rise.result.insertion_auc - 0.55) < 1e-6);
  assert.ok(methods.names.every((name) => methods.states[name].run.id === model.get("run").id));
  assert.deepEqual(methods.states.rise.run.targets, [2]);
});
