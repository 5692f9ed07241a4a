// The image with the region overlay: heat map, kept view, removed view or the diagnosis
// (the regions that drive a wrong answer, those a mitigation removed outlined).
import { toBytes } from "../codecs.js";
import { css, sequentialColor } from "../colors.js";
import { regionFlags } from "../diagnosis.js";
import { h } from "../dom.js";
import { composeOverlay, displaySize, regionColors } from "../overlay.js";

/** Decode PNG bytes into something drawImage accepts. */
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

export function createMask({ onReady }) {
  const canvas = h("canvas", {
    class: "ew-mask",
    dataset: { role: "mask-canvas" },
    role: "img",
    "aria-label": "image with the region map",
  });
  const legend = h("div", { class: "ew-colorbar", dataset: { role: "colorbar" } });
  const el = h("div", { class: "ew-figure" }, canvas, legend);
  let image = null;
  let bitmap = null;
  let lastKey = null;
  let grey = null; // {bitmap, W, H, canvas}: the image in grey, under the heat map

  /** `data`: the image_png trait (PNG bytes in any binary form); decoded once per value. */
  function setImage(data) {
    if (data === image) return;
    image = data;
    bitmap = null;
    const bytes = data ? toBytes(data) : null;
    if (!bytes || bytes.byteLength === 0) return;
    decodeImage(bytes)
      .then((decoded) => {
        if (data !== image) return;
        bitmap = decoded;
        lastKey = null;
        onReady();
      })
      .catch((error) => console.error("[eagle-widget] could not decode the image", error));
  }

  function update(scene) {
    setImage(scene.image);
    const { state, labels, labelShape, mode, k, cols, boundaries, highlight, colors, hint } = scene;
    const outlined = scene.outlined ?? null; // region ids to outline (the removed ones)
    const key = [bitmap, state, labels, mode, k, cols?.join(","), boundaries, highlight, colors.key, hint, outlined?.join(","), scene.drives];
    if (lastKey && key.every((v, i) => v === lastKey[i])) return;
    lastKey = key;
    const [imgH, imgW] = labelShape ?? (bitmap ? [bitmap.height, bitmap.width] : [0, 0]);
    const [H, W] = displaySize(imgH, imgW);
    if (H === 0) return;
    if (canvas.width !== W || canvas.height !== H) {
      canvas.width = W;
      canvas.height = H;
    }
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, W, H);
    const ready = labels && state.nRegions > 0 && labels.length === imgH * imgW;
    if (bitmap) {
      if (ready && (mode === "heat" || mode === "diagnose")) ctx.drawImage(greyBase(W, H), 0, 0);
      else drawScaled(ctx, bitmap, W, H);
    }
    canvas.dataset.mode = mode;
    setLegend(legend, mode, Boolean(ready), hint, scene.drives);
    canvas.dataset.placed = String(ready ? state.order.filter((r) => r >= 0).length : 0);
    canvas.dataset.outlined = String(ready && outlined ? outlined.length : 0);
    if (!ready) return;
    const regionRgba = regionColors(state, mode, k, cols);
    const pixels = composeOverlay(labels, imgW, imgH, W, H, regionRgba, {
      boundary: boundaries ? colors.boundary : null,
      highlight: highlight >= 0 ? { region: highlight, color: colors.highlight } : null,
      outline: outlined ? { flags: regionFlags(state.nRegions, outlined), color: colors.outline, width: 3 } : null,
    });
    const layer = document.createElement("canvas");
    layer.width = W;
    layer.height = H;
    layer.getContext("2d").putImageData(new ImageData(pixels, W, H), 0, 0);
    ctx.drawImage(layer, 0, 0);
  }

  /** The image in dimmed grey at W x H, so that the heat colours read on any picture. */
  function greyBase(W, H) {
    if (grey && grey.bitmap === bitmap && grey.W === W && grey.H === H) return grey.canvas;
    const out = document.createElement("canvas");
    out.width = W;
    out.height = H;
    const ctx = out.getContext("2d", { willReadFrequently: true });
    drawScaled(ctx, bitmap, W, H);
    const data = ctx.getImageData(0, 0, W, H);
    const px = data.data;
    for (let i = 0; i < px.length; i += 4) {
      const y = 0.2126 * px[i] + 0.7152 * px[i + 1] + 0.0722 * px[i + 2];
      px[i] = px[i + 1] = px[i + 2] = 40 + 0.6 * y;
    }
    ctx.putImageData(data, 0, 0);
    grey = { bitmap, W, H, canvas: out };
    return out;
  }

  return { el, canvas, update };
}

const RAMP = `linear-gradient(to right, ${Array.from({ length: 11 }, (_, i) => css(sequentialColor(i / 10))).join(", ")})`;

/** drives: what the diagnosis map's high end means (diagnosisWords(...).drives). */
function setLegend(legend, mode, ready, hint, drives = "") {
  const key = `${mode}:${ready}:${hint ?? ""}:${drives}`;
  if (legend.dataset.key === key) return;
  legend.dataset.key = key;
  if (hint) {
    legend.replaceChildren(h("span", { class: "ew-legend-hint" }, hint));
  } else if (!ready) {
    legend.replaceChildren(h("span", {}, "Click a word to explain it."));
  } else if (mode === "heat") {
    legend.replaceChildren(
      h("span", {}, "low"),
      h("span", { class: "ew-ramp", style: { background: RAMP } }),
      h("span", {}, "high gain of the region"),
    );
  } else if (mode === "diagnose") {
    legend.replaceChildren(
      h("span", {}, "low"),
      h("span", { class: "ew-ramp", style: { background: RAMP } }),
      h("span", {}, `high: ${drives}`),
      h("span", { class: "ew-outline-key" }),
      h("span", {}, "removed"),
    );
  } else {
    const what = mode === "kept" ? "only the top regions kept" : "the top regions filled";
    legend.replaceChildren(h("span", { class: "ew-fill-key" }), h("span", {}, `${what}, as the model saw it`));
  }
}

function drawScaled(ctx, bitmap, W, H) {
  ctx.imageSmoothingEnabled = W < 2 * bitmap.width;
  ctx.drawImage(bitmap, 0, 0, W, H);
}
