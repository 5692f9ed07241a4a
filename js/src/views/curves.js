// Insertion and deletion curves (probability against covered area) with their AUCs.
import { h } from "../dom.js";
import { curvePoints, trapezoidAuc } from "../state.js";

const MARGIN = { left: 34, right: 10, top: 10, bottom: 26 };

export function createCurves() {
  const canvas = h("canvas", { class: "ew-curves-canvas", role: "img", "aria-label": "insertion and deletion curves" });
  const legend = h("div", { class: "ew-curves-legend", dataset: { role: "auc" } });
  const el = h(
    "div",
    { class: "ew-curves", dataset: { role: "curves" } },
    h("div", { class: "ew-panel-title" }, "Insertion and deletion curves"),
    canvas,
    legend,
  );
  let lastKey = null;

  function update(scene) {
    const { state, cols, k, colors, width } = scene;
    const key = [state, cols?.join(","), k, colors.key, width];
    if (lastKey && key.every((v, i) => v === lastKey[i])) return;
    lastKey = key;
    const ins = curvePoints(state, "insertion");
    const del = curvePoints(state, "deletion");
    el.dataset.insertionPoints = String(ins.length);
    el.dataset.deletionPoints = String(del.length);
    const aucIns = state.complete ? (state.aucs?.insertion ?? trapezoidAuc(ins)) : null;
    const aucDel = state.complete ? (state.aucs?.deletion ?? trapezoidAuc(del)) : null;
    legend.replaceChildren(
      legendItem("ew-key-insert", "insertion", aucIns, "higher is better"),
      legendItem("ew-key-delete", "deletion", aucDel, "lower is better"),
    );
    if (aucIns !== null) el.dataset.insertionAuc = aucIns.toFixed(4);
    else delete el.dataset.insertionAuc;
    const own = cols && cols.length ? { ins: curvePoints(state, "insertion", cols), del: curvePoints(state, "deletion", cols) } : null;
    draw(canvas, { ins, del, own, marker: Number.isFinite(state.areas[k]) ? state.areas[k] : null, colors, width });
  }

  return { el, canvas, update };
}

function legendItem(cls, name, auc, hint) {
  return h(
    "span",
    { class: `ew-key ${cls}`, title: hint },
    h("span", { class: "ew-swatch" }),
    `${name} AUC ${auc === null || auc === undefined ? "…" : auc.toFixed(3)}`,
  );
}

function draw(canvas, { ins, del, own, marker, colors, width }) {
  const cssW = Math.max(200, Math.round(width || 320));
  const cssH = Math.round(Math.min(220, cssW * 0.62));
  const dpr = globalThis.devicePixelRatio || 1;
  canvas.width = Math.round(cssW * dpr);
  canvas.height = Math.round(cssH * dpr);
  canvas.style.width = `${cssW}px`;
  canvas.style.height = `${cssH}px`;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, cssW, cssH);
  const plotW = cssW - MARGIN.left - MARGIN.right;
  const plotH = cssH - MARGIN.top - MARGIN.bottom;
  const X = (a) => MARGIN.left + a * plotW;
  const Y = (p) => MARGIN.top + (1 - p) * plotH;

  ctx.font = `11px ${colors.font}`;
  ctx.lineWidth = 1;
  ctx.strokeStyle = colors.grid;
  ctx.fillStyle = colors.muted;
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (const p of [0, 0.5, 1]) {
    ctx.beginPath();
    ctx.moveTo(X(0), Y(p));
    ctx.lineTo(X(1), Y(p));
    ctx.stroke();
    ctx.fillText(p.toFixed(1), MARGIN.left - 5, Y(p));
  }
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  for (const a of [0, 0.25, 0.5, 0.75, 1]) {
    ctx.textAlign = a === 0 ? "left" : a === 1 ? "right" : "center";
    ctx.fillText(`${Math.round(100 * a)}%`, X(a), Y(0) + 5);
  }

  if (marker !== null) {
    ctx.strokeStyle = colors.fg;
    ctx.globalAlpha = 0.45;
    ctx.setLineDash([2, 3]);
    ctx.beginPath();
    ctx.moveTo(X(marker), Y(0));
    ctx.lineTo(X(marker), Y(1));
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.globalAlpha = 1;
  }
  if (own) {
    line(ctx, own.ins, X, Y, colors.insert, 1.2, [], 0.55);
    line(ctx, own.del, X, Y, colors.delete, 1.2, [4, 3], 0.55);
  }
  line(ctx, ins, X, Y, colors.insert, 2, [], 1);
  line(ctx, del, X, Y, colors.delete, 2, [6, 3], 1);
  dots(ctx, ins, X, Y, colors.insert);
  dots(ctx, del, X, Y, colors.delete);
}

/** Lines join only neighbouring set sizes: a gap in the known sizes stays a gap. */
function line(ctx, points, X, Y, color, width, dash, alpha) {
  if (points.length < 2) return;
  ctx.save();
  ctx.strokeStyle = color;
  ctx.lineWidth = width;
  ctx.globalAlpha = alpha;
  ctx.setLineDash(dash);
  ctx.beginPath();
  points.forEach((pt, i) => {
    if (i > 0 && pt.k === points[i - 1].k + 1) ctx.lineTo(X(pt.area), Y(pt.value));
    else ctx.moveTo(X(pt.area), Y(pt.value));
  });
  ctx.stroke();
  ctx.restore();
}

function dots(ctx, points, X, Y, color) {
  if (points.length > 80) return;
  ctx.fillStyle = color;
  for (const pt of points) {
    ctx.beginPath();
    ctx.arc(X(pt.area), Y(pt.value), 2.2, 0, 2 * Math.PI);
    ctx.fill();
  }
}
