// The diagnosis panel: the original answer next to the revised one, and the curve of the
// correct answer's probability against the removed area, with the chosen cut marked.
import { h, svg } from "../dom.js";
import { diagnosisWords } from "../diagnosis.js";
import { formatProb } from "../format.js";

const MARGIN = { left: 30, right: 10, top: 8, bottom: 22 };

export function createDiagnosis() {
  const title = h("div", { class: "ew-panel-title" });
  const original = h("span", { class: "ew-answer-text", dataset: { role: "original-answer" } });
  const originalLabel = h("span", { class: "ew-answer-label" }, "original answer");
  const revisedLabel = h("span", { class: "ew-answer-label" }, "revised answer");
  const revised = h("span", { class: "ew-answer-text", dataset: { role: "revised-answer" } });
  const axis = h("div", { class: "ew-dx-axis" });
  const plot = h("div", { class: "ew-dx-plot" });
  const text = h("div", { class: "ew-dx-text", dataset: { role: "diagnosis-text" } });
  const el = h(
    "div",
    { class: "ew-diagnosis", dataset: { role: "diagnosis" }, hidden: true },
    title,
    h(
      "div",
      { class: "ew-answers" },
      h("div", { class: "ew-answer is-original" }, originalLabel, original),
      h("div", { class: "ew-answer is-revised" }, revisedLabel, revised),
    ),
    axis,
    plot,
    text,
  );
  let lastKey = null;

  /** diagnosis: readDiagnosis(...) or null (the panel hides). */
  function update({ diagnosis, width }) {
    const key = [diagnosis, width];
    if (lastKey && key.every((v, i) => v === lastKey[i])) return;
    lastKey = key;
    el.hidden = !diagnosis;
    if (!diagnosis) return;
    const d = diagnosis;
    const word = `“${d.correct}”`;
    const words = diagnosisWords(d);
    title.textContent = words.title;
    originalLabel.textContent = words.before;
    revisedLabel.textContent = words.after;
    original.textContent = d.original.trim() || "–";
    el.dataset.complete = String(d.complete);
    el.dataset.corrected = String(d.corrected);
    if (!d.complete) {
      revised.textContent = "…";
      axis.textContent = "";
      plot.replaceChildren();
      text.textContent = `Explaining ${word} as a counterfactual target, then removing the regions ranked last for it and regenerating…`;
      return;
    }
    revised.textContent = d.corrected ? d.revised.trim() || "–" : "not corrected";
    axis.textContent = `P(${word}) against the area removed, regions ranked last first`;
    plot.replaceChildren(curve(d, width));
    const n = d.removedRegions.length;
    text.textContent = d.corrected
      ? `Removing ${pct(d.removedArea)} of the image (${n} region${n === 1 ? "" : "s"} ranked last for ${word}, outlined on the map) ${words.flips}: P = ${formatProb(d.cut.p)}.`
      : `Removing up to ${pct(d.maxArea ?? d.points.at(-1).area)} of the image (the regions ranked last for ${word}) ${words.noFlip}.`;
  }

  return { el, update };
}

function pct(x) {
  return Number.isFinite(x) ? `${(100 * x).toFixed(x < 0.1 ? 1 : 0)}%` : "–";
}

/** P(correct) against the removed area as an SVG line chart; the cut as a line and a dot. */
function curve(d, width) {
  const W = Math.max(200, Math.round(width || 320));
  const H = Math.round(Math.min(170, W * 0.5));
  const plotW = W - MARGIN.left - MARGIN.right;
  const plotH = H - MARGIN.top - MARGIN.bottom;
  const xMax = Math.max(d.maxArea ?? 0, ...d.points.map((p) => p.area)) || 1;
  const X = (a) => MARGIN.left + (a / xMax) * plotW;
  const Y = (p) => MARGIN.top + (1 - p) * plotH;
  const known = d.points.filter((p) => Number.isFinite(p.p));
  const children = [];
  for (const p of [0, 0.5, 1]) {
    children.push(
      svg("line", { class: "ew-dx-grid", x1: X(0), x2: X(xMax), y1: Y(p), y2: Y(p) }),
      svg("text", { class: "ew-dx-tick", x: MARGIN.left - 4, y: Y(p), "text-anchor": "end", "dominant-baseline": "middle" }, p.toFixed(1)),
    );
  }
  for (const a of [0, xMax / 2, xMax]) {
    const anchor = a === 0 ? "start" : a === xMax ? "end" : "middle";
    children.push(svg("text", { class: "ew-dx-tick", x: X(a), y: H - 6, "text-anchor": anchor }, `${Math.round(100 * a)}%`));
  }
  children.push(
    svg("polyline", {
      class: "ew-dx-line",
      points: known.map((p) => `${X(p.area).toFixed(1)},${Y(p.p).toFixed(1)}`).join(" "),
      dataset: { role: "diagnosis-line" },
    }),
  );
  for (const p of known) children.push(svg("circle", { class: "ew-dx-dot", cx: X(p.area), cy: Y(p.p), r: 2 }));
  if (d.cut) {
    children.push(
      svg("line", { class: "ew-dx-cut", x1: X(d.cut.area), x2: X(d.cut.area), y1: Y(0), y2: Y(1) }),
      svg("circle", { class: "ew-dx-cut-point", cx: X(d.cut.area), cy: Y(d.cut.p), r: 4.5, dataset: { role: "diagnosis-cut" } }),
    );
  }
  return svg(
    "svg",
    {
      class: "ew-dx-curve",
      width: W,
      height: H,
      viewBox: `0 0 ${W} ${H}`,
      role: "img",
      "aria-label": `probability of “${d.correct}” against the removed area`,
      dataset: { role: "diagnosis-curve", points: String(known.length), cutArea: d.cut ? d.cut.area.toFixed(4) : "" },
    },
    svg("title", {}, `P(“${d.correct}”) against the share of the image removed (regions ranked last first)`),
    children,
  );
}
