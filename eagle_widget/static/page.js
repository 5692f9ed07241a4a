// src/methods.js
function readMethods(raw) {
  if (!raw || !Array.isArray(raw.names) || raw.names.length === 0) return null;
  const states = raw.states ?? {};
  for (const name of raw.names) {
    if (!states[name]?.run || !states[name]?.result) throw new Error(`method ${name} has no run or result`);
  }
  const active = raw.names.includes(raw.active) ? raw.active : raw.names[0];
  return { names: raw.names.map(String), active, states };
}
function mapMethods(methods, view) {
  const states = Object.fromEntries(methods.names.map((name) => [name, view(methods.states[name].run, methods.states[name].result)]));
  return { names: methods.names, active: methods.active, states };
}

// src/protocol.js
var STATUS = Object.freeze({
  IDLE: "idle",
  GENERATING: "generating",
  EXPLAINING: "explaining",
  DONE: "done",
  ERROR: "error",
  CANCELLED: "cancelled"
});
var BUSY = /* @__PURE__ */ new Set([STATUS.GENERATING, STATUS.EXPLAINING]);
var MSG = Object.freeze({
  STEP: "step",
  // kernel -> view: one search step, record in buffers[0]
  EXPLAIN: "explain",
  // view -> kernel: {targets: int[] | null}
  DIAGNOSE: "diagnose",
  // view -> kernel: {correct: word | token id, max_area?: number, counterfactual?: true}
  STOP: "stop",
  // view -> kernel
  EXPORT_JSON: "export_json",
  // view -> kernel: {id}
  REPLY: "reply",
  // kernel -> view: {id, ok, error?, filename?}, payload in buffers[0]
  NOTE: "note",
  // kernel -> view: {text}, a request it refused (bad arguments)
  VIEW: "view"
  // view -> kernel: a live view is drawn, so the kernel leaves its output alone
});
var CHAINS = Object.freeze(["insert", "remove"]);

// src/page.js
var readJson = (id) => JSON.parse(document.getElementById(id).textContent);
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
var floats = (b) => new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
function columns(table, T, cols) {
  const rows = table.length / T;
  const out = new Float32Array(rows * cols.length);
  for (let k = 0; k < rows; k++) cols.forEach((j, c) => out[k * cols.length + c] = table[k * T + j]);
  return out;
}
function auc(curve, areas, C) {
  let sum = 0;
  for (let k = 1; k < areas.length; k++) {
    for (let c = 0; c < C; c++) sum += (areas[k] - areas[k - 1]) * (curve[k * C + c] + curve[(k - 1) * C + c]) / 2;
  }
  return sum / C;
}
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
      explained: run.targets,
      // every token the saved result holds (src/offer.js)
      targets,
      mode: targets.length === nTokens ? "sentence" : "word",
      p_full: cols.map((j) => run.p_full[j]),
      p_blank: cols.map((j) => run.p_blank[j])
    },
    result: {
      ...full,
      run: id,
      steps: new Uint8Array(0),
      insertion: new Uint8Array(ins.buffer),
      deletion: new Uint8Array(del.buffer),
      insertion_auc: auc(ins, areas, cols.length),
      deletion_auc: auc(del, areas, cols.length)
    }
  };
}
function standInModel(state, exported) {
  const listeners = /* @__PURE__ */ new Map();
  const changed = /* @__PURE__ */ new Set();
  const full = state.result;
  const run = state.run;
  const methods = readMethods(state.methods);
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
    on: (event, fn) => listeners.set(event, [...listeners.get(event) ?? [], fn]),
    off: (event, fn) => listeners.set(event, (listeners.get(event) ?? []).filter((g) => g !== fn)),
    send: (msg) => setTimeout(() => answer(msg), 0)
    // asynchronous, like a kernel
  };
  let shown = run.targets.map((_, j) => j);
  function answer(msg) {
    if (msg?.type === MSG.EXPLAIN) {
      const wanted = new Set(msg.targets ?? run.targets);
      const cols = run.targets.flatMap((t, j) => wanted.has(t) ? [j] : []);
      if (cols.length > 0) shown = cols;
      const view = viewOf(full, run, shown, ++runId, state.tokens.length);
      if (methods) {
        const each = (r, result) => viewOf(result, r, shown, runId, state.tokens.length);
        model.set("methods", mapMethods(methods, each));
      }
      model.set("selection", view.run.targets);
      model.set("run", view.run);
      model.set("result", view.result);
      if (cols.length === 0) {
        const words = run.targets.map((t) => state.tokens[t]).join("").trim();
        model.set("error_message", `This saved page explains “${words}” only; that word was not explained.`);
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
export {
  standInModel
};
