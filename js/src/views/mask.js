// The image with the region overlay: heat map, kept view or removed view.
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
  const el = h("div", { class: "ew-figure" }, canvas);
  let imageBytes = null;
  let bitmap = null;
  let lastKey = null;

  function setImage(bytes) {
    if (bytes === imageBytes) return;
    imageBytes = bytes;
    bitmap = null;
    if (!bytes || bytes.byteLength === 0) return;
    decodeImage(bytes)
      .then((decoded) => {
        if (bytes !== imageBytes) return;
        bitmap = decoded;
        lastKey = null;
        onReady();
      })
      .catch((error) => console.error("[eagle-widget] could not decode the image", error));
  }

  function update(scene) {
    setImage(scene.imageBytes);
    const { state, labels, labelShape, mode, k, cols, boundaries, highlight, colors } = scene;
    const key = [bitmap, state, labels, mode, k, cols?.join(","), boundaries, highlight, colors.key];
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
    if (bitmap) {
      ctx.imageSmoothingEnabled = W < 2 * bitmap.width;
      ctx.drawImage(bitmap, 0, 0, W, H);
    }
    const ready = labels && state.nRegions > 0 && labels.length === imgH * imgW;
    canvas.dataset.mode = mode;
    canvas.dataset.placed = String(ready ? state.order.filter((r) => r >= 0).length : 0);
    if (!ready) return;
    const regionRgba = regionColors(state, mode, k, cols);
    const pixels = composeOverlay(labels, imgW, imgH, W, H, regionRgba, {
      boundary: boundaries ? colors.boundary : null,
      highlight: highlight >= 0 ? { region: highlight, color: colors.highlight } : null,
    });
    const layer = document.createElement("canvas");
    layer.width = W;
    layer.height = H;
    layer.getContext("2d").putImageData(new ImageData(pixels, W, H), 0, 0);
    ctx.drawImage(layer, 0, 0);
  }

  return { el, canvas, update };
}
