// Status line, step counter, progress bar and the error box.
import { h } from "../dom.js";

export function createStatus() {
  const text = h("span", { class: "ew-status-text", dataset: { role: "status" } });
  const counter = h("span", { class: "ew-counter", dataset: { role: "step-counter" } });
  const fill = h("div", { class: "ew-progress-fill" });
  const el = h(
    "div",
    { class: "ew-status" },
    h("span", { class: "ew-dot" }),
    text,
    counter,
    h("div", { class: "ew-progress", role: "progressbar" }, fill),
  );

  function update({ parts, stepsDone, totalSteps }) {
    text.textContent = parts.join(" · ");
    counter.dataset.steps = String(stepsDone);
    counter.dataset.total = String(totalSteps);
    counter.textContent = totalSteps > 0 ? `${stepsDone} / ${totalSteps}` : "";
    const share = totalSteps > 0 ? Math.min(1, stepsDone / totalSteps) : 0;
    fill.style.width = `${(100 * share).toFixed(1)}%`;
  }

  return { el, update };
}

export function createErrorBox({ onDismiss }) {
  const message = h("pre", { class: "ew-error-text" });
  const el = h(
    "div",
    { class: "ew-error", dataset: { role: "error" }, role: "alert", hidden: true },
    message,
    h("button", { type: "button", class: "ew-button ew-dismiss", onclick: onDismiss, title: "hide this message" }, "Dismiss"),
  );
  function update({ error }) {
    el.hidden = !error;
    message.textContent = error || "";
  }
  return { el, update };
}
