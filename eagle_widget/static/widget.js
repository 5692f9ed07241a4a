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
var STEP_HEADER_BYTES = 36;
var PROB_SCALE = 65535;
function stepRecordBytes(nTargets) {
  return STEP_HEADER_BYTES + 4 * nTargets;
}

// src/codecs.js
function toBytes(data) {
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (Array.isArray(data)) return Uint8Array.from(data);
  throw new TypeError(`expected binary data (DataView, ArrayBuffer, typed array), got ${describe(data)}`);
}
function describe(value) {
  if (value === null) return "null";
  if (typeof value === "object") return value.constructor?.name ?? "object";
  return typeof value;
}
function view(bytes) {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
function checkMultiple(bytes, size, what) {
  if (bytes.byteLength % size !== 0) {
    throw new RangeError(`${what}: ${bytes.byteLength} bytes is not a multiple of ${size}`);
  }
}
function decodeFloat32(data) {
  const bytes = toBytes(data);
  checkMultiple(bytes, 4, "float32 array");
  const dv = view(bytes);
  const out = new Float32Array(bytes.byteLength / 4);
  for (let i = 0; i < out.length; i++) out[i] = dv.getFloat32(4 * i, true);
  return out;
}
function decodeInt32(data) {
  const bytes = toBytes(data);
  checkMultiple(bytes, 4, "int32 array");
  const dv = view(bytes);
  const out = new Int32Array(bytes.byteLength / 4);
  for (let i = 0; i < out.length; i++) out[i] = dv.getInt32(4 * i, true);
  return out;
}
function decodeLabels(data, shape) {
  const bytes = toBytes(data);
  if (!Array.isArray(shape) || shape.length !== 2) {
    throw new TypeError(`label shape must be [height, width], got ${JSON.stringify(shape)}`);
  }
  const [height, width] = shape;
  if (bytes.byteLength !== 2 * height * width) {
    throw new RangeError(
      `label map of shape [${height}, ${width}] needs ${2 * height * width} bytes, got ${bytes.byteLength}`
    );
  }
  const dv = view(bytes);
  const out = new Uint16Array(height * width);
  for (let i = 0; i < out.length; i++) out[i] = dv.getUint16(2 * i, true);
  return out;
}
function decodeStep(data, offset = 0) {
  const bytes = toBytes(data);
  if (bytes.byteLength - offset < STEP_HEADER_BYTES) {
    throw new RangeError(`step record truncated: ${bytes.byteLength - offset} bytes left`);
  }
  const dv = view(bytes);
  const chainCode = dv.getUint8(offset + 12);
  const nTargets = dv.getUint16(offset + 14, true);
  if (bytes.byteLength - offset < stepRecordBytes(nTargets)) {
    throw new RangeError(`step record with ${nTargets} targets truncated`);
  }
  if (chainCode >= CHAINS.length) throw new RangeError(`unknown chain code ${chainCode}`);
  const probs = (start) => {
    const out = new Float32Array(nTargets);
    for (let j = 0; j < nTargets; j++) out[j] = dv.getUint16(start + 2 * j, true) / PROB_SCALE;
    return out;
  };
  const base = offset + STEP_HEADER_BYTES;
  return {
    index: dv.getUint32(offset, true),
    region: dv.getUint32(offset + 4, true),
    rank: dv.getUint32(offset + 8, true),
    chain: CHAINS[chainCode],
    imagesScored: dv.getUint32(offset + 16, true),
    insight: dv.getFloat32(offset + 20, true),
    necessity: dv.getFloat32(offset + 24, true),
    score: dv.getFloat32(offset + 28, true),
    area: dv.getFloat32(offset + 32, true),
    probsInsert: probs(base),
    probsDelete: probs(base + 2 * nTargets)
  };
}
function decodeSteps(data) {
  const bytes = toBytes(data);
  const steps = [];
  let offset = 0;
  while (offset < bytes.byteLength) {
    const step = decodeStep(bytes, offset);
    steps.push(step);
    offset += stepRecordBytes(step.probsInsert.length);
  }
  return steps;
}
function decodeResult(raw) {
  if (!raw || raw.run === void 0) return null;
  const complete = Boolean(raw.complete);
  const decoded = {
    run: raw.run,
    complete,
    steps: raw.steps ? decodeSteps(raw.steps) : [],
    imagesScored: raw.images_scored,
    seconds: raw.seconds
  };
  if (complete) {
    decoded.order = decodeInt32(raw.order);
    decoded.insertion = decodeFloat32(raw.insertion);
    decoded.deletion = decodeFloat32(raw.deletion);
    decoded.areas = decodeFloat32(raw.areas);
    decoded.insertionAuc = raw.insertion_auc;
    decoded.deletionAuc = raw.deletion_auc;
    decoded.scoring = raw.scoring ?? "exact";
  }
  return decoded;
}

// src/state.js
function emptyState() {
  return startRun({ id: -1, targets: [] }, 0);
}
function startRun(run, nRegions) {
  if (!Number.isInteger(nRegions) || nRegions < 0) {
    throw new RangeError(`nRegions must be a non-negative integer, got ${nRegions}`);
  }
  const targets = Array.from(run.targets ?? []);
  let state = {
    runId: run.id ?? -1,
    mode: run.mode ?? "",
    search: run.search ?? "",
    totalSteps: run.total_steps ?? nRegions,
    lambda1: run.lambda1 ?? 1,
    lambda2: run.lambda2 ?? 1,
    nRegions,
    targets,
    nTargets: targets.length,
    order: new Int32Array(nRegions).fill(-1),
    rankOf: new Int32Array(nRegions).fill(-1),
    ins: new Array(nRegions + 1).fill(null),
    del: new Array(nRegions + 1).fill(null),
    areas: new Float64Array(nRegions + 1).fill(Number.NaN),
    stepsDone: 0,
    imagesScored: 0,
    lastRegion: -1,
    lastStep: null,
    complete: false,
    aucs: null,
    seconds: null,
    scoring: "exact"
  };
  if (run.p_full && run.p_blank) state = setAnchors(state, run.p_full, run.p_blank);
  return state;
}
function checkTargets(state, probs, what) {
  if (probs.length !== state.nTargets) {
    throw new RangeError(`${what} has ${probs.length} values, the run has ${state.nTargets} targets`);
  }
}
function setAnchors(state, pFull, pBlank) {
  const full = Float32Array.from(pFull);
  const blank = Float32Array.from(pBlank);
  checkTargets(state, full, "p_full");
  checkTargets(state, blank, "p_blank");
  const N = state.nRegions;
  const ins = state.ins.slice();
  const del = state.del.slice();
  const areas = state.areas.slice();
  ins[0] = blank;
  del[0] = full;
  areas[0] = 0;
  ins[N] = full;
  del[N] = blank;
  areas[N] = 1;
  return { ...state, ins, del, areas, pFull: full, pBlank: blank };
}
function stepSize(step) {
  return step.chain === "remove" ? step.rank : step.rank + 1;
}
function applyStep(state, step) {
  const N = state.nRegions;
  if (!(step.region >= 0 && step.region < N)) {
    throw new RangeError(`step region ${step.region} is outside 0..${N - 1}`);
  }
  if (!(step.rank >= 0 && step.rank < N)) {
    throw new RangeError(`step rank ${step.rank} is outside 0..${N - 1}`);
  }
  checkTargets(state, step.probsInsert, "probsInsert");
  checkTargets(state, step.probsDelete, "probsDelete");
  const order = state.order.slice();
  const rankOf = state.rankOf.slice();
  const previous = order[step.rank];
  if (previous >= 0) rankOf[previous] = -1;
  if (rankOf[step.region] >= 0) order[rankOf[step.region]] = -1;
  order[step.rank] = step.region;
  rankOf[step.region] = step.rank;
  const k = stepSize(step);
  const ins = state.ins.slice();
  const del = state.del.slice();
  const areas = state.areas.slice();
  ins[k] = Float32Array.from(step.probsInsert);
  del[k] = Float32Array.from(step.probsDelete);
  areas[k] = step.area;
  return {
    ...state,
    order,
    rankOf,
    ins,
    del,
    areas,
    stepsDone: state.stepsDone + 1,
    imagesScored: Math.max(state.imagesScored, step.imagesScored),
    lastRegion: step.region,
    lastStep: step
  };
}
function applyResult(state, result) {
  let next = state;
  for (const step of result.steps ?? []) next = applyStep(next, step);
  next = { ...next, lastRegion: -1 };
  if (!result.complete) return { ...next, seconds: result.seconds ?? null };
  const N = state.nRegions;
  const T = state.nTargets;
  if (result.order.length !== N) {
    throw new RangeError(`result order has ${result.order.length} regions, expected ${N}`);
  }
  const rows = (flat, what) => {
    if (flat.length !== (N + 1) * T) {
      throw new RangeError(`${what} has ${flat.length} values, expected ${(N + 1) * T}`);
    }
    return Array.from({ length: N + 1 }, (_, k) => flat.slice(k * T, (k + 1) * T));
  };
  const order = Int32Array.from(result.order);
  const rankOf = new Int32Array(N).fill(-1);
  order.forEach((region, rank) => {
    rankOf[region] = rank;
  });
  const ins = rows(result.insertion, "insertion curve");
  if (result.areas.length !== N + 1) {
    throw new RangeError(`areas has ${result.areas.length} values, expected ${N + 1}`);
  }
  return {
    ...next,
    order,
    rankOf,
    ins,
    del: rows(result.deletion, "deletion curve"),
    areas: Float64Array.from(result.areas),
    pFull: ins[N],
    pBlank: ins[0],
    stepsDone: Math.max(next.stepsDone, N),
    imagesScored: result.imagesScored ?? next.imagesScored,
    complete: true,
    aucs: { insertion: result.insertionAuc, deletion: result.deletionAuc },
    seconds: result.seconds ?? null,
    scoring: result.scoring ?? "exact"
  };
}
function targetColumns(state, tokenIndices) {
  const wanted = new Set(tokenIndices);
  const cols = [];
  state.targets.forEach((token, j) => {
    if (wanted.has(token)) cols.push(j);
  });
  return cols;
}
function mean(values, cols) {
  if (cols === null) {
    let sum2 = 0;
    for (let j = 0; j < values.length; j++) sum2 += values[j];
    return values.length ? sum2 / values.length : Number.NaN;
  }
  if (cols.length === 0) return Number.NaN;
  let sum = 0;
  for (const j of cols) sum += values[j];
  return sum / cols.length;
}
function curvePoints(state, kind, cols = null) {
  const rows = kind === "insertion" ? state.ins : kind === "deletion" ? state.del : null;
  if (rows === null) throw new RangeError(`curve kind must be "insertion" or "deletion", got ${kind}`);
  const points = [];
  rows.forEach((row, k) => {
    if (row !== null && Number.isFinite(state.areas[k])) {
      points.push({ k, area: state.areas[k], value: mean(row, cols) });
    }
  });
  return points;
}
function trapezoidAuc(points) {
  let sum = 0;
  for (let i = 1; i < points.length; i++) {
    sum += (points[i].area - points[i - 1].area) * (points[i].value + points[i - 1].value) / 2;
  }
  return sum;
}
function regionGains(state, cols = null) {
  const gains = new Float64Array(state.nRegions).fill(Number.NaN);
  const { ins, del, lambda1, lambda2 } = state;
  for (let rank = 0; rank < state.nRegions; rank++) {
    const region = state.order[rank];
    if (region < 0) continue;
    if (!ins[rank] || !ins[rank + 1] || !del[rank] || !del[rank + 1]) continue;
    const insight = mean(ins[rank + 1], cols) - mean(ins[rank], cols);
    const necessity = mean(del[rank], cols) - mean(del[rank + 1], cols);
    gains[region] = lambda1 * insight + lambda2 * necessity;
  }
  return gains;
}
function normalizeGains(gains) {
  let top = 0;
  for (const g of gains) if (g > top) top = g;
  return gains.map((g) => Number.isNaN(g) ? Number.NaN : top > 0 ? Math.max(0, g) / top : 0);
}
function keptFlags(state, k) {
  const flags = new Uint8Array(state.nRegions);
  for (let rank = 0; rank < Math.min(k, state.nRegions); rank++) {
    if (state.order[rank] >= 0) flags[state.order[rank]] = 1;
  }
  return flags;
}
function placedCount(state) {
  let n = 0;
  for (const region of state.order) if (region >= 0) n++;
  return n;
}
function estimateRemaining(elapsedSeconds, done, total) {
  if (!(done > 0) || !(elapsedSeconds >= 0) || done >= total) return done >= total ? 0 : null;
  return elapsedSeconds / done * (total - done);
}
function rankValues(state, cols = null) {
  const N = state.nRegions;
  const values = new Float64Array(N).fill(Number.NaN);
  if (!state.complete || N === 0) return values;
  const { ins, del, lambda1, lambda2 } = state;
  const cumulative = new Float64Array(N);
  let sum = 0;
  for (let k = 0; k < N; k++) {
    const gain = lambda1 * (mean(ins[k + 1], cols) - mean(ins[k], cols)) + lambda2 * (mean(del[k], cols) - mean(del[k + 1], cols));
    sum += Math.abs(gain);
    cumulative[k] = sum;
  }
  const span = cumulative[N - 1] - cumulative[0];
  for (let k = 0; k < N; k++) {
    const region = state.order[k];
    if (region < 0) continue;
    values[region] = span > 0 ? (cumulative[N - 1] - cumulative[k]) / span : N > 1 ? 1 - k / (N - 1) : 1;
  }
  return values;
}

// src/diagnosis.js
function readDiagnosis(raw) {
  if (!raw || raw.correct === void 0) return null;
  const base = {
    run: raw.run ?? null,
    complete: Boolean(raw.complete),
    correct: String(raw.correct),
    counterfactual: Boolean(raw.counterfactual),
    original: raw.original ?? "",
    maxArea: raw.max_area ?? null
  };
  if (!base.complete) return { ...base, revised: null, corrected: false, removedRegions: [], removedArea: null, points: [], cut: null };
  const areas = raw.areas ?? [];
  const probs = raw.p_correct ?? [];
  if (areas.length !== probs.length) {
    throw new RangeError(`diagnosis has ${areas.length} areas but ${probs.length} probabilities`);
  }
  const points = [{ area: 0, p: raw.p_start ?? Number.NaN }, ...areas.map((area, i) => ({ area, p: probs[i] }))];
  const cutIndex = raw.cut ?? null;
  if (cutIndex !== null && !(Number.isInteger(cutIndex) && cutIndex >= 0 && cutIndex < areas.length)) {
    throw new RangeError(`diagnosis cut ${cutIndex} is outside 0..${areas.length - 1}`);
  }
  return {
    ...base,
    revised: raw.revised ?? null,
    corrected: Boolean(raw.corrected),
    removedRegions: Array.from(raw.removed_regions ?? []),
    removedArea: raw.removed_area ?? null,
    points,
    cut: cutIndex === null ? null : { index: cutIndex, ...points[cutIndex + 1] }
  };
}
function diagnosisWords(d) {
  const word = `“${d?.correct ?? "the correct answer"}”`;
  if (d?.counterfactual) {
    return {
      title: `Counterfactual: what makes it say ${word}`,
      mode: "Counterfactual",
      modeHint: `the regions that hold up the given answer (1 − the map of ${word}); the removed ones outlined`,
      status: `counterfactual ${word}`,
      before: "answer",
      after: "after the removal",
      drives: `holds up the given answer (1 − map of ${word})`,
      flips: `makes the answer ${word}`,
      noFlip: `did not make the answer ${word}`
    };
  }
  return {
    title: `Diagnosis: the correct answer is ${word}`,
    mode: "Diagnosis",
    modeHint: "the regions that drive the wrong answer (1 − the correct answer's map); the removed ones outlined",
    status: `diagnosis of ${word}`,
    before: "original answer",
    after: "revised answer",
    drives: "drives the wrong answer (1 − map of the correct one)",
    flips: `turns the answer into ${word}`,
    noFlip: `did not turn the answer into ${word}`
  };
}
function hallucinationValues(state, cols = null) {
  return rankValues(state, cols).map((v) => Number.isNaN(v) ? Number.NaN : 1 - v);
}
function regionFlags(nRegions, regions) {
  const flags = new Uint8Array(nRegions);
  for (const r of regions) {
    if (!(Number.isInteger(r) && r >= 0 && r < nRegions)) {
      throw new RangeError(`region ${r} is outside 0..${nRegions - 1}`);
    }
    flags[r] = 1;
  }
  return flags;
}
var OPPOSITE = { yes: "no", no: "yes" };
function oppositeAnswer(tokens) {
  const first = (tokens ?? []).join("").trim().split(/[\s.,!?;:]+/)[0] ?? "";
  const other = OPPOSITE[first.toLowerCase()];
  if (!other) return null;
  if (first === first.toUpperCase() && first.length > 1) return other.toUpperCase();
  return first[0] === first[0].toUpperCase() ? other[0].toUpperCase() + other.slice(1) : other;
}

// src/dom.js
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === void 0 || value === null || value === false) continue;
    if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "style") Object.assign(el.style, value);
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === void 0 || child === false) continue;
    el.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return el;
}
function cssVar(el, name, fallback) {
  const value = getComputedStyle(el).getPropertyValue(name).trim();
  return value || fallback;
}
function download(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: filename, style: { display: "none" } });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1e4);
}
var svgNamespace = null;
function svgNs() {
  if (svgNamespace === null) {
    const probe2 = document.createElement("div");
    probe2.innerHTML = "<svg></svg>";
    svgNamespace = probe2.firstChild.namespaceURI;
  }
  return svgNamespace;
}
function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(svgNs(), tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === void 0 || value === null || value === false) continue;
    if (key === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === void 0 || child === false) continue;
    el.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return el;
}

// src/colors.js
var DEG = Math.PI / 180;
function fromLinear(c) {
  return c <= 31308e-7 ? 12.92 * c : 1.055 * c ** (1 / 2.4) - 0.055;
}
function oklabToLinear([L, a, b]) {
  const l = (L + 0.3963377774 * a + 0.2158037573 * b) ** 3;
  const m = (L - 0.1055613458 * a - 0.0638541728 * b) ** 3;
  const s = (L - 0.0894841775 * a - 1.291485548 * b) ** 3;
  return [
    4.0767416621 * l - 3.3077115913 * m + 0.2309699292 * s,
    -1.2684380046 * l + 2.6097574011 * m - 0.3413193965 * s,
    -0.0041960863 * l - 0.7034186147 * m + 1.707614701 * s
  ];
}
var inGamut = (lin) => lin.every((c) => c >= -1e-6 && c <= 1 + 1e-6);
function oklchToRgb(L, C, hueDeg) {
  const lab = (c) => [L, c * Math.cos(hueDeg * DEG), c * Math.sin(hueDeg * DEG)];
  let lo = 0;
  let hi = C;
  if (!inGamut(oklabToLinear(lab(hi)))) {
    for (let i = 0; i < 30; i++) {
      const mid = (lo + hi) / 2;
      if (inGamut(oklabToLinear(lab(mid)))) lo = mid;
      else hi = mid;
    }
    hi = lo;
  }
  return oklabToLinear(lab(hi)).map(
    (c) => Math.round(255 * fromLinear(Math.min(1, Math.max(0, c))))
  );
}
function sequentialOklch(t) {
  const L = 0.3 + 0.64 * t;
  const C = 0.12 - 0.04 * Math.sin(Math.PI * t) + 0.07 * t ** 3;
  const h2 = 290 - 185 * t;
  return [L, C, h2];
}
function buildSequentialLut(n = 256) {
  const lut = new Uint8ClampedArray(3 * n);
  for (let i = 0; i < n; i++) {
    const rgb = oklchToRgb(...sequentialOklch(i / (n - 1)));
    lut.set(rgb, 3 * i);
  }
  return lut;
}
var SEQUENTIAL_LUT = buildSequentialLut(256);
function sequentialColor(v) {
  const t = Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : 0;
  const i = Math.round(t * 255);
  return [SEQUENTIAL_LUT[3 * i], SEQUENTIAL_LUT[3 * i + 1], SEQUENTIAL_LUT[3 * i + 2]];
}
var PRIOR_HUE = 255;
var VISUAL_HUE = 55;
function divergingColor(t) {
  const x = Number.isFinite(t) ? Math.min(1, Math.max(-1, t)) : 0;
  const a = Math.abs(x);
  return oklchToRgb(0.97 - 0.4 * a, 0.16 * a, x < 0 ? PRIOR_HUE : VISUAL_HUE);
}
function css([r, g, b], alpha = 1) {
  return alpha >= 1 ? `rgb(${r} ${g} ${b})` : `rgb(${r} ${g} ${b} / ${alpha})`;
}
var RELIANCE_COLORS = Object.freeze({
  prior: divergingColor(-0.8),
  visual: divergingColor(0.8)
});

// src/export.js
function composeExport({ mapCanvas, curvesCanvas, lines, legend, colors }) {
  const pad = 12;
  const a = mapCanvas;
  const b = curvesCanvas;
  const bw = b.width / (globalThis.devicePixelRatio || 1);
  const bh = b.height / (globalThis.devicePixelRatio || 1);
  const text = lines.filter(Boolean);
  const out = h("canvas");
  out.width = a.width + bw + 3 * pad;
  out.height = Math.max(a.height, bh) + 2 * pad + 18 * text.length + pad;
  const ctx = out.getContext("2d");
  ctx.fillStyle = colors.bg;
  ctx.fillRect(0, 0, out.width, out.height);
  ctx.drawImage(a, pad, pad);
  ctx.drawImage(b, a.width + 2 * pad, pad, bw, bh);
  if (legend) {
    const x0 = a.width + 2 * pad;
    const y0 = pad + bh + 16;
    for (let i = 0; i < 160; i++) {
      ctx.fillStyle = css(sequentialColor(i / 159));
      ctx.fillRect(x0 + i, y0, 1, 10);
    }
    ctx.fillStyle = colors.muted;
    ctx.font = `11px ${colors.font}`;
    ctx.fillText(`low → high ${legend}`, x0 + 168, y0 + 9);
  }
  ctx.fillStyle = colors.fg;
  ctx.font = `13px ${colors.font}`;
  text.forEach((line2, i) => ctx.fillText(line2, pad, Math.max(a.height, bh) + 2 * pad + 14 + 18 * i));
  return out;
}
function exportPng(canvas, setNote) {
  canvas.toBlob((blob) => {
    if (!blob) return setNote("PNG export failed.");
    download(blob, "eagle-view.png");
    setNote("Saved eagle-view.png.");
  }, "image/png");
}
async function exportJson(ask, setNote) {
  try {
    const [msg, buffers] = await ask(MSG.EXPORT_JSON);
    download(new Blob([toBytes(buffers[0])], { type: "application/json" }), msg.filename || "eagle-explanation.json");
    setNote(`Saved ${msg.filename || "the result"}.`);
  } catch (error) {
    setNote(`JSON export failed: ${error.message}`);
  }
}
function captionText(tokens, selection) {
  const selected = new Set(selection ?? []);
  return (tokens ?? []).map((t, i) => selected.has(i) ? `[${t.trim()}]` : t.trim()).join(" ");
}

// src/format.js
function displayToken(text) {
  const shown = String(text).replace(/^[ \t]+/, "").replace(/\r?\n/g, "↵");
  return shown.length ? shown : "␣";
}
function formatSeconds(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return "–";
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) {
    const m = Math.floor(seconds / 60);
    return `${m} min ${String(Math.round(seconds - 60 * m)).padStart(2, "0")} s`;
  }
  const hours = Math.floor(seconds / 3600);
  return `${hours} h ${String(Math.round((seconds - 3600 * hours) / 60)).padStart(2, "0")} min`;
}
function formatProb(p) {
  return Number.isFinite(p) ? p.toFixed(2) : "–";
}
var STATUS_WORDS = {
  [STATUS.IDLE]: "ready",
  [STATUS.GENERATING]: "generating the caption",
  [STATUS.EXPLAINING]: "explaining",
  [STATUS.DONE]: "done",
  [STATUS.ERROR]: "error",
  [STATUS.CANCELLED]: "stopped"
};
function statusParts(status, state, elapsedSeconds, diagnosis = null) {
  const parts = [STATUS_WORDS[status] ?? status];
  if (state.runId < 0 || status === STATUS.GENERATING) return parts;
  const targets = state.nTargets === 1 ? "1 token" : `${state.nTargets} tokens`;
  if (state.mode === "diagnose") parts.push(diagnosisWords(diagnosis).status);
  else parts.push(`${state.mode || "word"} level (${targets})`);
  if (state.search) parts.push(`${state.search} search`);
  if (state.scoring === "approximate") parts.push("approximate (top log-probabilities, absent = 0)");
  parts.push(`step ${Math.min(state.stepsDone, state.totalSteps)}/${state.totalSteps}`);
  parts.push(`${state.imagesScored} images`);
  const elapsed = state.seconds ?? elapsedSeconds;
  if (Number.isFinite(elapsed)) parts.push(formatSeconds(elapsed));
  if (status === STATUS.EXPLAINING && state.complete && diagnosis && !diagnosis.complete) {
    parts.push("removing the regions ranked last and regenerating the answer");
  } else if (status === STATUS.EXPLAINING) {
    const left = estimateRemaining(elapsed, state.stepsDone, state.totalSteps);
    parts.push(left === null ? "estimating time left" : `~${formatSeconds(left)} left`);
  }
  return parts;
}

// src/frames.js
function readFrames(trait) {
  const count = Number.isInteger(trait?.count) ? trait.count : 0;
  if (count < 2) return null;
  const labels = Array.from({ length: count }, (_, i) => trait.labels?.[i] ?? `Frame ${i + 1}`);
  const details = Array.from({ length: count }, (_, i) => trait.details?.[i] ?? "");
  return { count, labels, details };
}
function frameColumns(index, width, count) {
  return [Math.round(index * width / count), Math.round((index + 1) * width / count)];
}
function captionLayout(count) {
  return Array.from({ length: count }, (_, index) => ({ index, left: 100 * index / count, width: 100 / count }));
}
function dividerLayout(count) {
  return Array.from({ length: Math.max(0, count - 1) }, (_, i) => 100 * (i + 1) / count);
}
function frameKey(key, view2, count) {
  const { current, zoomed } = view2;
  const show = (i) => ({ current: Math.min(count - 1, Math.max(0, i)), zoomed: true });
  switch (key) {
    case "ArrowRight":
      return show(current + 1);
    case "ArrowLeft":
      return show(current - 1);
    case "Home":
      return show(0);
    case "End":
      return show(count - 1);
    case "Enter":
      return show(current);
    case "Escape":
      return zoomed ? { current, zoomed: false } : null;
    default:
      return null;
  }
}
function createFrames({ target, keyRoot, onChange }) {
  const el = h("div", { class: "ew-frames", dataset: { role: "frames", frame: "" } });
  let frames = null;
  let view2 = { current: 0, zoomed: false };
  let lastKey = null;
  const onKey = (event) => {
    if (!frames || event.ctrlKey || event.metaKey || event.altKey || event.shiftKey) return;
    const next = frameKey(event.key, view2, frames.count);
    if (next === null) return;
    event.preventDefault();
    event.stopPropagation();
    view2 = next;
    onChange(next);
  };
  keyRoot.addEventListener("keydown", onKey);
  function update(trait, next) {
    frames = readFrames(trait);
    view2 = next;
    const key = frames ? `${frames.labels.join("|")}:${frames.details.join("|")}:${view2.current}:${view2.zoomed}` : "none";
    if (key === lastKey) return;
    lastKey = key;
    el.dataset.frame = frames && view2.zoomed ? String(view2.current) : "";
    if (!frames) {
      el.replaceChildren();
      target.removeAttribute("tabindex");
      target.removeAttribute("data-ew-keys");
      return;
    }
    target.setAttribute("tabindex", "0");
    target.setAttribute("data-ew-keys", "frames");
    target.setAttribute("aria-keyshortcuts", "ArrowLeft ArrowRight Home End Escape");
    const captions = captionLayout(frames.count).map(({ index, left, width }) => {
      const on = view2.zoomed && index === view2.current;
      const hidden = view2.zoomed && !on;
      return h(
        "button",
        {
          type: "button",
          class: `ew-frame-caption${index === view2.current ? " ew-frame-current" : ""}`,
          dataset: { role: "frame-caption", index: String(index) },
          "aria-pressed": on ? "true" : "false",
          title: frames.details[index] ? `${frames.labels[index]}: ${frames.details[index]}` : frames.labels[index],
          // as wide as its text, within its frame: its dark plate covers no more of the frame
          style: view2.zoomed ? { left: "0%", width: "auto", display: hidden ? "none" : "" } : { left: `${left}%`, maxWidth: `${width}%` },
          onclick: () => onChange({ current: index, zoomed: true })
        },
        frames.labels[index]
      );
    });
    const dividers = view2.zoomed ? [] : dividerLayout(frames.count).map((left) => h("div", { class: "ew-frame-divider", dataset: { role: "frame-divider" }, style: { left: `${left}%` } }));
    const all = view2.zoomed ? h("button", { type: "button", class: "ew-frame-all", dataset: { role: "frames-all" }, onclick: () => onChange({ current: view2.current, zoomed: false }) }, "All frames") : null;
    el.replaceChildren(...dividers, ...captions, ...all ? [all] : []);
  }
  function destroy() {
    keyRoot.removeEventListener("keydown", onKey);
  }
  return { el, update, destroy };
}

// src/keys.js
var CONTROLS = "input, button, [role=button], [data-ew-keys]";
var SUPPRESS = "data-lm-suppress-shortcuts";
var CONTROL_KEYS = Object.freeze([
  "ArrowUp",
  "ArrowDown",
  "ArrowLeft",
  "ArrowRight",
  "Home",
  "End",
  "PageUp",
  "PageDown",
  "Enter",
  " "
]);
var KEYS = new Set(CONTROL_KEYS);
function isControlKey(event) {
  if (!KEYS.has(event.key) || event.ctrlKey || event.metaKey || event.altKey) return false;
  if (event.key === "Enter" && event.shiftKey) return false;
  const target = event.target;
  return Boolean(target?.closest?.(CONTROLS));
}
function containKeys(root) {
  const onKey = (event) => {
    if (isControlKey(event)) event.stopPropagation();
  };
  const onFocus = (event) => {
    if (event.target?.matches?.(CONTROLS)) event.target.setAttribute(SUPPRESS, "true");
  };
  root.addEventListener("keydown", onKey);
  root.addEventListener("keyup", onKey);
  root.addEventListener("focusin", onFocus);
  return () => {
    root.removeEventListener("keydown", onKey);
    root.removeEventListener("keyup", onKey);
    root.removeEventListener("focusin", onFocus);
  };
}

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
function shownMethod(methods, chosen, run, result) {
  if (!methods) return { name: null, run, result };
  const name = chosen !== null && methods.names.includes(chosen) ? chosen : methods.active;
  return { name, run: methods.states[name].run, result: methods.states[name].result };
}
function createMethodSwitch({ onPick }) {
  const group = h("div", { class: "ew-segmented", role: "group", "aria-label": "method", dataset: { role: "methods" } });
  const el = h("div", { class: "ew-methods", hidden: true }, h("span", { class: "ew-methods-label" }, "Method"), group);
  let names = [];
  function update({ methods, shown }) {
    el.hidden = !methods;
    const wanted = methods ? methods.names : [];
    if (wanted.join("\0") !== names.join("\0")) {
      names = wanted;
      group.replaceChildren(
        ...names.map(
          (name) => h("button", { type: "button", class: "ew-seg", dataset: { method: name }, title: `show ${name}'s ranking of the same regions`, onclick: () => onPick(name) }, name)
        )
      );
    }
    for (const button of group.children) {
      button.setAttribute("aria-pressed", String(
        /** @type {HTMLElement} */
        button.dataset.method === shown
      ));
    }
  }
  return { el, update };
}

// src/offer.js
function offerOf({ hasModel, tokens, run, hasImage = true }) {
  const map = hasImage ? "map" : "colours of the prompt";
  const n = tokens?.length ?? 0;
  const explained = new Set(hasModel ? [] : run?.explained ?? run?.targets ?? []);
  const holds = (i) => hasModel || explained.has(i);
  const all = n > 0 && Array.from({ length: n }, (_, i) => i).every(holds);
  return {
    saved: !hasModel,
    sentence: all,
    /** a word (its token indices) can be clicked: one of its tokens is held */
    clickable: (indices) => indices.some(holds),
    hint: hasModel ? `Click a word to explain it, shift-click to add words, hover to preview a word's own ${map}.` : `Click an explained word to see its ${map}, shift-click to add explained words, hover to preview a word's own ${map}.`,
    legend: hasModel ? "Click a word to explain it." : `Click an explained word to see its ${map}.`,
    /** the hover hint of a word that is not a target of the run on screen */
    notShown: (word, indices) => hasModel ? `“${word}” is not a target of this run: click it to explain it.` : indices.some(holds) ? `“${word}” is not shown in this view: click it to see its ${map}.` : `“${word}” is not explained in this saved result.`
  };
}

// src/overlay.js
var MAP_MODES = Object.freeze(["focus", "heat", "kept", "removed", "diagnose"]);
var DEFAULT_MODE = "focus";
var FOCUS_DIM = 0.6;
var HIDDEN = [0, 0, 0, 255];
var PENDING = [0, 0, 0, 0];
var DEFAULT_OPACITY = 0.6;
function focusFlags(state, k, cols = null) {
  if (cols === null) return keptFlags(state, k);
  const gains = regionGains(state, cols);
  const ranked = Array.from(gains.keys()).filter((r) => !Number.isNaN(gains[r]));
  ranked.sort((a, b) => gains[b] - gains[a] || a - b);
  const flags = new Uint8Array(state.nRegions);
  for (const r of ranked.slice(0, k)) flags[r] = 1;
  return flags;
}
function regionColors(state, mode, k, cols = null, opacity = DEFAULT_OPACITY) {
  const N = state.nRegions;
  const rgba = new Uint8ClampedArray(4 * N);
  if (mode === "heat" || mode === "diagnose") {
    const values = mode === "heat" ? normalizeGains(regionGains(state, cols)) : hallucinationValues(state, cols);
    for (let r = 0; r < N; r++) {
      if (Number.isNaN(values[r])) {
        rgba.set(PENDING, 4 * r);
        continue;
      }
      const [red, green, blue] = sequentialColor(values[r]);
      rgba.set([red, green, blue, Math.round(255 * opacity * (0.45 + 0.55 * values[r]))], 4 * r);
    }
    return rgba;
  }
  if (mode === "focus") {
    const top = focusFlags(state, k, cols);
    const veil = [0, 0, 0, Math.round(255 * FOCUS_DIM)];
    for (let r = 0; r < N; r++) rgba.set(top[r] ? PENDING : veil, 4 * r);
    return rgba;
  }
  if (mode !== "kept" && mode !== "removed") {
    throw new RangeError(`map mode must be one of ${MAP_MODES.join(", ")}, got ${mode}`);
  }
  const kept = keptFlags(state, k);
  const hideKept = mode === "removed";
  for (let r = 0; r < N; r++) {
    if (Boolean(kept[r]) === hideKept) rgba.set(HIDDEN, 4 * r);
  }
  return rgba;
}
function composeOverlay(labels, labelWidth, labelHeight, outWidth, outHeight, colors, options = {}) {
  const { boundary = null, highlight = null, outline = null } = options;
  if (labels.length !== labelWidth * labelHeight) {
    throw new RangeError(
      `label map has ${labels.length} pixels, expected ${labelWidth} x ${labelHeight}`
    );
  }
  const out = new Uint8ClampedArray(4 * outWidth * outHeight);
  const xs = new Int32Array(outWidth);
  for (let x = 0; x < outWidth; x++) xs[x] = Math.min(labelWidth - 1, Math.floor(x * labelWidth / outWidth));
  const ys = new Int32Array(outHeight);
  for (let y = 0; y < outHeight; y++) ys[y] = Math.min(labelHeight - 1, Math.floor(y * labelHeight / outHeight));
  const regionAt = (x, y) => x < 0 || y < 0 || x >= outWidth || y >= outHeight ? -1 : labels[ys[y] * labelWidth + xs[x]];
  const band = outline ? Math.max(1, outline.width ?? 2) : 0;
  const nearOtherRegion = (x, y, region) => {
    for (let d = 1; d <= band; d++) {
      if (regionAt(x + d, y) !== region || regionAt(x - d, y) !== region) return true;
      if (regionAt(x, y + d) !== region || regionAt(x, y - d) !== region) return true;
    }
    return false;
  };
  const nColors = colors.length / 4;
  let previousRow = null;
  let row = new Int32Array(outWidth);
  for (let y = 0; y < outHeight; y++) {
    const ly = Math.min(labelHeight - 1, Math.floor(y * labelHeight / outHeight));
    const nextLy = Math.min(labelHeight - 1, Math.floor((y + 1) * labelHeight / outHeight));
    for (let x = 0; x < outWidth; x++) row[x] = labels[ly * labelWidth + xs[x]];
    for (let x = 0; x < outWidth; x++) {
      const region = row[x];
      const o = 4 * (y * outWidth + x);
      if (region < nColors) {
        out[o] = colors[4 * region];
        out[o + 1] = colors[4 * region + 1];
        out[o + 2] = colors[4 * region + 2];
        out[o + 3] = colors[4 * region + 3];
      }
      if (outline && outline.flags[region] && nearOtherRegion(x, y, region)) {
        out.set(outline.color, o);
        continue;
      }
      if (!boundary && !highlight) continue;
      const right = x + 1 < outWidth ? row[x + 1] : region;
      const below = y + 1 < outHeight ? labels[nextLy * labelWidth + xs[x]] : region;
      const left = x > 0 ? row[x - 1] : region;
      const above = previousRow ? previousRow[x] : region;
      const edge = right !== region || below !== region;
      if (highlight && region === highlight.region && (edge || left !== region || above !== region)) {
        out.set(highlight.color, o);
      } else if (boundary && edge) {
        out.set(boundary, o);
      }
    }
    previousRow = row;
    row = new Int32Array(outWidth);
  }
  return out;
}
function displaySize(height, width, minSide = 384, maxSide = 720) {
  const long = Math.max(height, width);
  if (!(long > 0)) return [0, 0];
  const scale = long < minSide ? minSide / long : long > maxSide ? maxSide / long : 1;
  return [Math.round(height * scale), Math.round(width * scale)];
}

// src/requests.js
function createRequests(model) {
  let lastId = 0;
  const pending = /* @__PURE__ */ new Map();
  function ask(type, timeoutMs = 6e4) {
    const id = ++lastId;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error("no answer from the kernel (is it running?)"));
      }, timeoutMs);
      pending.set(id, (msg, buffers) => {
        clearTimeout(timer);
        if (msg.ok) resolve([msg, buffers]);
        else reject(new Error(msg.error || "the kernel could not answer"));
      });
      model.send({ type, id });
    });
  }
  function receive(msg, buffers) {
    if (msg?.type !== MSG.REPLY || !pending.has(msg.id)) return false;
    pending.get(msg.id)(msg, buffers);
    pending.delete(msg.id);
    return true;
  }
  return { ask, receive };
}

// src/surface.js
var AA = 4.5;
var probe = null;
function parseColor(css2) {
  probe = probe ?? document.createElement("canvas").getContext("2d", { willReadFrequently: true });
  probe.clearRect(0, 0, 1, 1);
  probe.fillStyle = "rgb(0 0 0 / 0)";
  probe.fillStyle = css2;
  probe.fillRect(0, 0, 1, 1);
  const d = probe.getImageData(0, 0, 1, 1).data;
  return [d[0], d[1], d[2], d[3] / 255];
}
function over(top, below) {
  return [0, 1, 2].map((i) => top[i] * top[3] + below[i] * (1 - top[3])).concat(1);
}
function luminance([r, g, b]) {
  const lin = (v) => (v /= 255) <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}
function contrast(a, b) {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}
var isDark = (color) => contrast(color, [255, 255, 255]) > contrast(color, [0, 0, 0]);
function surfaceBehind(el) {
  const layers = [];
  for (let e = el.parentElement; e; e = e.parentElement) {
    const c = parseColor(getComputedStyle(e).backgroundColor);
    if (c[3] > 0) layers.push(c);
    if (c[3] >= 1) break;
  }
  const editor = getComputedStyle(document.documentElement).getPropertyValue("--vscode-editor-background").trim();
  const base = layers.at(-1)?.[3] >= 1 ? layers.pop() : editor ? parseColor(editor) : [255, 255, 255, 1];
  return layers.reduceRight((below, layer) => over(layer, below), over(base, [255, 255, 255, 1]));
}
var HOST = {
  bg: ["--jp-layout-color1", "--vscode-editor-background"],
  fg: ["--jp-ui-font-color1", "--vscode-editor-foreground"],
  muted: ["--jp-ui-font-color2", "--vscode-descriptionForeground"]
};
function fitToSurface(root) {
  if (!root.isConnected) return null;
  for (const name of ["--ew-bg", "--ew-fg", "--ew-muted"]) root.style.removeProperty(name);
  const style = getComputedStyle(root);
  const hostColor = (name) => {
    const value = style.getPropertyValue(name).trim();
    return value ? parseColor(value) : null;
  };
  const surface = surfaceBehind(root);
  const dark = isDark(surface);
  const scheme = dark ? "dark" : "light";
  root.dataset.scheme = scheme;
  let bg = surface;
  for (const name of HOST.bg) {
    const c = hostColor(name);
    if (c && c[3] > 0 && isDark(over(c, surface)) === dark) {
      bg = over(c, surface);
      break;
    }
  }
  const css2 = ([r, g, b, a = 1]) => `rgb(${Math.round(r)} ${Math.round(g)} ${Math.round(b)} / ${a})`;
  root.style.setProperty("--ew-bg", css2(bg));
  for (const role of ["fg", "muted"]) {
    let chosen = style.getPropertyValue(`--ew-${role}`).trim();
    for (const name of HOST[role]) {
      const c = hostColor(name);
      if (c && c[3] > 0 && contrast(over(c, bg), bg) >= AA) {
        chosen = css2(c);
        break;
      }
    }
    root.style.setProperty(`--ew-${role}`, chosen);
  }
  return scheme;
}

// src/theme.js
function toRgba(color) {
  const probe2 = document.createElement("canvas");
  probe2.width = probe2.height = 1;
  const ctx = probe2.getContext("2d");
  ctx.clearRect(0, 0, 1, 1);
  ctx.fillStyle = color;
  ctx.fillRect(0, 0, 1, 1);
  return Array.from(ctx.getImageData(0, 0, 1, 1).data);
}
var generation = 0;
function readThemeColors(root) {
  const get = (name, fallback) => cssVar(root, name, fallback);
  return {
    key: ++generation,
    fg: get("--ew-fg", "#222"),
    bg: get("--ew-bg", "#fff"),
    muted: get("--ew-muted", "#666"),
    grid: get("--ew-grid", "rgba(127,127,127,0.25)"),
    insert: get("--ew-insert", "#009e73"),
    delete: get("--ew-delete", "#cc79a7"),
    font: get("--ew-font", "system-ui, sans-serif"),
    boundary: toRgba(get("--ew-boundary", "rgba(255,255,255,0.7)")),
    highlight: toRgba(get("--ew-highlight", "#ff2d55")),
    outline: toRgba(get("--ew-outline", "#00e5ff"))
  };
}

// src/chips.js
function readSpans(raw) {
  if (!raw || !Array.isArray(raw.spans) || raw.spans.length === 0) return null;
  const nImage = raw.n_image_regions ?? 0;
  const spans = raw.spans.map((s, i) => {
    if (s.region !== nImage + i) {
      throw new RangeError(`prompt span ${i} has region ${s.region}, expected ${nImage + i} (ids follow the image's)`);
    }
    if (!(s.start >= 0 && s.stop > s.start)) throw new RangeError(`prompt span ${i} has range ${s.start}..${s.stop}`);
    return { text: String(s.text), start: s.start, stop: s.stop, region: s.region };
  });
  return { nImage, spans };
}
function promptPieces(prompt, spans) {
  const pieces = [];
  let at = 0;
  spans.forEach((s, i) => {
    if (s.start < at || s.stop > prompt.length) {
      throw new RangeError(`prompt span ${i} (${s.start}..${s.stop}) is not inside the prompt after the one before`);
    }
    if (s.start > at) pieces.push({ text: prompt.slice(at, s.start), span: null });
    pieces.push({ text: prompt.slice(s.start, s.stop), span: i });
    at = s.stop;
  });
  if (at < prompt.length) pieces.push({ text: prompt.slice(at), span: null });
  return pieces;
}
function spanChipValues(state, spans, mode, k, cols = null, highlight = -1) {
  const values = mode === "diagnose" ? hallucinationValues(state, cols) : normalizeGains(regionGains(state, cols));
  const kept = keptFlags(state, k);
  const atK = k > 0 && k <= state.nRegions ? state.order[k - 1] : -1;
  return spans.map((s) => {
    if (!(s.region >= 0 && s.region < state.nRegions)) {
      return { value: Number.NaN, kept: false, rank: -1, current: false };
    }
    return {
      value: values[s.region],
      kept: kept[s.region] === 1,
      rank: state.rankOf[s.region],
      current: s.region === atK || s.region === highlight
    };
  });
}
function sourceShares(raw, focus) {
  if (!raw || !Array.isArray(raw.targets) || !Array.isArray(raw.shares)) return null;
  const wanted = focus && focus.length ? new Set(focus) : null;
  const rows = raw.targets.flatMap((t, j) => {
    const row = raw.shares[j];
    const known = row && row.length === 3 && row.every((v) => typeof v === "number" && Number.isFinite(v));
    return (wanted === null || wanted.has(t)) && known ? [row] : [];
  });
  if (rows.length === 0) return null;
  const mean2 = (i) => rows.reduce((sum, row) => sum + row[i], 0) / rows.length;
  return { image: mean2(0), prompt: mean2(1), prior: mean2(2), count: rows.length };
}
function chipColors(value) {
  if (Number.isNaN(value)) return null;
  const t = Math.min(1, Math.max(0, value));
  return { background: sequentialColor(t), ink: t >= 0.45 ? "dark" : "light" };
}

// src/views/caption.js
function createCaption({ onPick, onHover }) {
  const el = h("div", { class: "ew-caption", dataset: { role: "caption" } });
  let key = null;
  let tokenEls = [];
  let wordEls = [];
  function build(tokens, words, reliance, clickable) {
    el.replaceChildren();
    tokenEls = [];
    wordEls = words.map(([start, stop], w) => {
      const indices = Array.from({ length: stop - start }, (_, i) => start + i);
      const tokenSpans = indices.map((t) => {
        const bar = relianceBar(reliance, t);
        const span = h(
          "span",
          { class: "ew-token", dataset: { tokenIndex: String(t) }, title: tokenTitle(tokens[t], t, reliance) },
          h("span", { class: "ew-token-text" }, displayToken(tokens[t])),
          bar
        );
        tokenEls[t] = span;
        return span;
      });
      const canPick = clickable(indices);
      const hover = {
        onmouseenter: () => onHover(indices),
        onmouseleave: () => onHover(null)
      };
      const word = canPick ? h(
        "span",
        {
          class: "ew-word",
          role: "button",
          tabindex: "0",
          dataset: { wordIndex: String(w) },
          onclick: (event) => onPick(indices, event.shiftKey),
          onkeydown: (event) => {
            if (event.key === "Enter" || event.key === " ") {
              event.preventDefault();
              onPick(indices, event.shiftKey);
            }
          },
          ...hover,
          onfocus: () => onHover(indices),
          onblur: () => onHover(null)
        },
        tokenSpans
      ) : h(
        "span",
        {
          class: "ew-word is-unexplained",
          dataset: { wordIndex: String(w), unexplained: "true" },
          title: "not explained in this saved result",
          ...hover
        },
        tokenSpans
      );
      return word;
    });
    el.append(...wordEls);
  }
  function update(scene) {
    const { tokens, words, reliance, selected, pending, hover, status, clickable = () => true } = scene;
    const offered = words.map(([start, stop]) => clickable(Array.from({ length: stop - start }, (_, i) => start + i)));
    const nextKey = JSON.stringify([tokens, words, reliance, offered]);
    if (nextKey !== key) {
      key = nextKey;
      if (tokens.length === 0) {
        el.replaceChildren(
          h("span", { class: "ew-placeholder" }, status === "generating" ? "Generating the caption…" : "No caption yet.")
        );
        tokenEls = [];
        wordEls = [];
      } else {
        build(tokens, words, reliance, clickable);
      }
    }
    const selectedSet = new Set(selected);
    const pendingSet = new Set(pending ?? []);
    const hoverSet = new Set(hover ?? []);
    tokenEls.forEach((span, t) => {
      if (!span) return;
      span.classList.toggle("is-selected", selectedSet.has(t));
      span.classList.toggle("is-pending", pendingSet.has(t));
      span.classList.toggle("is-hover", hoverSet.has(t));
    });
  }
  return { el, update };
}
function tokenTitle(text, index, reliance) {
  const head = `token ${index}: ${JSON.stringify(text)}`;
  if (!reliance?.prior) return head;
  const prior = reliance.prior[index];
  const visual = reliance.visual[index];
  return `${head}
language prior p(blank image) = ${formatProb(prior)}
visual evidence p(full) − p(blank) = ${visual >= 0 ? "+" : ""}${formatProb(visual)}`;
}
function relianceBar(reliance, index) {
  const bar = h("span", { class: "ew-bar", dataset: { role: "reliance-bar" } });
  if (!reliance?.prior || !Number.isFinite(reliance.prior[index])) {
    bar.classList.add("is-empty");
    return bar;
  }
  const prior = clamp01(reliance.prior[index]);
  const visual = Math.max(-prior, Math.min(1 - prior, reliance.visual[index]));
  bar.dataset.prior = prior.toFixed(4);
  bar.dataset.visual = visual.toFixed(4);
  const pct2 = (x) => `${(100 * x).toFixed(1)}%`;
  if (visual >= 0) {
    bar.append(
      h("span", { class: "ew-bar-prior", style: { left: "0", width: pct2(prior) } }),
      h("span", { class: "ew-bar-visual", style: { left: pct2(prior), width: pct2(visual) } })
    );
  } else {
    bar.append(
      h("span", { class: "ew-bar-prior", style: { left: "0", width: pct2(prior + visual) } }),
      h("span", { class: "ew-bar-lost", style: { left: pct2(prior + visual), width: pct2(-visual) } })
    );
  }
  return bar;
}
function clamp01(x) {
  return Math.min(1, Math.max(0, x));
}

// src/views/chips.js
var PROMPT_COLOR = [46, 158, 120];
function createPromptChips() {
  const el = h("div", { class: "ew-chips", dataset: { role: "prompt-chips" } });
  let builtFor = null;
  let chipEls = [];
  function build(prompt, spans) {
    chipEls = [];
    const pieces = promptPieces(prompt, spans.spans).map(({ text, span }) => {
      if (span === null) return text;
      const s = spans.spans[span];
      const chip = h("span", { class: "ew-chip", dataset: { spanIndex: String(span), region: String(s.region) } }, text);
      chipEls[span] = chip;
      return chip;
    });
    el.replaceChildren(h("span", { class: "ew-chips-label" }, "Prompt: "), ...pieces);
  }
  function update({ prompt, spans, state, mode, k, cols, highlight }) {
    if (!spans) {
      if (builtFor !== null) el.replaceChildren();
      builtFor = null;
      el.hidden = true;
      el.dataset.ready = "false";
      return;
    }
    el.hidden = false;
    if (builtFor !== spans) {
      build(prompt, spans);
      builtFor = spans;
    }
    el.dataset.ready = "true";
    const values = spanChipValues(state, spans.spans, mode, k, cols, highlight);
    values.forEach((v, i) => {
      const chip = chipEls[i];
      const colors = chipColors(v.value);
      chip.dataset.value = Number.isNaN(v.value) ? "" : v.value.toFixed(4);
      chip.dataset.kept = String(v.kept);
      chip.dataset.current = String(v.current);
      chip.dataset.ink = colors ? colors.ink : "";
      chip.style.background = colors ? css(colors.background) : "";
      const rank = v.rank >= 0 ? `rank ${v.rank + 1} of ${state.nRegions}` : "not placed yet";
      const value = Number.isNaN(v.value) ? "" : `, value ${v.value.toFixed(2)}`;
      chip.title = `“${spans.spans[i].text}”: ${rank}${value}${v.kept ? ", in the top set" : ""}`;
    });
  }
  return { el, update };
}
function createSources() {
  const bar = h("div", { class: "ew-sources-bar" });
  const text = h("div", { class: "ew-reliance-text" });
  const el = h(
    "div",
    { class: "ew-sources", dataset: { role: "source-reliance", ready: "false" } },
    h("div", { class: "ew-panel-title" }, "Image, prompt or prior"),
    bar,
    text
  );
  const parts = [
    ["image", RELIANCE_COLORS.visual],
    ["prompt", PROMPT_COLOR],
    ["prior", RELIANCE_COLORS.prior]
  ];
  let lastKey = null;
  function update({ raw, focus, tokens }) {
    const key = [raw, focus?.join(","), tokens];
    if (lastKey && key.every((v, i) => v === lastKey[i])) return;
    lastKey = key;
    const shares = sourceShares(raw, focus);
    el.hidden = !raw;
    el.dataset.ready = shares ? "true" : "false";
    if (!shares) {
      bar.replaceChildren();
      text.textContent = raw ? "not measured for this word" : "";
      return;
    }
    bar.replaceChildren(
      ...parts.map(
        ([name, color]) => h("span", { class: "ew-sources-part", dataset: { source: name }, title: `${name} ${percent(shares[name])}`, style: { width: `${100 * shares[name]}%`, background: css(color) } })
      )
    );
    const word = focus && focus.length ? `“${focus.map((i) => tokens[i] ?? "").join("").trim()}”` : "every explained token (mean)";
    text.textContent = `${word}: ${parts.map(([name]) => `${name} ${percent(shares[name])}`).join(" · ")}`;
  }
  return { el, update };
}
function percent(v) {
  return `${Math.round(100 * v)}%`;
}

// src/views/curves.js
var MARGIN = { left: 34, right: 10, top: 10, bottom: 26 };
function createCurves() {
  const canvas = h("canvas", { class: "ew-curves-canvas", role: "img", "aria-label": "insertion and deletion curves" });
  const legend = h("div", { class: "ew-curves-legend", dataset: { role: "auc" } });
  const el = h(
    "div",
    { class: "ew-curves", dataset: { role: "curves" } },
    h("div", { class: "ew-panel-title" }, "Insertion and deletion curves"),
    canvas,
    legend
  );
  let lastKey = null;
  function update(scene) {
    const { state, cols, k, colors, width } = scene;
    const key = [state, cols?.join(","), k, colors.key, width];
    if (lastKey && key.every((v, i) => v === lastKey[i])) return;
    lastKey = key;
    const ins = curvePoints(state, "insertion");
    const del = curvePoints(state, "deletion");
    el.dataset.insertionPoints = String(ins.length);
    el.dataset.deletionPoints = String(del.length);
    const aucIns = state.complete ? state.aucs?.insertion ?? trapezoidAuc(ins) : null;
    const aucDel = state.complete ? state.aucs?.deletion ?? trapezoidAuc(del) : null;
    legend.replaceChildren(
      legendItem("ew-key-insert", "insertion", aucIns, "higher is better"),
      legendItem("ew-key-delete", "deletion", aucDel, "lower is better")
    );
    if (aucIns !== null) el.dataset.insertionAuc = aucIns.toFixed(4);
    else delete el.dataset.insertionAuc;
    const own = cols && cols.length ? { ins: curvePoints(state, "insertion", cols), del: curvePoints(state, "deletion", cols) } : null;
    draw(canvas, { ins, del, own, marker: Number.isFinite(state.areas[k]) ? state.areas[k] : null, colors, width });
  }
  return { el, canvas, update };
}
function legendItem(cls, name, auc, hint) {
  return h(
    "span",
    { class: `ew-key ${cls}`, title: hint },
    h("span", { class: "ew-swatch" }),
    `${name} AUC ${auc === null || auc === void 0 ? "…" : auc.toFixed(3)}`
  );
}
function draw(canvas, { ins, del, own, marker, colors, width }) {
  const cssW = Math.max(200, Math.round(width || 320));
  const cssH = Math.round(Math.min(220, cssW * 0.62));
  const dpr = globalThis.devicePixelRatio || 1;
  canvas.width = Math.round(cssW * dpr);
  canvas.height = Math.round(cssH * dpr);
  canvas.style.width = `${cssW}px`;
  canvas.style.height = `${cssH}px`;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, cssW, cssH);
  const plotW = cssW - MARGIN.left - MARGIN.right;
  const plotH = cssH - MARGIN.top - MARGIN.bottom;
  const X = (a) => MARGIN.left + a * plotW;
  const Y = (p) => MARGIN.top + (1 - p) * plotH;
  ctx.font = `11px ${colors.font}`;
  ctx.lineWidth = 1;
  ctx.strokeStyle = colors.grid;
  ctx.fillStyle = colors.muted;
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (const p of [0, 0.5, 1]) {
    ctx.beginPath();
    ctx.moveTo(X(0), Y(p));
    ctx.lineTo(X(1), Y(p));
    ctx.stroke();
    ctx.fillText(p.toFixed(1), MARGIN.left - 5, Y(p));
  }
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  for (const a of [0, 0.25, 0.5, 0.75, 1]) {
    ctx.textAlign = a === 0 ? "left" : a === 1 ? "right" : "center";
    ctx.fillText(`${Math.round(100 * a)}%`, X(a), Y(0) + 5);
  }
  if (marker !== null) {
    ctx.strokeStyle = colors.fg;
    ctx.globalAlpha = 0.45;
    ctx.setLineDash([2, 3]);
    ctx.beginPath();
    ctx.moveTo(X(marker), Y(0));
    ctx.lineTo(X(marker), Y(1));
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.globalAlpha = 1;
  }
  if (own) {
    line(ctx, own.ins, X, Y, colors.insert, 1.2, [], 0.55);
    line(ctx, own.del, X, Y, colors.delete, 1.2, [4, 3], 0.55);
  }
  line(ctx, ins, X, Y, colors.insert, 2, [], 1);
  line(ctx, del, X, Y, colors.delete, 2, [6, 3], 1);
  dots(ctx, ins, X, Y, colors.insert);
  dots(ctx, del, X, Y, colors.delete);
}
function line(ctx, points, X, Y, color, width, dash, alpha) {
  if (points.length < 2) return;
  ctx.save();
  ctx.strokeStyle = color;
  ctx.lineWidth = width;
  ctx.globalAlpha = alpha;
  ctx.setLineDash(dash);
  ctx.beginPath();
  points.forEach((pt, i) => {
    if (i > 0 && pt.k === points[i - 1].k + 1) ctx.lineTo(X(pt.area), Y(pt.value));
    else ctx.moveTo(X(pt.area), Y(pt.value));
  });
  ctx.stroke();
  ctx.restore();
}
function dots(ctx, points, X, Y, color) {
  if (points.length > 80) return;
  ctx.fillStyle = color;
  for (const pt of points) {
    ctx.beginPath();
    ctx.arc(X(pt.area), Y(pt.value), 2.2, 0, 2 * Math.PI);
    ctx.fill();
  }
}

// src/views/diagnosis.js
var MARGIN2 = { left: 30, right: 10, top: 8, bottom: 22 };
function createDiagnosis() {
  const title = h("div", { class: "ew-panel-title" });
  const original = h("span", { class: "ew-answer-text", dataset: { role: "original-answer" } });
  const originalLabel = h("span", { class: "ew-answer-label" }, "original answer");
  const revisedLabel = h("span", { class: "ew-answer-label" }, "revised answer");
  const revised = h("span", { class: "ew-answer-text", dataset: { role: "revised-answer" } });
  const axis = h("div", { class: "ew-dx-axis" });
  const plot = h("div", { class: "ew-dx-plot" });
  const text = h("div", { class: "ew-dx-text", dataset: { role: "diagnosis-text" } });
  const el = h(
    "div",
    { class: "ew-diagnosis", dataset: { role: "diagnosis" }, hidden: true },
    title,
    h(
      "div",
      { class: "ew-answers" },
      h("div", { class: "ew-answer is-original" }, originalLabel, original),
      h("div", { class: "ew-answer is-revised" }, revisedLabel, revised)
    ),
    axis,
    plot,
    text
  );
  let lastKey = null;
  function update({ diagnosis, width }) {
    const key = [diagnosis, width];
    if (lastKey && key.every((v, i) => v === lastKey[i])) return;
    lastKey = key;
    el.hidden = !diagnosis;
    if (!diagnosis) return;
    const d = diagnosis;
    const word = `“${d.correct}”`;
    const words = diagnosisWords(d);
    title.textContent = words.title;
    originalLabel.textContent = words.before;
    revisedLabel.textContent = words.after;
    original.textContent = d.original.trim() || "–";
    el.dataset.complete = String(d.complete);
    el.dataset.corrected = String(d.corrected);
    if (!d.complete) {
      revised.textContent = "…";
      axis.textContent = "";
      plot.replaceChildren();
      text.textContent = `Explaining ${word} as a counterfactual target, then removing the regions ranked last for it and regenerating…`;
      return;
    }
    revised.textContent = d.corrected ? d.revised.trim() || "–" : "not corrected";
    axis.textContent = `P(${word}) against the area removed, regions ranked last first`;
    plot.replaceChildren(curve(d, width));
    const n = d.removedRegions.length;
    text.textContent = d.corrected ? `Removing ${pct(d.removedArea)} of the image (${n} region${n === 1 ? "" : "s"} ranked last for ${word}, outlined on the map) ${words.flips}: P = ${formatProb(d.cut.p)}.` : `Removing up to ${pct(d.maxArea ?? d.points.at(-1).area)} of the image (the regions ranked last for ${word}) ${words.noFlip}.`;
  }
  return { el, update };
}
function pct(x) {
  return Number.isFinite(x) ? `${(100 * x).toFixed(x < 0.1 ? 1 : 0)}%` : "–";
}
function curve(d, width) {
  const W = Math.max(200, Math.round(width || 320));
  const H = Math.round(Math.min(170, W * 0.5));
  const plotW = W - MARGIN2.left - MARGIN2.right;
  const plotH = H - MARGIN2.top - MARGIN2.bottom;
  const xMax = Math.max(d.maxArea ?? 0, ...d.points.map((p) => p.area)) || 1;
  const X = (a) => MARGIN2.left + a / xMax * plotW;
  const Y = (p) => MARGIN2.top + (1 - p) * plotH;
  const known = d.points.filter((p) => Number.isFinite(p.p));
  const children = [];
  for (const p of [0, 0.5, 1]) {
    children.push(
      svg("line", { class: "ew-dx-grid", x1: X(0), x2: X(xMax), y1: Y(p), y2: Y(p) }),
      svg("text", { class: "ew-dx-tick", x: MARGIN2.left - 4, y: Y(p), "text-anchor": "end", "dominant-baseline": "middle" }, p.toFixed(1))
    );
  }
  for (const a of [0, xMax / 2, xMax]) {
    const anchor = a === 0 ? "start" : a === xMax ? "end" : "middle";
    children.push(svg("text", { class: "ew-dx-tick", x: X(a), y: H - 6, "text-anchor": anchor }, `${Math.round(100 * a)}%`));
  }
  children.push(
    svg("polyline", {
      class: "ew-dx-line",
      points: known.map((p) => `${X(p.area).toFixed(1)},${Y(p.p).toFixed(1)}`).join(" "),
      dataset: { role: "diagnosis-line" }
    })
  );
  for (const p of known) children.push(svg("circle", { class: "ew-dx-dot", cx: X(p.area), cy: Y(p.p), r: 2 }));
  if (d.cut) {
    children.push(
      svg("line", { class: "ew-dx-cut", x1: X(d.cut.area), x2: X(d.cut.area), y1: Y(0), y2: Y(1) }),
      svg("circle", { class: "ew-dx-cut-point", cx: X(d.cut.area), cy: Y(d.cut.p), r: 4.5, dataset: { role: "diagnosis-cut" } })
    );
  }
  return svg(
    "svg",
    {
      class: "ew-dx-curve",
      width: W,
      height: H,
      viewBox: `0 0 ${W} ${H}`,
      role: "img",
      "aria-label": `probability of “${d.correct}” against the removed area`,
      dataset: { role: "diagnosis-curve", points: String(known.length), cutArea: d.cut ? d.cut.area.toFixed(4) : "" }
    },
    svg("title", {}, `P(“${d.correct}”) against the share of the image removed (regions ranked last first)`),
    children
  );
}

// src/views/mask.js
async function decodeImage(bytes) {
  const blob = new Blob([bytes], { type: "image/png" });
  if (typeof createImageBitmap === "function") return createImageBitmap(blob);
  const url = URL.createObjectURL(blob);
  try {
    const img = new Image();
    img.src = url;
    await img.decode();
    return img;
  } finally {
    URL.revokeObjectURL(url);
  }
}
function pngSlot(onReady) {
  let data = null;
  let bitmap = null;
  return {
    get bitmap() {
      return bitmap;
    },
    set(value) {
      if (value === data) return;
      data = value;
      bitmap = null;
      const bytes = value ? toBytes(value) : null;
      if (!bytes || bytes.byteLength === 0) return;
      decodeImage(bytes).then((decoded) => {
        if (value !== data) return;
        bitmap = decoded;
        onReady();
      }).catch((error) => console.error("[eagle-widget] could not decode an image", error));
    }
  };
}
function createMask({ onReady }) {
  const canvas = h("canvas", {
    class: "ew-mask",
    dataset: { role: "mask-canvas" },
    role: "img",
    "aria-label": "image with the region map"
  });
  const legend = h("div", { class: "ew-colorbar", dataset: { role: "colorbar" } });
  const stage = h("div", { class: "ew-stage" }, canvas);
  const el = h("div", { class: "ew-figure" }, stage, legend);
  let lastKey = null;
  const redraw = () => (lastKey = null, onReady());
  const image = pngSlot(redraw);
  const fill = pngSlot(redraw);
  function update(scene) {
    image.set(scene.image);
    fill.set(scene.fill ?? null);
    const bitmap = image.bitmap;
    const { state, mode, k, cols, boundaries, highlight, colors, hint, opacity } = scene;
    const outlined = scene.outlined ?? null;
    const crop = scene.crop ?? null;
    const key = [bitmap, fill.bitmap, state, scene.labels, mode, k, cols?.join(","), boundaries, highlight, colors.key, hint, outlined?.join(","), opacity, scene.drives, crop && `${crop.index}/${crop.count}`];
    if (lastKey && key.every((v, i) => v === lastKey[i])) return;
    lastKey = key;
    const shape = scene.labelShape ?? (bitmap ? [bitmap.height, bitmap.width] : [0, 0]);
    const [imgH, imgW, labels] = crop ? cropped(scene.labels, shape, crop) : [shape[0], shape[1], scene.labels];
    const span = crop ? [crop.index / crop.count, (crop.index + 1) / crop.count] : [0, 1];
    const [H, W] = displaySize(imgH, imgW);
    if (H === 0) return;
    if (canvas.width !== W || canvas.height !== H) {
      canvas.width = W;
      canvas.height = H;
    }
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, W, H);
    const ready = labels && state.nRegions > 0 && labels.length === imgH * imgW;
    const heat = mode === "heat" || mode === "diagnose";
    if (bitmap) {
      drawScaled(ctx, bitmap, W, H, span);
      if (ready && heat) {
        ctx.fillStyle = "rgb(0 0 0 / 0.35)";
        ctx.fillRect(0, 0, W, H);
      }
    }
    canvas.dataset.mode = mode;
    setLegend(legend, mode, Boolean(ready), hint, scene.drives, scene.idleHint);
    canvas.dataset.placed = String(ready ? state.order.filter((r) => r >= 0).length : 0);
    canvas.dataset.outlined = String(ready && outlined ? outlined.length : 0);
    if (!ready) return;
    const regionRgba = regionColors(state, mode, k, cols, opacity);
    const decorations = {
      boundary: boundaries ? colors.boundary : null,
      highlight: highlight >= 0 ? { region: highlight, color: colors.highlight } : null,
      outline: outlined ? { flags: regionFlags(state.nRegions, outlined), color: colors.outline, width: 3 } : null
    };
    if (mode === "focus") {
      const top = focusFlags(state, k, cols);
      const focus = { ...decorations, outline: decorations.outline ?? { flags: top, color: colors.outline, width: 2 } };
      ctx.drawImage(layerOf(composeOverlay(labels, imgW, imgH, W, H, regionRgba, focus), W, H), 0, 0);
      return;
    }
    if (heat) {
      ctx.drawImage(layerOf(composeOverlay(labels, imgW, imgH, W, H, regionRgba, decorations), W, H), 0, 0);
      return;
    }
    const filled = layerOf(composeOverlay(labels, imgW, imgH, W, H, regionRgba), W, H);
    const fctx = filled.getContext("2d");
    fctx.globalCompositeOperation = "source-in";
    if (fill.bitmap) drawScaled(fctx, fill.bitmap, W, H, span);
    else fctx.fillStyle = "#000", fctx.fillRect(0, 0, W, H);
    ctx.drawImage(filled, 0, 0);
    if (decorations.boundary || decorations.highlight || decorations.outline) {
      const clear = new Uint8ClampedArray(4 * state.nRegions);
      ctx.drawImage(layerOf(composeOverlay(labels, imgW, imgH, W, H, clear, decorations), W, H), 0, 0);
    }
  }
  return { el, stage, canvas, update };
}
function layerOf(pixels, W, H) {
  const layer = document.createElement("canvas");
  layer.width = W;
  layer.height = H;
  layer.getContext("2d").putImageData(new ImageData(pixels, W, H), 0, 0);
  return layer;
}
var RAMP = `linear-gradient(to right, ${Array.from({ length: 11 }, (_, i) => css(sequentialColor(i / 10))).join(", ")})`;
function setLegend(legend, mode, ready, hint, drives = "", idleHint = "Click a word to explain it.") {
  const key = `${mode}:${ready}:${hint ?? ""}:${drives}:${idleHint}`;
  if (legend.dataset.key === key) return;
  legend.dataset.key = key;
  if (hint) {
    legend.replaceChildren(h("span", { class: "ew-legend-hint" }, hint));
  } else if (!ready) {
    legend.replaceChildren(h("span", {}, idleHint));
  } else if (mode === "focus") {
    legend.replaceChildren(
      h("span", { class: "ew-outline-key" }),
      h("span", {}, "the top regions in the image's own colours, the rest dimmed (the slider sets how many; Heat map for the gains)")
    );
  } else if (mode === "heat") {
    legend.replaceChildren(
      h("span", {}, "low"),
      h("span", { class: "ew-ramp", style: { background: RAMP } }),
      h("span", {}, "high gain of the region")
    );
  } else if (mode === "diagnose") {
    legend.replaceChildren(
      h("span", {}, "low"),
      h("span", { class: "ew-ramp", style: { background: RAMP } }),
      h("span", {}, `high: ${drives}`),
      h("span", { class: "ew-outline-key" }),
      h("span", {}, "removed")
    );
  } else {
    const what = mode === "kept" ? "only the top regions kept" : "the top regions removed";
    legend.replaceChildren(h("span", {}, `${what}: the image the model scored (tick Regions for outlines)`));
  }
}
function drawScaled(ctx, bitmap, W, H, span = [0, 1]) {
  const sx = span[0] * bitmap.width;
  const sw = (span[1] - span[0]) * bitmap.width;
  ctx.imageSmoothingEnabled = W < 2 * sw;
  ctx.drawImage(bitmap, sx, 0, sw, bitmap.height, 0, 0, W, H);
}
function cropped(labels, [height, width], crop) {
  const [start, end] = frameColumns(crop.index, width, crop.count);
  if (!labels) return [height, end - start, null];
  const out = new labels.constructor(height * (end - start));
  for (let y = 0; y < height; y++) out.set(labels.subarray(y * width + start, y * width + end), y * (end - start));
  return [height, end - start, out];
}

// src/views/opacity.js
function createOpacity({ initial, onInput }) {
  const input = h("input", {
    type: "range",
    min: "0",
    max: "100",
    step: "5",
    value: String(Math.round(100 * initial)),
    dataset: { role: "opacity" },
    "aria-label": "heat map opacity",
    oninput: (event) => onInput(Number(event.target.value) / 100)
  });
  const label = h("span", { class: "ew-slider-label" });
  const el = h("label", { class: "ew-slider ew-opacity", title: "how much the heat map covers the image" }, "Map opacity", input, label);
  function update({ opacity, enabled }) {
    input.value = String(Math.round(100 * opacity));
    input.disabled = !enabled;
    label.textContent = `${Math.round(100 * opacity)}%`;
  }
  return { el, update };
}

// src/views/reliance.js
var WORDING = {
  image: { prior: "language prior: p(token | blank image)", evidence: "visual evidence: p(full image) − p(blank)", lost: "hatched: the image lowers p (visual evidence below 0)", short: "visual" },
  text: { prior: "language prior: p(token | every span hidden)", evidence: "prompt evidence: p(full prompt) − p(spans hidden)", lost: "hatched: the prompt lowers p (its evidence below 0)", short: "prompt" }
};
function createReliance() {
  const bar = h("div", { class: "ew-reliance-big" });
  const text = h("div", { class: "ew-reliance-text" });
  const priorText = h("span", {}, WORDING.image.prior);
  const evidenceText = h("span", {}, WORDING.image.evidence);
  const lostText = h("span", {}, WORDING.image.lost);
  const el = h(
    "div",
    { class: "ew-reliance", dataset: { role: "reliance" } },
    h("div", { class: "ew-panel-title" }, "Modality reliance"),
    bar,
    text,
    h(
      "div",
      { class: "ew-legend" },
      h("span", { class: "ew-swatch", style: { background: css(RELIANCE_COLORS.prior) } }),
      priorText,
      h("br"),
      h("span", { class: "ew-swatch", style: { background: css(RELIANCE_COLORS.visual) } }),
      evidenceText,
      h("br"),
      // the hatched end of a word's bar (caption.js relianceBar): no colour of its own
      h(
        "span",
        { dataset: { role: "legend-lost" } },
        h("span", { class: "ew-swatch ew-swatch-lost" }),
        lostText
      )
    )
  );
  let lastKey = null;
  function update({ tokens, reliance, focus, textOnly = false }) {
    const key = [tokens, reliance, focus?.join(","), textOnly];
    if (lastKey && key.every((v2, i) => v2 === lastKey[i])) return;
    lastKey = key;
    const words = textOnly ? WORDING.text : WORDING.image;
    priorText.textContent = words.prior;
    evidenceText.textContent = words.evidence;
    lostText.textContent = words.lost;
    const have = reliance?.prior && reliance.prior.length === tokens.length && tokens.length > 0;
    el.dataset.ready = have ? "true" : "false";
    if (!have) {
      bar.replaceChildren();
      text.textContent = tokens.length ? "Computing reliance…" : "";
      return;
    }
    const indices = focus && focus.length ? focus : tokens.map((_, i) => i);
    const avg = (values) => indices.reduce((sum, i) => sum + values[i], 0) / indices.length;
    const summary = { prior: [avg(reliance.prior)], visual: [avg(reliance.visual)] };
    bar.replaceChildren(relianceBar(summary, 0));
    const label = indices.length === tokens.length ? "whole caption (mean over tokens)" : `“${shorten(indices.map((i) => tokens[i]).join("").trim())}”`;
    const v = summary.visual[0];
    text.textContent = `${label}: prior ${formatProb(summary.prior[0])} · ${words.short} ${v >= 0 ? "+" : ""}${formatProb(v)}`;
  }
  return { el, update };
}
function shorten(text, max = 40) {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

// src/views/slider.js
function createSlider({ onInput }) {
  const input = h("input", {
    type: "range",
    min: "0",
    max: "0",
    step: "1",
    value: "0",
    dataset: { role: "slider" },
    "aria-label": "number of top regions",
    oninput: (event) => onInput(Number(event.target.value))
  });
  const label = h("span", { class: "ew-slider-label" });
  const el = h("div", { class: "ew-slider" }, input, label);
  function update({ k, nRegions, area, enabled, textOnly = false }) {
    input.max = String(nRegions);
    input.value = String(k);
    input.disabled = !enabled;
    const [noun, whole] = textOnly ? ["spans", "the prompt"] : ["regions", "the image"];
    const share = Number.isFinite(area) ? ` · ${Math.round(100 * area)}% of ${whole}` : "";
    label.textContent = nRegions > 0 ? `top ${k} of ${nRegions} ${noun}${share}` : `no ${noun} yet`;
  }
  return { el, update };
}

// src/views/status.js
function createStatus() {
  const text = h("span", { class: "ew-status-text", dataset: { role: "status" } });
  const counter = h("span", { class: "ew-counter", dataset: { role: "step-counter" } });
  const fill = h("div", { class: "ew-progress-fill" });
  const el = h(
    "div",
    { class: "ew-status" },
    h("span", { class: "ew-dot" }),
    text,
    counter,
    h("div", { class: "ew-progress", role: "progressbar" }, fill)
  );
  function update({ parts, stepsDone, totalSteps }) {
    text.textContent = parts.join(" · ");
    counter.dataset.steps = String(stepsDone);
    counter.dataset.total = String(totalSteps);
    counter.textContent = totalSteps > 0 ? `${stepsDone} / ${totalSteps}` : "";
    const share = totalSteps > 0 ? Math.min(1, stepsDone / totalSteps) : 0;
    fill.style.width = `${(100 * share).toFixed(1)}%`;
  }
  return { el, update };
}
function createErrorBox({ onDismiss }) {
  const message = h("pre", { class: "ew-error-text" });
  const el = h(
    "div",
    { class: "ew-error", dataset: { role: "error" }, role: "alert", hidden: true },
    message,
    h("button", { type: "button", class: "ew-button ew-dismiss", onclick: onDismiss, title: "hide this message" }, "Dismiss")
  );
  function update({ error }) {
    el.hidden = !error;
    message.textContent = error || "";
  }
  return { el, update };
}

// src/views/toolbar.js
var MODE_LABELS = { focus: "Top regions", heat: "Heat map", kept: "Kept", removed: "Removed", diagnose: "Diagnosis" };
var MODE_HINTS = {
  focus: "the top-k regions in the image's own colours, outlined; the rest dimmed",
  heat: "colour each region by how much it raises the target's score",
  kept: "show only the top-k regions (the insertion image)",
  removed: "fill the top-k regions (the deletion image)",
  diagnose: "the regions that drive the wrong answer (1 − the correct answer's map); the removed ones outlined"
};
function createToolbar(actions) {
  const button = (role, label, title, onclick) => h("button", { type: "button", class: "ew-button", dataset: { role }, title, onclick }, label);
  const explain = button("explain-sentence", "Explain sentence", "explain every token of the caption", actions.explainSentence);
  const stop = button("stop", "Stop", "cancel the running search", actions.stop);
  const diagnose = button("diagnose", "Diagnose", "", actions.diagnose);
  const modes = MAP_MODES.map(
    (mode) => h(
      "button",
      { type: "button", class: "ew-seg", dataset: { mode }, title: MODE_HINTS[mode], onclick: () => actions.setMode(mode) },
      MODE_LABELS[mode]
    )
  );
  const boundaries = h("input", {
    type: "checkbox",
    dataset: { role: "boundaries" },
    onchange: (event) => actions.setBoundaries(event.target.checked)
  });
  const png = button("export-png", "PNG", "save the current view as a PNG image", actions.exportPng);
  const json = button("export-json", "JSON", "save the result as JSON (from the kernel)", actions.exportJson);
  const modeGroup = h("div", { class: "ew-segmented", role: "group", "aria-label": "map", dataset: { role: "map-mode" } }, modes);
  const regions = h("label", { class: "ew-check", title: "draw the region boundaries" }, boundaries, "Regions");
  const el = h(
    "div",
    { class: "ew-toolbar" },
    explain,
    diagnose,
    stop,
    modeGroup,
    regions,
    h("span", { class: "ew-spacer" }),
    png,
    json
  );
  function update({ busy, canExplain, offersSentence = true, mode, hasImage = true, boundariesOn, canExportJson, canExportPng, canDiagnose = false, diagnoseAs = null, diagnosisWords: diagnosisWords2 = null }) {
    explain.hidden = !offersSentence;
    explain.disabled = !canExplain || !offersSentence;
    diagnose.hidden = diagnoseAs === null;
    diagnose.disabled = !canExplain;
    diagnose.title = diagnoseAs === null ? "" : `what makes it say “${diagnoseAs}”: explain “${diagnoseAs}” as a counterfactual target, find the regions that hold up the given answer and remove them until the answer flips`;
    stop.disabled = !busy;
    modeGroup.hidden = regions.hidden = !hasImage;
    for (const b of modes) {
      b.setAttribute("aria-pressed", String(b.dataset.mode === mode));
      if (b.dataset.mode !== "diagnose") continue;
      b.hidden = !canDiagnose;
      if (diagnosisWords2) b.textContent = diagnosisWords2.mode, b.title = diagnosisWords2.modeHint;
    }
    boundaries.checked = boundariesOn;
    json.disabled = !canExportJson;
    png.disabled = !canExportPng;
  }
  return { el, update };
}

// src/app.js
var TRAITS = [
  "status",
  "error_message",
  "prompt",
  "tokens",
  "words",
  "reliance",
  "selection",
  "run",
  "result",
  "labels",
  "labels_shape",
  "n_regions",
  "prompt_spans",
  "image_png",
  "has_image",
  "fill_png",
  "diagnosis",
  "has_model",
  "frames",
  "methods"
];
var now = () => globalThis.performance ? performance.now() : Date.now();
function mount(model, el) {
  const ui = { frame: { current: 0, zoomed: false }, mode: DEFAULT_MODE, boundaries: false, k: null, hover: null, pending: null, errorHidden: false, note: "", opacity: DEFAULT_OPACITY };
  let state = emptyState();
  let diagnosis = null;
  let diagnosisSeen = null;
  let labels = null;
  let labelShape = null;
  let spans = null;
  let methods = null;
  let method = null;
  let runStartedAt = null;
  let colors = null;
  let fitted = false;
  let sideWidth = 320;
  let frame = null;
  const requests = createRequests(model);
  const root = h("div", { class: "eagle-widget", dataset: { status: model.get("status") ?? STATUS.IDLE } });
  const status = createStatus();
  const toolbar = createToolbar({
    explainSentence: () => request(null),
    stop: () => model.send({ type: MSG.STOP }),
    diagnose: () => {
      const correct = oppositeAnswer(model.get("tokens"));
      if (correct !== null) model.send({ type: MSG.DIAGNOSE, correct, counterfactual: true });
    },
    setMode: (mode) => (ui.mode = mode, schedule()),
    setBoundaries: (on) => (ui.boundaries = on, schedule()),
    exportPng: () => savePng(),
    exportJson: () => exportJson(requests.ask, setNote)
  });
  const mask = createMask({ onReady: () => schedule() });
  const frames = createFrames({ target: mask.canvas, keyRoot: mask.stage, onChange: (view2) => (ui.frame = view2, schedule()) });
  mask.stage.append(frames.el);
  const methodSwitch = createMethodSwitch({ onPick: (name) => (method = name, rebuild(), schedule()) });
  const slider = createSlider({ onInput: (k) => (ui.k = k, schedule()) });
  const opacity = createOpacity({ initial: ui.opacity, onInput: (v) => (ui.opacity = v, schedule()) });
  const curves = createCurves();
  const diagnosisPanel = createDiagnosis();
  const reliance = createReliance();
  const caption = createCaption({
    onPick: (indices, additive) => pick(indices, additive),
    onHover: (indices) => (ui.hover = indices, schedule())
  });
  const errorBox = createErrorBox({ onDismiss: () => (ui.errorHidden = true, schedule()) });
  const prompt = h("div", { class: "ew-prompt" });
  const chips = createPromptChips();
  const noImage = h("div", { class: "ew-no-image", dataset: { role: "no-image" }, hidden: true }, "Text only: the model read no image; its prompt's spans are ranked.");
  const sources = createSources();
  const note = h("div", { class: "ew-note", role: "status" });
  const hintLine = h("div", { class: "ew-hint", dataset: { role: "hint" } });
  const side = h("div", { class: "ew-side" }, diagnosisPanel.el, curves.el, reliance.el, sources.el);
  root.append(
    h("div", { class: "ew-head" }, h("span", { class: "ew-title" }, "EAGLE"), status.el),
    toolbar.el,
    methodSwitch.el,
    errorBox.el,
    h("div", { class: "ew-body" }, h("div", { class: "ew-main" }, mask.el, noImage, chips.el, slider.el, opacity.el), side),
    h("div", { class: "ew-caption-box" }, prompt, caption.el, hintLine),
    note
  );
  el.append(root);
  const releaseKeys = containKeys(root);
  function loadLabels() {
    const shape = model.get("labels_shape");
    const data = model.get("labels");
    labels = data && shape && shape.length === 2 && toBytes(data).byteLength ? decodeLabels(data, shape) : null;
    labelShape = labels ? shape : null;
  }
  function loadSpans() {
    try {
      spans = readSpans(model.get("prompt_spans"));
    } catch (error) {
      spans = null;
      console.error("[eagle-widget] could not read the prompt spans", error);
    }
  }
  function loadMethods() {
    try {
      methods = readMethods(model.get("methods"));
    } catch (error) {
      methods = null;
      console.error("[eagle-widget] could not read the methods", error);
    }
  }
  function rebuild() {
    const shown = shownMethod(methods, method, model.get("run") ?? {}, model.get("result"));
    const run = shown.run ?? {};
    const n = model.get("n_regions") ?? 0;
    state = run.id === void 0 || run.id < 0 ? emptyState() : startRun(run, n);
    const result = decodeResult(shown.result);
    if (result && result.run === state.runId) state = applyResult(state, result);
  }
  function onRun() {
    const run = model.get("run") ?? {};
    if (run.id !== state.runId) {
      rebuild();
      ui.k = null;
      ui.pending = null;
      ui.errorHidden = false;
      runStartedAt = now();
    } else if (run.p_full && run.p_blank && !state.pFull) {
      state = setAnchors(state, run.p_full, run.p_blank);
    }
    schedule();
  }
  function onResult() {
    rebuild();
    schedule();
  }
  function loadDiagnosis() {
    try {
      diagnosis = readDiagnosis(model.get("diagnosis"));
    } catch (error) {
      diagnosis = null;
      console.error("[eagle-widget] could not read the diagnosis", error);
    }
  }
  function onMessage(msg, buffers) {
    if (msg?.type === MSG.STEP) {
      if (msg.run !== state.runId || !buffers?.length) return;
      state = applyStep(state, decodeStep(buffers[0]));
      schedule();
    } else if (msg?.type === MSG.NOTE && typeof msg.text === "string") {
      setNote(msg.text);
    } else {
      requests.receive(msg, buffers);
    }
  }
  const onStatus = () => {
    const s = model.get("status");
    if (s === STATUS.EXPLAINING && runStartedAt === null) runStartedAt = now();
    if (s === STATUS.ERROR) ui.errorHidden = false;
    schedule();
  };
  const onLabels = () => (loadLabels(), schedule());
  const handlers = {
    "change:diagnosis": () => (loadDiagnosis(), schedule()),
    "change:methods": () => (loadMethods(), rebuild(), schedule()),
    "change:prompt_spans": () => (loadSpans(), schedule()),
    "change:run": onRun,
    "change:result": onResult,
    "change:labels": onLabels,
    "change:labels_shape": onLabels,
    "change:status": onStatus,
    "change:frames": () => (ui.frame = { current: 0, zoomed: false }, schedule()),
    "msg:custom": onMessage
  };
  for (const name of TRAITS) if (!handlers[`change:${name}`]) handlers[`change:${name}`] = () => schedule();
  for (const [event, fn] of Object.entries(handlers)) model.on(event, fn);
  function request(targets) {
    ui.pending = targets ?? (model.get("tokens") ?? []).map((_, i) => i);
    model.send({ type: MSG.EXPLAIN, targets });
    schedule();
  }
  function pick(indices, additive) {
    if (model.get("status") === STATUS.GENERATING) return;
    const offer = offerOf({ hasModel: model.get("has_model"), tokens: model.get("tokens"), run: model.get("run") });
    if (!offer.clickable(indices)) return;
    let next = indices;
    if (additive) {
      const current = new Set(ui.pending ?? model.get("selection") ?? []);
      const allIn = indices.every((i) => current.has(i));
      for (const i of indices) allIn ? current.delete(i) : current.add(i);
      next = [...current].sort((a, b) => a - b);
      if (next.length === 0) return;
    }
    request(next);
  }
  function savePng() {
    const legend = (ui.mode === "heat" || ui.mode === "diagnose") && state.nRegions > 0;
    const canvas = composeExport({
      mapCanvas: mask.canvas,
      curvesCanvas: curves.canvas,
      lines: [
        captionText(model.get("tokens"), model.get("selection")),
        methods ? `method: ${shownMethod(methods, method, null, null).name}` : "",
        status.el.querySelector("[data-role=status]").textContent,
        state.aucs ? `insertion AUC ${state.aucs.insertion.toFixed(3)} (solid) · deletion AUC ${state.aucs.deletion.toFixed(3)} (dashed)` : ""
      ],
      legend: legend ? ui.mode === "diagnose" ? diagnosisWords(diagnosis).drives : "gain of the region" : null,
      colors
    });
    exportPng(canvas, setNote);
  }
  function setNote(text) {
    ui.note = text;
    schedule();
    setTimeout(() => {
      if (ui.note === text) ui.note = "", schedule();
    }, 6e3);
  }
  function schedule() {
    if (frame !== null) return;
    const run = () => {
      frame = null;
      render();
    };
    frame = globalThis.requestAnimationFrame ? requestAnimationFrame(run) : setTimeout(run, 16);
  }
  function effectiveK() {
    const N = state.nRegions;
    if (ui.k !== null) return Math.min(ui.k, N);
    if (state.complete) return Math.ceil(N / 4);
    let k = 0;
    while (k < N && state.order[k] >= 0) k++;
    return k;
  }
  function render() {
    const s = model.get("status") ?? STATUS.IDLE;
    const busy = BUSY.has(s);
    root.dataset.status = s;
    if (colors === null || !fitted) {
      fitted = fitToSurface(root) !== null;
      colors = readThemeColors(root);
      if (!fitted) setTimeout(schedule, 250);
    }
    const tokens = model.get("tokens") ?? [];
    const words = model.get("words") ?? [];
    const rel = model.get("reliance") ?? {};
    const selection = model.get("selection") ?? [];
    const elapsed = busy && runStartedAt !== null ? (now() - runStartedAt) / 1e3 : null;
    const k = effectiveK();
    const hasImage = model.get("has_image") !== false;
    const offer = offerOf({ hasModel: model.get("has_model"), tokens, run: model.get("run"), hasImage });
    let cols = ui.hover && state.nTargets ? targetColumns(state, ui.hover) : null;
    let hint = null;
    if (cols && cols.length === 0) {
      cols = null;
      const word = ui.hover.map((i) => tokens[i] ?? "").join("").trim();
      hint = offer.notShown(word, ui.hover);
    }
    const canDiagnose = Boolean(diagnosis?.complete && state.complete);
    const diagnosisKey = canDiagnose ? `${diagnosis.run}:${diagnosis.correct}` : null;
    if (diagnosisKey !== null && diagnosisKey !== diagnosisSeen) ui.mode = "diagnose";
    if (diagnosisKey !== null) diagnosisSeen = diagnosisKey;
    const mode = ui.mode === "diagnose" && !canDiagnose ? "heat" : ui.mode;
    status.update({
      parts: statusParts(s, state, elapsed, diagnosis),
      stepsDone: state.stepsDone,
      totalSteps: state.runId >= 0 ? state.totalSteps : 0
    });
    toolbar.update({
      busy,
      canExplain: tokens.length > 0 && s !== STATUS.GENERATING,
      offersSentence: offer.sentence,
      mode,
      hasImage,
      boundariesOn: ui.boundaries,
      canExportJson: state.complete,
      // the PNG export holds the map and the curves: nothing of a view without an image
      canExportPng: hasImage && (state.runId >= 0 || model.get("image_png") !== void 0),
      canDiagnose,
      // a diagnosis removes image regions
      diagnoseAs: model.get("has_model") && hasImage ? oppositeAnswer(tokens) : null,
      diagnosisWords: diagnosis ? diagnosisWords(diagnosis) : null
    });
    const errorText = s === STATUS.ERROR && !ui.errorHidden ? model.get("error_message") || "unknown error" : "";
    errorBox.update({ error: errorText });
    methodSwitch.update({ methods, shown: shownMethod(methods, method, null, null).name });
    const clip = readFrames(model.get("frames"));
    frames.update(model.get("frames"), ui.frame);
    mask.el.hidden = opacity.el.hidden = !hasImage;
    noImage.hidden = hasImage;
    if (hasImage) mask.update({
      crop: clip && ui.frame.zoomed ? { index: ui.frame.current, count: clip.count } : null,
      image: model.get("image_png") ?? null,
      fill: model.get("fill_png") ?? null,
      opacity: ui.opacity,
      state,
      labels,
      labelShape,
      mode,
      k,
      cols,
      outlined: mode === "diagnose" ? diagnosis.removedRegions : null,
      drives: diagnosis ? diagnosisWords(diagnosis).drives : "",
      boundaries: ui.boundaries,
      highlight: s === STATUS.EXPLAINING ? state.lastRegion : -1,
      colors,
      hint,
      idleHint: offer.legend
    });
    slider.update({ k, nRegions: state.nRegions, area: state.areas[k], enabled: placedCount(state) > 0, textOnly: !hasImage });
    opacity.update({ opacity: ui.opacity, enabled: mode === "heat" || mode === "diagnose" });
    diagnosisPanel.update({ diagnosis, width: sideWidth });
    curves.update({ state, cols, k, colors, width: sideWidth });
    const focus = ui.hover ?? (selection.length ? selection : null);
    reliance.update({ tokens, reliance: rel, focus, textOnly: !hasImage });
    sources.update({ raw: model.get("result")?.source_reliance ?? null, focus, tokens });
    const highlight = s === STATUS.EXPLAINING ? state.lastRegion : -1;
    const runSpans = spans && spans.nImage + spans.spans.length === state.nRegions ? spans : null;
    chips.update({ prompt: model.get("prompt") ?? "", spans: runSpans, state, mode, k, cols, highlight });
    prompt.textContent = model.get("prompt") && !runSpans ? `Prompt: ${model.get("prompt")}` : "";
    caption.update({ tokens, words, reliance: rel, selected: selection, pending: ui.pending, hover: ui.hover, status: s, clickable: offer.clickable });
    hintLine.textContent = offer.hint;
    note.textContent = ui.note;
  }
  const ticker = setInterval(() => {
    if (BUSY.has(model.get("status"))) schedule();
  }, 1e3);
  const refit = () => (colors = null, schedule());
  const themeObserver = new MutationObserver(() => {
    refit();
    setTimeout(refit, 300);
  });
  themeObserver.observe(document.body, { attributes: true, attributeFilter: ["class", "style", "data-jp-theme-light", "data-jp-theme-name"] });
  themeObserver.observe(document.documentElement, { attributes: true, attributeFilter: ["class", "style"] });
  const resizeObserver = globalThis.ResizeObserver ? new ResizeObserver(() => {
    const w = Math.floor(side.clientWidth);
    if (w > 0 && Math.abs(w - sideWidth) > 4) sideWidth = w, schedule();
  }) : null;
  resizeObserver?.observe(side);
  loadLabels();
  loadSpans();
  loadDiagnosis();
  loadMethods();
  rebuild();
  if (BUSY.has(model.get("status"))) runStartedAt = now();
  render();
  return () => {
    clearInterval(ticker);
    themeObserver.disconnect();
    releaseKeys();
    frames.destroy();
    resizeObserver?.disconnect();
    if (frame !== null) (globalThis.cancelAnimationFrame ?? clearTimeout)(frame);
    for (const [event, fn] of Object.entries(handlers)) model.off(event, fn);
    root.remove();
  };
}

// src/widget.js
var widget_default = {
  render({ model, el }) {
    model.send({ type: MSG.VIEW });
    return mount(model, el);
  }
};
export {
  widget_default as default
};
