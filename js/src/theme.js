// Colours the canvases need, read from the CSS variables of the widget's root element
// (so they follow the light or dark theme of JupyterLab, Notebook 7 and VS Code).
import { cssVar } from "./dom.js";

function toRgba(color) {
  const probe = document.createElement("canvas");
  probe.width = probe.height = 1;
  const ctx = probe.getContext("2d");
  ctx.clearRect(0, 0, 1, 1);
  ctx.fillStyle = color;
  ctx.fillRect(0, 0, 1, 1);
  return Array.from(ctx.getImageData(0, 0, 1, 1).data);
}

let generation = 0;

export function readThemeColors(root) {
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
    outline: toRgba(get("--ew-outline", "#00e5ff")),
  };
}
