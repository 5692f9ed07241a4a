// How strongly the heat map covers the image: 0 shows the image alone, 100% the most
// important regions in solid colour.
import { h } from "../dom.js";

export function createOpacity({ initial, onInput }) {
  const input = h("input", {
    type: "range",
    min: "0",
    max: "100",
    step: "5",
    value: String(Math.round(100 * initial)),
    dataset: { role: "opacity" },
    "aria-label": "heat map opacity",
    oninput: (event) => onInput(Number(event.target.value) / 100),
  });
  const label = h("span", { class: "ew-slider-label" });
  const el = h("label", { class: "ew-slider ew-opacity", title: "how much the heat map covers the image" }, "Map opacity", input, label);

  function update({ opacity, enabled }) {
    input.value = String(Math.round(100 * opacity));
    input.disabled = !enabled;
    label.textContent = `${Math.round(100 * opacity)}%`;
  }

  return { el, update };
}
