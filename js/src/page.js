// Boots the widget's front end in an offline page written by eagle_widget/export.py.
// The page holds three JSON blocks: the front-end bundle (as one string), the widget's
// trait values (binary values as {"$bytes": base64}) and the JSON export. A stand-in for
// the anywidget model (get / set / save_changes / on / off / send) serves the traits and
// answers the front end's messages, so no kernel is needed:
//   explain {targets}: the run and result of those explained tokens (their own curve
//     columns along the same region order; a comparison's every method's, in `methods`),
//     or an error naming what was explained;
//   export_json {id}: a reply carrying the result's JSON;  stop: nothing to stop.
// Result layout (eagle_widget/wire.py, result_state): insertion and deletion are float32
// (N + 1) x T row-major, areas float32 (N + 1); steps are not needed once complete is set.
// Built by esbuild as the second entry (js/build.mjs) into eagle_widget/static/page.js.
import { mapMethods, readMethods } from "./methods.js";
import { MSG, STATUS } from "./protocol.js";

const readJson = (id) => JSON.parse(document.getElementById(id).textContent);

// Binary traits become Uint8Array (the front end's toBytes takes it as is, so the same
// trait gives the same object on every read; Jupyter hands over DataView). Large ones
// that compress well (the label map) come zlib-compressed as {"$deflate": base64}.
function bytesOf(b64) {
  const s = atob(b64);
  const u = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) u[i] = s.charCodeAt(i);
  return u;
}

async function inflate(b64) {
  const stream = new Blob([bytesOf(b64)]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function revive(v) {
  if (!v || typeof v !== "object") return v;
  if (Array.isArray(v)) return Promise.all(v.map(revive));
  if ("$bytes" in v) return bytesOf(v.$bytes);
  if ("$deflate" in v) return inflate(v.$deflate);
  const entries = await Promise.all(Object.entries(v).map(async ([k, x]) => [k, await revive(x)]));
  return Object.fromEntries(entries);
}

const floats = (b) => new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));

/** Columns `cols` of a (rows x T) row-major table. */
function columns(table, T, cols) {
  const rows = table.length / T;
  const out = new Float32Array(rows * cols.length);
  for (let k = 0; k < rows; k++) cols.forEach((j, c) => (out[k * cols.length + c] = table[k * T + j]));
  return out;
}

/** Trapezoid AUC of a (rows x C) curve against `areas`, averaged over its C columns. */
function auc(curve, areas, C) {
  let sum = 0;
  for (let k = 1; k < areas.length; k++) {
    for (let c = 0; c < C; c++) sum += ((areas[k] - areas[k - 1]) * (curve[k * C + c] + curve[(k - 1) * C + c])) / 2;
  }
  return sum / C;
}

/** The run and result traits of the targets at columns `cols` of the full result. */
function viewOf(full, run, cols, id, nTokens) {
  const T = run.targets.length;
  const areas = floats(full.areas);
  const ins = columns(floats(full.insertion), T, cols);
  const del = columns(floats(full.deletion), T, cols);
  const targets = cols.map((j) => run.targets[j]);
  return {
    run: {
      ...run,
      id,
      explained: run.targets, // every token the saved result holds (src/offer.js)
      targets,
      mode: targets.length === nTokens ? "sentence" : "word",
      p_full: cols.map((j) => run.p_full[j]),
      p_blank: cols.map((j) => run.p_blank[j]),
    },
    result: {
      ...full,
      run: id,
      steps: new Uint8Array(0),
      insertion: new Uint8Array(ins.buffer),
      deletion: new Uint8Array(del.buffer),
      insertion_auc: auc(ins, areas, cols.length),
      deletion_auc: auc(del, areas, cols.length),
    },
  };
}

export function standInModel(state, exported) {
  const listeners = new Map();
  const changed = new Set();
  const full = state.result;
  const run = state.run;
  const methods = readMethods(state.methods); // a comparison: every method's full result
  let runId = run.id;
  const emit = (event, ...args) => (listeners.get(event) ?? []).slice().forEach((fn) => fn(...args));
  const model = {
    get: (name) => state[name],
    set: (name, value) => {
      state[name] = value;
      changed.add(name);
    },
    save_changes: () => {
      const names = [...changed];
      changed.clear();
      names.forEach((name) => emit(`change:${name}`));
    },
    on: (event, fn) => listeners.set(event, [...(listeners.get(event) ?? []), fn]),
    off: (event, fn) => listeners.set(event, (listeners.get(event) ?? []).filter((g) => g !== fn)),
    send: (msg) => setTimeout(() => answer(msg), 0), // asynchronous, like a kernel
  };

  let shown = run.targets.map((_, j) => j); // columns of the view on screen

  function answer(msg) {
    if (msg?.type === MSG.EXPLAIN) {
      const wanted = new Set(msg.targets ?? run.targets);
      const cols = run.targets.flatMap((t, j) => (wanted.has(t) ? [j] : []));
      if (cols.length > 0) shown = cols;
      // a new run id even when nothing new can be shown: it ends the view's pending state
      const view = viewOf(full, run, shown, ++runId, state.tokens.length);
      if (methods) {
        const each = (r, result) => viewOf(result, r, shown, runId, state.tokens.length);
        model.set("methods", mapMethods(methods, each)); // before run: the views read it
      }
      model.set("selection", view.run.targets);
      model.set("run", view.run);
      model.set("result", view.result);
      if (cols.length === 0) {
        const words = run.targets.map((t) => state.tokens[t]).join("").trim();
        model.set("error_message", `This saved page explains \u201c${words}\u201d only; that word was not explained.`);
        model.set("status", STATUS.ERROR);
      } else {
        model.set("error_message", "");
        model.set("status", STATUS.DONE);
      }
      model.save_changes();
    } else if (msg?.type === MSG.EXPORT_JSON) {
      const bytes = new TextEncoder().encode(JSON.stringify(exported.json));
      const reply = { type: MSG.REPLY, id: msg.id, ok: true, filename: exported.filename };
      emit("msg:custom", reply, [new DataView(bytes.buffer)]);
    }
  }
  return model;
}

async function boot() {
  if (globalThis.matchMedia?.("(prefers-color-scheme: dark)").matches) {
    document.body.dataset.jpThemeLight = "false";
  }
  const model = standInModel(await revive(readJson("eagle-state")), readJson("eagle-export"));
  const url = URL.createObjectURL(new Blob([readJson("eagle-bundle")], { type: "text/javascript" }));
  const widget = (await import(url)).default;
  URL.revokeObjectURL(url);
  await widget.initialize?.({ model });
  widget.render({ model, el: document.getElementById("eagle-root") });
  document.body.dataset.ready = "true";
}

if (globalThis.document?.getElementById("eagle-state")) {
  boot().catch((error) => {
    document.body.dataset.ready = "error";
    document.getElementById("eagle-root").textContent = `Could not show the explanation: ${error.message}`;
    console.error(error);
  });
}
