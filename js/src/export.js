// What the PNG and JSON export buttons save: the map and the curves composed on one canvas
// with the caption, status and AUCs below; the result's JSON as the kernel replies it.
import { toBytes } from "./codecs.js";
import { css, sequentialColor } from "./colors.js";
import { download, h } from "./dom.js";
import { MSG } from "./protocol.js";

/**
 * One canvas: `mapCanvas` and `curvesCanvas` side by side, the text `lines` below, and, when
 * `legend` is given, a colour ramp labelled "low → high {legend}" under the curves.
 */
export function composeExport({ mapCanvas, curvesCanvas, lines, legend, colors }) {
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
  text.forEach((line, i) => ctx.fillText(line, pad, Math.max(a.height, bh) + 2 * pad + 14 + 18 * i));
  return out;
}

/** Download `canvas` as eagle-view.png; `setNote` tells the user how it went. */
export function exportPng(canvas, setNote) {
  canvas.toBlob((blob) => {
    if (!blob) return setNote("PNG export failed.");
    download(blob, "eagle-view.png");
    setNote("Saved eagle-view.png.");
  }, "image/png");
}

/** Ask the kernel for the result's JSON (`ask`: createRequests(...).ask) and download it. */
export async function exportJson(ask, setNote) {
  try {
    const [msg, buffers] = await ask(MSG.EXPORT_JSON);
    download(new Blob([toBytes(buffers[0])], { type: "application/json" }), msg.filename || "eagle-explanation.json");
    setNote(`Saved ${msg.filename || "the result"}.`);
  } catch (error) {
    setNote(`JSON export failed: ${error.message}`);
  }
}

/** The caption as one line, the selected tokens in [brackets]. */
export function captionText(tokens, selection) {
  const selected = new Set(selection ?? []);
  return (tokens ?? []).map((t, i) => (selected.has(i) ? `[${t.trim()}]` : t.trim())).join(" ");
}
