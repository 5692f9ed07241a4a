// The ranking slider: how many top regions the kept / removed views and the curves mark.
import { h } from "../dom.js";

export function createSlider({ onInput }) {
  const input = h("input", {
    type: "range",
    min: "0",
    max: "0",
    step: "1",
    value: "0",
    dataset: { role: "slider" },
    "aria-label": "number of top regions",
    oninput: (event) => onInput(Number(event.target.value)),
  });
  const label = h("span", { class: "ew-slider-label" });
  const el = h("div", { class: "ew-slider" }, input, label);

  /** textOnly: a text-only model's view, whose regions are the prompt's spans alone. */
  function update({ k, nRegions, area, enabled, textOnly = false }) {
    input.max = String(nRegions);
    input.value = String(k);
    input.disabled = !enabled;
    const [noun, whole] = textOnly ? ["spans", "the prompt"] : ["regions", "the image"];
    const share = Number.isFinite(area) ? ` · ${Math.round(100 * area)}% of ${whole}` : "";
    label.textContent = nRegions > 0 ? `top ${k} of ${nRegions} ${noun}${share}` : `no ${noun} yet`;
  }

  return { el, update };
}
