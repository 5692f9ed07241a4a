// @ts-check
// The prompt's spans as the views need them (issue 26): the `prompt_spans` trait read and
// checked, the prompt cut into plain text and span pieces, each span's value on the image
// map's scale and its place in the ranking, and the three-way reliance (image / prompt /
// prior) of the focused tokens. Pure functions (mirrored in eagle_widget/wire.py,
// prompt_spans_state and source_reliance_state).
import { sequentialColor } from "./colors.js";
import { hallucinationValues } from "./diagnosis.js";
import { keptFlags, normalizeGains, regionGains } from "./state.js";

/**
 * The `prompt_spans` trait as {nImage, spans: [{text, start, stop, region}]}, or null when
 * the run searched the image alone. Span ids follow the image's regions: nImage, nImage + 1, ...
 * @param {{n_image_regions?: number, spans?: {text: string, start: number, stop: number, region: number}[]} | null | undefined} raw
 */
export function readSpans(raw) {
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

/**
 * The prompt as pieces in order, [{text, span}] where `span` indexes `spans` (null for the
 * text between spans), so the whole prompt reads as written with each span a chip. Spans
 * must lie in the prompt, in order, apart (the engine's split_prompt gives them so).
 * @param {string} prompt
 * @param {{start: number, stop: number}[]} spans
 */
export function promptPieces(prompt, spans) {
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

/**
 * Per span what its chip shows, the way the image's regions get theirs (overlay.js):
 * `value` the heat map's value (its gain of F over the target columns `cols`, divided by
 * the largest gain of any region, image or span; in the diagnosis mode the diagnosis map's
 * value), NaN while not placed; `kept` whether it is in the slider's top `k`; `rank` its
 * place in the order (-1: not placed); `current` whether it is the step at `k` (rank k - 1)
 * or the region a streaming step just placed (`highlight`).
 * @param {any} state  a state.js run state
 * @param {{region: number}[]} spans
 * @param {string} mode  a map mode
 * @param {number} k
 * @param {number[] | null} cols
 * @param {number} highlight  region id a step just placed, or -1
 */
export function spanChipValues(state, spans, mode, k, cols = null, highlight = -1) {
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
      current: s.region === atK || s.region === highlight,
    };
  });
}

/**
 * The mean (image, prompt, prior) shares of the tokens `focus` (null or empty: every
 * explained token) from the result's source_reliance ({targets, shares}), or null when the
 * result has none or holds none of those tokens.
 * @param {{targets?: number[], shares?: (number | null)[][]} | null | undefined} raw
 * @param {number[] | null} focus
 */
export function sourceShares(raw, focus) {
  if (!raw || !Array.isArray(raw.targets) || !Array.isArray(raw.shares)) return null;
  const wanted = focus && focus.length ? new Set(focus) : null;
  const rows = raw.targets.flatMap((t, j) => {
    const row = raw.shares[j];
    const known = row && row.length === 3 && row.every((v) => typeof v === "number" && Number.isFinite(v));
    return (wanted === null || wanted.has(t)) && known ? [row] : [];
  });
  if (rows.length === 0) return null;
  const mean = (i) => rows.reduce((sum, row) => sum + row[i], 0) / rows.length;
  return { image: mean(0), prompt: mean(1), prior: mean(2), count: rows.length };
}

/**
 * A chip's colours for `value` in [0, 1]: the map's sequential colour and the ink that
 * reads on it (its lightness rises with the value: dark ink from the middle up); null for
 * a span not placed yet (NaN), which the view leaves plain.
 * @param {number} value
 */
export function chipColors(value) {
  if (Number.isNaN(value)) return null;
  const t = Math.min(1, Math.max(0, value));
  return { background: sequentialColor(t), ink: t >= 0.45 ? "dark" : "light" };
}
