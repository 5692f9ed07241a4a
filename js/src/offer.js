// What a view can offer: with a model every word can be explained; a saved result (no
// kernel, no model) can only show the tokens whose curves it holds, so it offers those
// alone and its hints say so (no button or click that ends in an error).

/**
 * hasModel: a model is connected; tokens: the caption's tokens; run: the run trait, whose
 * `explained` (every token the saved result holds; the offline page sets it) or else
 * `targets` are the tokens a model-less view can show; hasImage: false for a text-only
 * model's view, whose words colour the prompt's chips (no map).
 */
export function offerOf({ hasModel, tokens, run, hasImage = true }) {
  const map = hasImage ? "map" : "colours of the prompt";
  const n = tokens?.length ?? 0;
  const explained = new Set(hasModel ? [] : (run?.explained ?? run?.targets ?? []));
  const holds = (i) => hasModel || explained.has(i);
  const all = n > 0 && Array.from({ length: n }, (_, i) => i).every(holds);
  return {
    saved: !hasModel,
    sentence: all,
    /** a word (its token indices) can be clicked: one of its tokens is held */
    clickable: (indices) => indices.some(holds),
    hint: hasModel
      ? `Click a word to explain it, shift-click to add words, hover to preview a word's own ${map}.`
      : `Click an explained word to see its ${map}, shift-click to add explained words, hover to preview a word's own ${map}.`,
    legend: hasModel ? "Click a word to explain it." : `Click an explained word to see its ${map}.`,
    /** the hover hint of a word that is not a target of the run on screen */
    notShown: (word, indices) =>
      hasModel
        ? `\u201c${word}\u201d is not a target of this run: click it to explain it.`
        : indices.some(holds)
          ? `\u201c${word}\u201d is not shown in this view: click it to see its ${map}.`
          : `\u201c${word}\u201d is not explained in this saved result.`,
  };
}
