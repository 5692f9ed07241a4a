// Colour scales computed in OKLab, so that equal steps in value are equal steps in
// perceived lightness. Lightness alone carries the value, which keeps the scales
// readable for colour-blind viewers and in grey-scale prints.

const DEG = Math.PI / 180;

function toLinear(c) {
  return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
}

function fromLinear(c) {
  return c <= 0.0031308 ? 12.92 * c : 1.055 * c ** (1 / 2.4) - 0.055;
}

/** Linear sRGB [0, 1] -> OKLab [L, a, b]. */
export function linearToOklab([r, g, b]) {
  const l = Math.cbrt(0.4122214708 * r + 0.5363325363 * g + 0.0514459929 * b);
  const m = Math.cbrt(0.2119034982 * r + 0.6806995451 * g + 0.1073969566 * b);
  const s = Math.cbrt(0.0883024619 * r + 0.2817188376 * g + 0.6299787005 * b);
  return [
    0.2104542553 * l + 0.793617785 * m - 0.0040720468 * s,
    1.9779984951 * l - 2.428592205 * m + 0.4505937099 * s,
    0.0259040371 * l + 0.7827717662 * m - 0.808675766 * s,
  ];
}

/** OKLab [L, a, b] -> linear sRGB (may fall outside [0, 1]). */
export function oklabToLinear([L, a, b]) {
  const l = (L + 0.3963377774 * a + 0.2158037573 * b) ** 3;
  const m = (L - 0.1055613458 * a - 0.0638541728 * b) ** 3;
  const s = (L - 0.0894841775 * a - 1.291485548 * b) ** 3;
  return [
    4.0767416621 * l - 3.3077115913 * m + 0.2309699292 * s,
    -1.2684380046 * l + 2.6097574011 * m - 0.3413193965 * s,
    -0.0041960863 * l - 0.7034186147 * m + 1.707614701 * s,
  ];
}

/** sRGB bytes [0..255] -> OKLab. */
export function rgbToOklab(rgb) {
  return linearToOklab(rgb.map((c) => toLinear(c / 255)));
}

const inGamut = (lin) => lin.every((c) => c >= -1e-6 && c <= 1 + 1e-6);

/**
 * OKLCh -> sRGB bytes. Chroma is lowered until the colour fits the sRGB gamut, so the
 * requested lightness and hue are kept exactly.
 */
export function oklchToRgb(L, C, hueDeg) {
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
  return oklabToLinear(lab(hi)).map((c) =>
    Math.round(255 * fromLinear(Math.min(1, Math.max(0, c)))),
  );
}

/**
 * Sequential scale for importance: dark violet-blue through teal to light yellow,
 * lightness rising linearly from 0.30 to 0.94.
 */
export function sequentialOklch(t) {
  const L = 0.3 + 0.64 * t;
  const C = 0.12 - 0.04 * Math.sin(Math.PI * t) + 0.07 * t ** 3;
  const h = 290 - 185 * t;
  return [L, C, h];
}

/** A lookup table of `n` sRGB colours of the sequential scale, flat [r, g, b, r, g, b, ...]. */
export function buildSequentialLut(n = 256) {
  const lut = new Uint8ClampedArray(3 * n);
  for (let i = 0; i < n; i++) {
    const rgb = oklchToRgb(...sequentialOklch(i / (n - 1)));
    lut.set(rgb, 3 * i);
  }
  return lut;
}

export const SEQUENTIAL_LUT = buildSequentialLut(256);

/** Sequential colour of `v` in [0, 1] (clamped) as [r, g, b]. */
export function sequentialColor(v) {
  const t = Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : 0;
  const i = Math.round(t * 255);
  return [SEQUENTIAL_LUT[3 * i], SEQUENTIAL_LUT[3 * i + 1], SEQUENTIAL_LUT[3 * i + 2]];
}

const PRIOR_HUE = 255; // blue: what the language prior gives
const VISUAL_HUE = 55; // orange: what the image adds

/**
 * Diverging scale for modality reliance, t in [-1, 1]: -1 language prior (blue), 0 neutral
 * (near white), +1 visual evidence (orange). Lightness is symmetric around 0.
 */
export function divergingColor(t) {
  const x = Number.isFinite(t) ? Math.min(1, Math.max(-1, t)) : 0;
  const a = Math.abs(x);
  return oklchToRgb(0.97 - 0.4 * a, 0.16 * a, x < 0 ? PRIOR_HUE : VISUAL_HUE);
}

/** CSS colour string of an [r, g, b] triple. */
export function css([r, g, b], alpha = 1) {
  return alpha >= 1 ? `rgb(${r} ${g} ${b})` : `rgb(${r} ${g} ${b} / ${alpha})`;
}

/** The two colours of a reliance bar. */
export const RELIANCE_COLORS = Object.freeze({
  prior: divergingColor(-0.8),
  visual: divergingColor(0.8),
});
