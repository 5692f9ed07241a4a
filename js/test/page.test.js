// The offline page's stand-in model (src/page.js): it answers the front end's requests from
// the saved result alone.
import assert from "node:assert/strict";
import test from "node:test";
import { decodeFloat32 } from "../src/codecs.js";
import { MSG, STATUS } from "../src/protocol.js";
import { standInModel } from "../src/page.js";

const bytesOf = (values) => new Uint8Array(Float32Array.from(values).buffer);

// two regions, two targets (tokens 1 and 2): curves are (N + 1) x T row-major
function savedState() {
  return {
    tokens: ["A", " red", " square"],
    status: STATUS.DONE,
    run: { id: 0, mode: "word", targets: [1, 2], p_full: [0.9, 0.8], p_blank: [0.1, 0.2] },
    result: {
      run: 0,
      complete: true,
      insertion: bytesOf([0.1, 0.2, 0.7, 0.3, 0.9, 0.8]),
      deletion: bytesOf([0.9, 0.8, 0.2, 0.6, 0.1, 0.2]),
      areas: bytesOf([0, 0.5, 1]),
      insertion_auc: 0,
      deletion_auc: 0,
    },
  };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 5));

test("asking for one explained token shows its own curve column and AUC", async () => {
  const model = standInModel(savedState(), { json: {}, filename: "x.json" });
  let runs = 0;
  model.on("change:run", () => runs++);
  model.send({ type: MSG.EXPLAIN, targets: [2] });
  await settle();
  assert.equal(runs, 1);
  assert.deepEqual(model.get("run").targets, [2]);
  assert.deepEqual(model.get("run").p_full, [0.8]);
  assert.deepEqual(model.get("run").explained, [1, 2]); // what the page holds, for src/offer.js
  assert.deepEqual(Array.from(decodeFloat32(model.get("result").insertion)).map((v) => +v.toFixed(3)), [0.2, 0.3, 0.8]);
  // trapezoids over areas 0, 0.5, 1 of 0.2, 0.3, 0.8
  assert.ok(Math.abs(model.get("result").insertion_auc - 0.4) < 1e-6);
  assert.equal(model.get("status"), STATUS.DONE);
});

test("a token the page did not explain is an error that names what it holds", async () => {
  const model = standInModel(savedState(), { json: {}, filename: "x.json" });
  model.send({ type: MSG.EXPLAIN, targets: [0] });
  await settle();
  assert.equal(model.get("status"), STATUS.ERROR);
  assert.match(model.get("error_message"), /explains “red square” only/);
  assert.deepEqual(model.get("run").targets, [1, 2]); // the view keeps what it showed
});

test("the JSON export is answered as the kernel would", async () => {
  const model = standInModel(savedState(), { json: { order: [1, 0] }, filename: "eagle-red.json" });
  const replies = [];
  model.on("msg:custom", (msg, buffers) => replies.push([msg, buffers]));
  model.send({ type: MSG.EXPORT_JSON, id: 7 });
  await settle();
  const [[msg, buffers]] = replies;
  assert.deepEqual(msg, { type: MSG.REPLY, id: 7, ok: true, filename: "eagle-red.json" });
  assert.deepEqual(JSON.parse(new TextDecoder().decode(buffers[0])), { order: [1, 0] });
});
