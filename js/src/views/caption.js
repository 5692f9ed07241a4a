// The generated caption as clickable word chips; each token carries its reliance bar.
import { h } from "../dom.js";
import { displayToken, formatProb } from "../format.js";

/**
 * words: [[start, stop], ...] token ranges; reliance: {prior: [], visual: []} per token.
 * Callbacks: onPick(tokenIndices, additive) on click (shift adds), onHover(tokenIndices|null).
 * clickable(tokenIndices): whether a word can be picked (a saved result offers only the words
 * it holds; the others are plain text with a calm title, hover still previews).
 */
export function createCaption({ onPick, onHover }) {
  const el = h("div", { class: "ew-caption", dataset: { role: "caption" } });
  let key = null;
  let tokenEls = [];
  let wordEls = [];

  function build(tokens, words, reliance, clickable) {
    el.replaceChildren();
    tokenEls = [];
    wordEls = words.map(([start, stop], w) => {
      const indices = Array.from({ length: stop - start }, (_, i) => start + i);
      const tokenSpans = indices.map((t) => {
        const bar = relianceBar(reliance, t);
        const span = h(
          "span",
          { class: "ew-token", dataset: { tokenIndex: String(t) }, title: tokenTitle(tokens[t], t, reliance) },
          h("span", { class: "ew-token-text" }, displayToken(tokens[t])),
          bar,
        );
        tokenEls[t] = span;
        return span;
      });
      const canPick = clickable(indices);
      const hover = {
        onmouseenter: () => onHover(indices),
        onmouseleave: () => onHover(null),
      };
      const word = canPick
        ? h(
            "span",
            {
              class: "ew-word",
              role: "button",
              tabindex: "0",
              dataset: { wordIndex: String(w) },
              onclick: (event) => onPick(indices, event.shiftKey),
              onkeydown: (event) => {
                if (event.key === "Enter" || event.key === " ") {
                  event.preventDefault();
                  onPick(indices, event.shiftKey);
                }
              },
              ...hover,
              onfocus: () => onHover(indices),
              onblur: () => onHover(null),
            },
            tokenSpans,
          )
        : h(
            "span",
            {
              class: "ew-word is-unexplained",
              dataset: { wordIndex: String(w), unexplained: "true" },
              title: "not explained in this saved result",
              ...hover,
            },
            tokenSpans,
          );
      return word;
    });
    el.append(...wordEls);
  }

  function update(scene) {
    const { tokens, words, reliance, selected, pending, hover, status, clickable = () => true } = scene;
    const offered = words.map(([start, stop]) => clickable(Array.from({ length: stop - start }, (_, i) => start + i)));
    const nextKey = JSON.stringify([tokens, words, reliance, offered]);
    if (nextKey !== key) {
      key = nextKey;
      if (tokens.length === 0) {
        el.replaceChildren(
          h("span", { class: "ew-placeholder" }, status === "generating" ? "Generating the caption…" : "No caption yet."),
        );
        tokenEls = [];
        wordEls = [];
      } else {
        build(tokens, words, reliance, clickable);
      }
    }
    const selectedSet = new Set(selected);
    const pendingSet = new Set(pending ?? []);
    const hoverSet = new Set(hover ?? []);
    tokenEls.forEach((span, t) => {
      if (!span) return;
      span.classList.toggle("is-selected", selectedSet.has(t));
      span.classList.toggle("is-pending", pendingSet.has(t));
      span.classList.toggle("is-hover", hoverSet.has(t));
    });
  }

  return { el, update };
}

function tokenTitle(text, index, reliance) {
  const head = `token ${index}: ${JSON.stringify(text)}`;
  if (!reliance?.prior) return head;
  const prior = reliance.prior[index];
  const visual = reliance.visual[index];
  return `${head}\nlanguage prior p(blank image) = ${formatProb(prior)}\nvisual evidence p(full) − p(blank) = ${visual >= 0 ? "+" : ""}${formatProb(visual)}`;
}

/** A thin bar: prior share (blue) then what the image adds (orange); hatched if it lowers p. */
export function relianceBar(reliance, index) {
  const bar = h("span", { class: "ew-bar", dataset: { role: "reliance-bar" } });
  if (!reliance?.prior || !Number.isFinite(reliance.prior[index])) {
    bar.classList.add("is-empty");
    return bar;
  }
  const prior = clamp01(reliance.prior[index]);
  const visual = Math.max(-prior, Math.min(1 - prior, reliance.visual[index]));
  bar.dataset.prior = prior.toFixed(4);
  bar.dataset.visual = visual.toFixed(4);
  const pct = (x) => `${(100 * x).toFixed(1)}%`;
  if (visual >= 0) {
    bar.append(
      h("span", { class: "ew-bar-prior", style: { left: "0", width: pct(prior) } }),
      h("span", { class: "ew-bar-visual", style: { left: pct(prior), width: pct(visual) } }),
    );
  } else {
    bar.append(
      h("span", { class: "ew-bar-prior", style: { left: "0", width: pct(prior + visual) } }),
      h("span", { class: "ew-bar-lost", style: { left: pct(prior + visual), width: pct(-visual) } }),
    );
  }
  return bar;
}

function clamp01(x) {
  return Math.min(1, Math.max(0, x));
}
