// The prompt as chips beside the map (issue 26): each span searched beside the image's
// regions is a chip coloured on the map's scale; and the three-way reliance (image /
// prompt / prior) of the focused word. Values come from ../chips.js.
import { chipColors, promptPieces, sourceShares, spanChipValues } from "../chips.js";
import { css, RELIANCE_COLORS } from "../colors.js";
import { h } from "../dom.js";

const PROMPT_COLOR = [46, 158, 120]; // the prompt's share: neither the prior's blue nor the image's orange

/** The prompt line: plain text until a run with spans, then its spans as chips. */
export function createPromptChips() {
  const el = h("div", { class: "ew-chips", dataset: { role: "prompt-chips" } });
  let builtFor = null;
  let chipEls = [];

  function build(prompt, spans) {
    chipEls = [];
    const pieces = promptPieces(prompt, spans.spans).map(({ text, span }) => {
      if (span === null) return text;
      const s = spans.spans[span];
      const chip = h("span", { class: "ew-chip", dataset: { spanIndex: String(span), region: String(s.region) } }, text);
      chipEls[span] = chip;
      return chip;
    });
    el.replaceChildren(h("span", { class: "ew-chips-label" }, "Prompt: "), ...pieces);
  }

  /** spans: readSpans(...) or null; the others as the mask view takes them. */
  function update({ prompt, spans, state, mode, k, cols, highlight }) {
    if (!spans) {
      if (builtFor !== null) el.replaceChildren();
      builtFor = null;
      el.hidden = true;
      el.dataset.ready = "false";
      return;
    }
    el.hidden = false;
    if (builtFor !== spans) {
      build(prompt, spans);
      builtFor = spans;
    }
    el.dataset.ready = "true";
    const values = spanChipValues(state, spans.spans, mode, k, cols, highlight);
    values.forEach((v, i) => {
      const chip = chipEls[i];
      const colors = chipColors(v.value);
      chip.dataset.value = Number.isNaN(v.value) ? "" : v.value.toFixed(4);
      chip.dataset.kept = String(v.kept);
      chip.dataset.current = String(v.current);
      chip.dataset.ink = colors ? colors.ink : "";
      chip.style.background = colors ? css(colors.background) : "";
      const rank = v.rank >= 0 ? `rank ${v.rank + 1} of ${state.nRegions}` : "not placed yet";
      const value = Number.isNaN(v.value) ? "" : `, value ${v.value.toFixed(2)}`;
      chip.title = `\u201c${spans.spans[i].text}\u201d: ${rank}${value}${v.kept ? ", in the top set" : ""}`;
    });
  }

  return { el, update };
}

/** The (image, prompt, prior) shares of the focused word, as one bar and a line of text. */
export function createSources() {
  const bar = h("div", { class: "ew-sources-bar" });
  const text = h("div", { class: "ew-reliance-text" });
  const el = h(
    "div",
    { class: "ew-sources", dataset: { role: "source-reliance", ready: "false" } },
    h("div", { class: "ew-panel-title" }, "Image, prompt or prior"),
    bar,
    text,
  );
  const parts = [
    ["image", RELIANCE_COLORS.visual],
    ["prompt", PROMPT_COLOR],
    ["prior", RELIANCE_COLORS.prior],
  ];
  let lastKey = null;

  /** raw: the result's source_reliance; focus: token indices (null: every target). */
  function update({ raw, focus, tokens }) {
    const key = [raw, focus?.join(","), tokens];
    if (lastKey && key.every((v, i) => v === lastKey[i])) return;
    lastKey = key;
    const shares = sourceShares(raw, focus);
    el.hidden = !raw;
    el.dataset.ready = shares ? "true" : "false";
    if (!shares) {
      bar.replaceChildren();
      text.textContent = raw ? "not measured for this word" : "";
      return;
    }
    bar.replaceChildren(
      ...parts.map(([name, color]) =>
        h("span", { class: "ew-sources-part", dataset: { source: name }, title: `${name} ${percent(shares[name])}`, style: { width: `${100 * shares[name]}%`, background: css(color) } }),
      ),
    );
    const word = focus && focus.length ? `\u201c${focus.map((i) => tokens[i] ?? "").join("").trim()}\u201d` : "every explained token (mean)";
    text.textContent = `${word}: ${parts.map(([name]) => `${name} ${percent(shares[name])}`).join(" \u00b7 ")}`;
  }

  return { el, update };
}

function percent(v) {
  return `${Math.round(100 * v)}%`;
}
