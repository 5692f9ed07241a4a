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

  function update({ k, nRegions, area, enabled }) {
    input.max = String(nRegions);
    input.value = String(k);
    input.disabled = !enabled;
    const share = Number.isFinite(area) ? ` · ${Math.round(100 * area)}% of the image` : "";
    label.textContent = nRegions > 0 ? `top ${k} of ${nRegions} regions${share}` : "no regions yet";
  }

  return { el, update };
}
