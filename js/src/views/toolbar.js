// Buttons: explain the whole sentence, stop, map mode, region boundaries, exports.
import { h } from "../dom.js";
import { MAP_MODES } from "../overlay.js";

const MODE_LABELS = { focus: "Top regions", heat: "Heat map", kept: "Kept", removed: "Removed", diagnose: "Diagnosis" };
const MODE_HINTS = {
  focus: "the top-k regions in the image's own colours, outlined; the rest dimmed",
  heat: "colour each region by how much it raises the target's score",
  kept: "show only the top-k regions (the insertion image)",
  removed: "fill the top-k regions (the deletion image)",
  diagnose: "the regions that drive the wrong answer (1 − the correct answer's map); the removed ones outlined",
};

export function createToolbar(actions) {
  const button = (role, label, title, onclick) =>
    h("button", { type: "button", class: "ew-button", dataset: { role }, title, onclick }, label);
  const explain = button("explain-sentence", "Explain sentence", "explain every token of the caption", actions.explainSentence);
  const stop = button("stop", "Stop", "cancel the running search", actions.stop);
  const diagnose = button("diagnose", "Diagnose", "", actions.diagnose);
  const modes = MAP_MODES.map((mode) =>
    h(
      "button",
      { type: "button", class: "ew-seg", dataset: { mode }, title: MODE_HINTS[mode], onclick: () => actions.setMode(mode) },
      MODE_LABELS[mode],
    ),
  );
  const boundaries = h("input", {
    type: "checkbox",
    dataset: { role: "boundaries" },
    onchange: (event) => actions.setBoundaries(event.target.checked),
  });
  const png = button("export-png", "PNG", "save the current view as a PNG image", actions.exportPng);
  const json = button("export-json", "JSON", "save the result as JSON (from the kernel)", actions.exportJson);
  const modeGroup = h("div", { class: "ew-segmented", role: "group", "aria-label": "map", dataset: { role: "map-mode" } }, modes);
  const regions = h("label", { class: "ew-check", title: "draw the region boundaries" }, boundaries, "Regions");
  const el = h(
    "div",
    { class: "ew-toolbar" },
    explain,
    diagnose,
    stop,
    modeGroup,
    regions,
    h("span", { class: "ew-spacer" }),
    png,
    json,
  );

  /** canDiagnose: a finished diagnosis exists; its mode button shows only then.
   * diagnoseAs: the correct answer a diagnosis would explain ("no" for a "yes"), or null:
   * the Diagnose button shows only for a yes/no answer of a widget with a model. It asks what
   * makes the model say that answer (a counterfactual: no one said which answer is right).
   * diagnosisWords: diagnosisWords(...) of the diagnosis shown (its mode button's name).
   * offersSentence: "Explain sentence" can do something (a model, or a saved result that
   * holds every token's curves); without it the button is hidden.
   * hasImage: false for a text-only model's view: no map, so no map modes or boundaries. */
  function update({ busy, canExplain, offersSentence = true, mode, hasImage = true, boundariesOn, canExportJson, canExportPng, canDiagnose = false, diagnoseAs = null, diagnosisWords = null }) {
    explain.hidden = !offersSentence;
    explain.disabled = !canExplain || !offersSentence;
    diagnose.hidden = diagnoseAs === null;
    diagnose.disabled = !canExplain;
    diagnose.title = diagnoseAs === null ? "" : `what makes it say \u201c${diagnoseAs}\u201d: explain \u201c${diagnoseAs}\u201d as a counterfactual target, find the regions that hold up the given answer and remove them until the answer flips`;
    stop.disabled = !busy;
    modeGroup.hidden = regions.hidden = !hasImage;
    for (const b of modes) {
      b.setAttribute("aria-pressed", String(b.dataset.mode === mode));
      if (b.dataset.mode !== "diagnose") continue;
      b.hidden = !canDiagnose;
      if (diagnosisWords) (b.textContent = diagnosisWords.mode), (b.title = diagnosisWords.modeHint);
    }
    boundaries.checked = boundariesOn;
    json.disabled = !canExportJson;
    png.disabled = !canExportPng;
  }

  return { el, update };
}
