// The image with the region overlay: heat map, kept view, removed view or the diagnosis
// (the regions that drive a wrong answer, those a mitigation removed outlined).
import { toBytes } from "../codecs.js";
import { css, sequentialColor } from "../colors.js";
import { regionFlags } from "../diagnosis.js";
import { h } from "../dom.js";
import { frameColumns } from "../frames.js";
import { composeOverlay, displaySize, focusFlags, regionColors } from "../overlay.js";

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

/** One PNG trait, decoded once per value; `onReady` runs when a new bitmap is there. */
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
      decodeImage(bytes)
        .then((decoded) => {
          if (value !== data) return;
          bitmap = decoded;
          onReady();
        })
        .catch((error) => console.error("[eagle-widget] could not decode an image", error));
    },
  };
}

export function createMask({ onReady }) {
  const canvas = h("canvas", {
    class: "ew-mask",
    dataset: { role: "mask-canvas" },
    role: "img",
    "aria-label": "image with the region map",
  });
  const legend = h("div", { class: "ew-colorbar", dataset: { role: "colorbar" } });
  // the canvas and what lies over it (a clip's frame captions, src/frames.js)
  const stage = h("div", { class: "ew-stage" }, canvas);
  const el = h("div", { class: "ew-figure" }, stage, legend);
  let lastKey = null;
  const redraw = () => ((lastKey = null), onReady());
  const image = pngSlot(redraw);
  const fill = pngSlot(redraw); // the image the model saw where a region is removed

  function update(scene) {
    image.set(scene.image);
    fill.set(scene.fill ?? null);
    const bitmap = image.bitmap;
    const { state, mode, k, cols, boundaries, highlight, colors, hint, opacity } = scene;
    const outlined = scene.outlined ?? null; // region ids to outline (the removed ones)
    const crop = scene.crop ?? null; // {index, count}: one frame of a clip's strip, shown large
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
        // dimmed a little, so that the light end of the scale stands out on any picture
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
      outline: outlined ? { flags: regionFlags(state.nRegions, outlined), color: colors.outline, width: 3 } : null,
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
    // kept / removed: the filled regions show the fill itself, exactly as the model saw it
    const filled = layerOf(composeOverlay(labels, imgW, imgH, W, H, regionRgba), W, H);
    const fctx = filled.getContext("2d");
    fctx.globalCompositeOperation = "source-in";
    if (fill.bitmap) drawScaled(fctx, fill.bitmap, W, H, span);
    else ((fctx.fillStyle = "#000"), fctx.fillRect(0, 0, W, H)); // the default fill, 0
    ctx.drawImage(filled, 0, 0);
    if (decorations.boundary || decorations.highlight || decorations.outline) {
      const clear = new Uint8ClampedArray(4 * state.nRegions);
      ctx.drawImage(layerOf(composeOverlay(labels, imgW, imgH, W, H, clear, decorations), W, H), 0, 0);
    }
  }

  return { el, stage, canvas, update };
}

/** A canvas holding the RGBA `pixels` of W x H. */
function layerOf(pixels, W, H) {
  const layer = document.createElement("canvas");
  layer.width = W;
  layer.height = H;
  layer.getContext("2d").putImageData(new ImageData(pixels, W, H), 0, 0);
  return layer;
}

const RAMP = `linear-gradient(to right, ${Array.from({ length: 11 }, (_, i) => css(sequentialColor(i / 10))).join(", ")})`;

/** drives: what the diagnosis map's high end means (diagnosisWords(...).drives);
 * idleHint: what to do while no map is shown (offerOf(...).legend). */
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
      h("span", {}, "the top regions in the image's own colours, the rest dimmed (the slider sets how many; Heat map for the gains)"),
    );
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
    const what = mode === "kept" ? "only the top regions kept" : "the top regions removed";
    legend.replaceChildren(h("span", {}, `${what}: the image the model scored (tick Regions for outlines)`));
  }
}

/** Draw the columns `span` (fractions of the width, [0, 1] for all) of `bitmap` on W x H. */
function drawScaled(ctx, bitmap, W, H, span = [0, 1]) {
  const sx = span[0] * bitmap.width;
  const sw = (span[1] - span[0]) * bitmap.width;
  ctx.imageSmoothingEnabled = W < 2 * sw;
  ctx.drawImage(bitmap, sx, 0, sw, bitmap.height, 0, 0, W, H);
}

/** [height, width, labels] of frame crop.index alone, cut from the strip's label map. */
function cropped(labels, [height, width], crop) {
  const [start, end] = frameColumns(crop.index, width, crop.count);
  if (!labels) return [height, end - start, null];
  const out = new labels.constructor(height * (end - start));
  for (let y = 0; y < height; y++) out.set(labels.subarray(y * width + start, y * width + end), y * (end - start));
  return [height, end - start, out];
}
