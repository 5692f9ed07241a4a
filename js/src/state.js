// Pure state of one explanation run in the browser, and what the views derive from it.
//
// Everything is indexed by set size k = number of top-ranked regions included (0..N):
// ins[k] / del[k] hold the per-target probabilities of the insertion / deletion image of
// the top-k set, areas[k] its covered fraction. Steps of the insertion chain fill k from
// the bottom (rank r -> k = r + 1), steps of the removal chain from the top (rank r ->
// k = r: the set left after dropping the region). A finished run fills every k.

/** State before any run: nothing to show. */
export function emptyState() {
  return startRun({ id: -1, targets: [] }, 0);
}

/**
 * A fresh state for `run` (the `run` trait: {id, targets, total_steps, lambda1, lambda2,
 * p_full?, p_blank?, mode?, search?}) over `nRegions` regions.
 */
export function startRun(run, nRegions) {
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
    scoring: "exact",
  };
  if (run.p_full && run.p_blank) state = setAnchors(state, run.p_full, run.p_blank);
  return state;
}

function checkTargets(state, probs, what) {
  if (probs.length !== state.nTargets) {
    throw new RangeError(`${what} has ${probs.length} values, the run has ${state.nTargets} targets`);
  }
}

/** The two ends every curve shares: the blank image (k = 0) and the full image (k = N). */
export function setAnchors(state, pFull, pBlank) {
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

/** Set size whose images a step scored (see the header comment). */
export function stepSize(step) {
  return step.chain === "remove" ? step.rank : step.rank + 1;
}

/** The state after one streamed step (a decoded step record). */
export function applyStep(state, step) {
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
    lastStep: step,
  };
}

/**
 * The state of a finished (or stopped) run from the decoded `result` trait:
 * {steps, complete, order?, insertion?, deletion?, areas?, insertionAuc?, deletionAuc?,
 * imagesScored?, seconds?}. Complete results carry the final order and curves, which
 * replace whatever the steps said.
 */
export function applyResult(state, result) {
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
    scoring: result.scoring ?? "exact",
  };
}

/** Indices into the run's targets of the given token indices (those that are targets). */
export function targetColumns(state, tokenIndices) {
  const wanted = new Set(tokenIndices);
  const cols = [];
  state.targets.forEach((token, j) => {
    if (wanted.has(token)) cols.push(j);
  });
  return cols;
}

function mean(values, cols) {
  if (cols === null) {
    let sum = 0;
    for (let j = 0; j < values.length; j++) sum += values[j];
    return values.length ? sum / values.length : Number.NaN;
  }
  if (cols.length === 0) return Number.NaN;
  let sum = 0;
  for (const j of cols) sum += values[j];
  return sum / cols.length;
}

/**
 * Known points of the insertion or deletion curve as [{k, area, value}], value averaged
 * over the target columns `cols` (null = all targets).
 */
export function curvePoints(state, kind, cols = null) {
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

/** Trapezoid area under points sorted by area. */
export function trapezoidAuc(points) {
  let sum = 0;
  for (let i = 1; i < points.length; i++) {
    sum += ((points[i].area - points[i - 1].area) * (points[i].value + points[i - 1].value)) / 2;
  }
  return sum;
}

/**
 * Marginal gain of F = lambda1 * I + lambda2 * N for each region (NaN where its two
 * neighbouring set sizes are not known yet), averaged over target columns `cols`.
 * This is what the heat map and a token's own preview map show.
 */
export function regionGains(state, cols = null) {
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

/** Gains scaled to [0, 1] by the largest positive gain; negative gains read 0; NaN stays. */
export function normalizeGains(gains) {
  let top = 0;
  for (const g of gains) if (g > top) top = g;
  return gains.map((g) => (Number.isNaN(g) ? Number.NaN : top > 0 ? Math.max(0, g) / top : 0));
}

/** 1 for the regions ranked in the top `k`, else 0 (the slider's kept set). */
export function keptFlags(state, k) {
  const flags = new Uint8Array(state.nRegions);
  for (let rank = 0; rank < Math.min(k, state.nRegions); rank++) {
    if (state.order[rank] >= 0) flags[state.order[rank]] = 1;
  }
  return flags;
}

/** Number of regions whose rank is known. */
export function placedCount(state) {
  let n = 0;
  for (const region of state.order) if (region >= 0) n++;
  return n;
}

/** Seconds left at the current pace, or null before the first step. */
export function estimateRemaining(elapsedSeconds, done, total) {
  if (!(done > 0) || !(elapsedSeconds >= 0) || done >= total) return done >= total ? 0 : null;
  return (elapsedSeconds / done) * (total - done);
}

/**
 * The reference's rank map, one value per region (the engine's region_values("rank")):
 * the region at rank k gets (c_N - c_k) / (c_N - c_1), c_k the cumulative |gain of F| of
 * the first k regions, so the top region reads 1 and the last 0. It needs every set size,
 * so all values are NaN until the run is complete. `cols` as in regionGains.
 */
export function rankValues(state, cols = null) {
  const N = state.nRegions;
  const values = new Float64Array(N).fill(Number.NaN);
  if (!state.complete || N === 0) return values;
  const { ins, del, lambda1, lambda2 } = state;
  const cumulative = new Float64Array(N);
  let sum = 0;
  for (let k = 0; k < N; k++) {
    const gain =
      lambda1 * (mean(ins[k + 1], cols) - mean(ins[k], cols)) + lambda2 * (mean(del[k], cols) - mean(del[k + 1], cols));
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
