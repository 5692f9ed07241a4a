// Pixels of the map overlay, computed from the label map and per-region colours.
// Pure functions over typed arrays, so they run (and are tested) outside a browser.
import { sequentialColor } from "./colors.js";
import { hallucinationValues } from "./diagnosis.js";
import { keptFlags, normalizeGains, regionGains } from "./state.js";

export const MAP_MODES = Object.freeze(["focus", "heat", "kept", "removed", "diagnose"]);

/** The default view: the top regions in the image's own colours, which a colour map over
 * them would distort (a blue square under 60% viridis reads half yellow). */
export const DEFAULT_MODE = "focus";

/** How much the focus view darkens the regions outside the top k. */
export const FOCUS_DIM = 0.6;

const HIDDEN = [0, 0, 0, 255]; // a filled region of the kept / removed views: where the fill shows
const PENDING = [0, 0, 0, 0]; // a region the search has not placed yet: the image shows

/** Heat map opacity of the most important region by default; the user can change it. */
export const DEFAULT_OPACITY = 0.6;

/**
 * 1 for the regions the focus view shows: the top `k` of the run's order, or with target
 * columns `cols` (a hovered word's preview) the `k` placed regions of highest gain for them.
 */
export function focusFlags(state, k, cols = null) {
  if (cols === null) return keptFlags(state, k);
  const gains = regionGains(state, cols);
  const ranked = Array.from(gains.keys()).filter((r) => !Number.isNaN(gains[r]));
  ranked.sort((a, b) => gains[b] - gains[a] || a - b);
  const flags = new Uint8Array(state.nRegions);
  for (const r of ranked.slice(0, k)) flags[r] = 1;
  return flags;
}

/**
 * RGBA (0..255) per region for a map mode:
 * - "heat": each placed region coloured by its gain (from the target columns `cols`, null =
 *   all targets), more opaque when more important, at most `opacity`; unplaced regions
 *   left clear (the view draws the image under the heat map);
 * - "kept": opaque where a region is filled, i.e. all but the top-`k` (the insertion image);
 * - "removed": opaque on the top-`k` regions (the deletion image); the view shows the
 *   model's fill through these opaque regions and the image elsewhere;
 * - "focus": clear on the top-`k` regions (focusFlags) (the image's own colours show), a dark veil of
 *   FOCUS_DIM over the others (the view outlines the top ones);
 * - "diagnose": coloured like the heat map by 1 - rank map of the correct answer (the
 *   regions that drive a wrong answer are hot); clear until the run is complete.
 */
export function regionColors(state, mode, k, cols = null, opacity = DEFAULT_OPACITY) {
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

/**
 * The overlay image (RGBA, outWidth x outHeight) of a label map of labelWidth x
 * labelHeight, scaled by nearest neighbour. Region colours come from `colors`
 * (4 per region). `boundary` ([r, g, b, a] or null) draws every region edge;
 * `highlight` = {region, color} outlines one region (the one a step just placed);
 * `outline` = {flags, color, width = 2} outlines every region whose flag is set (e.g. the
 * regions a diagnosis removed) with a band `width` pixels wide inside it, the image border
 * included, so each one reads as a closed shape.
 */
export function composeOverlay(labels, labelWidth, labelHeight, outWidth, outHeight, colors, options = {}) {
  const { boundary = null, highlight = null, outline = null } = options;
  if (labels.length !== labelWidth * labelHeight) {
    throw new RangeError(
      `label map has ${labels.length} pixels, expected ${labelWidth} x ${labelHeight}`,
    );
  }
  const out = new Uint8ClampedArray(4 * outWidth * outHeight);
  const xs = new Int32Array(outWidth);
  for (let x = 0; x < outWidth; x++) xs[x] = Math.min(labelWidth - 1, Math.floor((x * labelWidth) / outWidth));
  const ys = new Int32Array(outHeight);
  for (let y = 0; y < outHeight; y++) ys[y] = Math.min(labelHeight - 1, Math.floor((y * labelHeight) / outHeight));
  const regionAt = (x, y) => (x < 0 || y < 0 || x >= outWidth || y >= outHeight ? -1 : labels[ys[y] * labelWidth + xs[x]]);
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
    const ly = Math.min(labelHeight - 1, Math.floor((y * labelHeight) / outHeight));
    const nextLy = Math.min(labelHeight - 1, Math.floor(((y + 1) * labelHeight) / outHeight));
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

/** Display size for an image: long side scaled into [minSide, maxSide]. */
export function displaySize(height, width, minSide = 384, maxSide = 720) {
  const long = Math.max(height, width);
  if (!(long > 0)) return [0, 0];
  const scale = long < minSide ? minSide / long : long > maxSide ? maxSide / long : 1;
  return [Math.round(height * scale), Math.round(width * scale)];
}
