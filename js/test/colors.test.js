import assert from "node:assert/strict";
import { test } from "node:test";
import {
  buildSequentialLut,
  divergingColor,
  linearToOklab,
  oklabToLinear,
  oklchToRgb,
  RELIANCE_COLORS,
  rgbToOklab,
  sequentialColor,
} from "../src/colors.js";

// Colour-vision deficiency simulation (Machado, Oliveira & Fernandes 2009, severity 1),
// applied to linear RGB.
const CVD = {
  protanopia: [
    [0.152286, 1.052583, -0.204868],
    [0.114503, 0.786281, 0.099216],
    [-0.003882, -0.048116, 1.051998],
  ],
  deuteranopia: [
    [0.367322, 0.860646, -0.227968],
    [0.280085, 0.672501, 0.047413],
    [-0.01182, 0.04294, 0.968881],
  ],
  tritanopia: [
    [1.255528, -0.076749, -0.178779],
    [-0.078411, 0.930809, 0.147602],
    [0.004733, 0.691367, 0.3039],
  ],
};

const toLinear = (c) => (c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);

function simulatedLab(rgb, matrix) {
  const lin = rgb.map((c) => toLinear(c / 255));
  const sim = matrix.map((row) => Math.min(1, Math.max(0, row[0] * lin[0] + row[1] * lin[1] + row[2] * lin[2])));
  return linearToOklab(sim);
}

const distance = (a, b) => Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);

function lutColors(n = 256) {
  const lut = buildSequentialLut(n);
  return Array.from({ length: n }, (_, i) => [lut[3 * i], lut[3 * i + 1], lut[3 * i + 2]]);
}

test("OKLab conversion round-trips", () => {
  for (const lin of [[0, 0, 0], [1, 1, 1], [0.2, 0.5, 0.9], [1, 0, 0]]) {
    oklabToLinear(linearToOklab(lin)).forEach((c, i) => assert.ok(Math.abs(c - lin[i]) < 1e-6));
  }
  // white has L = 1 and no chroma
  const white = rgbToOklab([255, 255, 255]);
  assert.ok(Math.abs(white[0] - 1) < 1e-4 && Math.hypot(white[1], white[2]) < 1e-4);
});

test("gamut mapping keeps lightness when it has to drop chroma", () => {
  const rgb = oklchToRgb(0.9, 0.4, 30); // far outside sRGB
  assert.ok(Math.abs(rgbToOklab(rgb)[0] - 0.9) < 0.01);
});

test("sequential scale: lightness rises evenly from dark to light", () => {
  // 64 samples: finer steps drown in 8-bit rounding
  const L = lutColors(64).map((c) => rgbToOklab(c)[0]);
  assert.ok(L[0] < 0.32 && L[63] > 0.92, `ends ${L[0]} .. ${L[63]}`);
  const steps = L.slice(1).map((l, i) => l - L[i]);
  assert.ok(steps.every((d) => d > 0), "lightness must rise at every step");
  const mean = (L[63] - L[0]) / 63;
  // perceptually even: no step more than twice or less than 0.4 times the mean
  assert.ok(steps.every((d) => d > 0.4 * mean && d < 2 * mean), `uneven steps ${Math.min(...steps)} ${Math.max(...steps)}`);
});

test("sequential scale stays ordered for colour-blind viewers", () => {
  const colors = lutColors(32);
  for (const [name, matrix] of Object.entries(CVD)) {
    const L = colors.map((c) => simulatedLab(c, matrix)[0]);
    L.slice(1).forEach((l, i) => assert.ok(l > L[i], `${name}: lightness falls at ${i}`));
    assert.ok(L[31] - L[0] > 0.5, `${name}: range ${L[31] - L[0]}`);
  }
});

test("sequentialColor clamps and maps the ends of the table", () => {
  const lut = buildSequentialLut(256);
  assert.deepEqual(sequentialColor(-3), [lut[0], lut[1], lut[2]]);
  assert.deepEqual(sequentialColor(7), [lut[765], lut[766], lut[767]]);
  assert.deepEqual(sequentialColor(Number.NaN), sequentialColor(0));
});

test("diverging scale: symmetric lightness, neutral centre, hues tell the sides apart", () => {
  const centre = rgbToOklab(divergingColor(0));
  assert.ok(centre[0] > 0.95 && Math.hypot(centre[1], centre[2]) < 0.01);
  for (const t of [0.25, 0.5, 0.75, 1]) {
    const lo = rgbToOklab(divergingColor(-t))[0];
    const hi = rgbToOklab(divergingColor(t))[0];
    assert.ok(Math.abs(lo - hi) < 0.01, `lightness differs at ${t}: ${lo} vs ${hi}`);
  }
  for (const [name, matrix] of Object.entries({ normal: [[1, 0, 0], [0, 1, 0], [0, 0, 1]], ...CVD })) {
    const d = distance(simulatedLab(RELIANCE_COLORS.prior, matrix), simulatedLab(RELIANCE_COLORS.visual, matrix));
    assert.ok(d > 0.1, `${name}: prior and visual colours only ${d.toFixed(3)} apart`);
  }
});
