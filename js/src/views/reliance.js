// Modality reliance of the focused word: language prior against visual evidence.
import { css, RELIANCE_COLORS } from "../colors.js";
import { h } from "../dom.js";
import { formatProb } from "../format.js";
import { relianceBar } from "./caption.js";

// a text-only model's view (has_image false): the evidence is the prompt's spans
const WORDING = {
  image: { prior: "language prior: p(token | blank image)", evidence: "visual evidence: p(full image) \u2212 p(blank)", lost: "hatched: the image lowers p (visual evidence below 0)", short: "visual" },
  text: { prior: "language prior: p(token | every span hidden)", evidence: "prompt evidence: p(full prompt) \u2212 p(spans hidden)", lost: "hatched: the prompt lowers p (its evidence below 0)", short: "prompt" },
};

export function createReliance() {
  const bar = h("div", { class: "ew-reliance-big" });
  const text = h("div", { class: "ew-reliance-text" });
  const priorText = h("span", {}, WORDING.image.prior);
  const evidenceText = h("span", {}, WORDING.image.evidence);
  const lostText = h("span", {}, WORDING.image.lost);
  const el = h(
    "div",
    { class: "ew-reliance", dataset: { role: "reliance" } },
    h("div", { class: "ew-panel-title" }, "Modality reliance"),
    bar,
    text,
    h(
      "div",
      { class: "ew-legend" },
      h("span", { class: "ew-swatch", style: { background: css(RELIANCE_COLORS.prior) } }),
      priorText,
      h("br"),
      h("span", { class: "ew-swatch", style: { background: css(RELIANCE_COLORS.visual) } }),
      evidenceText,
      h("br"),
      // the hatched end of a word's bar (caption.js relianceBar): no colour of its own
      h(
        "span",
        { dataset: { role: "legend-lost" } },
        h("span", { class: "ew-swatch ew-swatch-lost" }),
        lostText,
      ),
    ),
  );
  let lastKey = null;

  /** focus: token indices to summarise (hovered word, else the selection, else all);
   * textOnly: a text-only model's view, whose evidence is the prompt. */
  function update({ tokens, reliance, focus, textOnly = false }) {
    const key = [tokens, reliance, focus?.join(","), textOnly];
    if (lastKey && key.every((v, i) => v === lastKey[i])) return;
    lastKey = key;
    const words = textOnly ? WORDING.text : WORDING.image;
    priorText.textContent = words.prior;
    evidenceText.textContent = words.evidence;
    lostText.textContent = words.lost;
    const have = reliance?.prior && reliance.prior.length === tokens.length && tokens.length > 0;
    el.dataset.ready = have ? "true" : "false";
    if (!have) {
      bar.replaceChildren();
      text.textContent = tokens.length ? "Computing reliance…" : "";
      return;
    }
    const indices = focus && focus.length ? focus : tokens.map((_, i) => i);
    const avg = (values) => indices.reduce((sum, i) => sum + values[i], 0) / indices.length;
    const summary = { prior: [avg(reliance.prior)], visual: [avg(reliance.visual)] };
    bar.replaceChildren(relianceBar(summary, 0));
    const label =
      indices.length === tokens.length
        ? "whole caption (mean over tokens)"
        : `“${shorten(indices.map((i) => tokens[i]).join("").trim())}”`;
    const v = summary.visual[0];
    text.textContent = `${label}: prior ${formatProb(summary.prior[0])} · ${words.short} ${v >= 0 ? "+" : ""}${formatProb(v)}`;
  }

  return { el, update };
}

function shorten(text, max = 40) {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
