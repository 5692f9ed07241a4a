// A clip's film strip (eagle_widget/wire.py, strip): the `frames` trait says the strip
// holds `count` frames side by side, each 1/count of its width, left to right in frame
// order. This draws a thin divider between frames and a "Frame i" caption over each, and
// picks one frame to show large: a click on its caption, or Left / Right (Home / End)
// while the image has the focus; Escape or "All frames" returns to the strip. The pure
// parts (which frame a position is in, where captions go, what a key does) are tested in
// js/test/frames.test.js.
import { h } from "./dom.js";

/** The frames trait read: {count, labels, details}, or null for an image (or 1 frame). */
export function readFrames(trait) {
  const count = Number.isInteger(trait?.count) ? trait.count : 0;
  if (count < 2) return null;
  const labels = Array.from({ length: count }, (_, i) => trait.labels?.[i] ?? `Frame ${i + 1}`);
  const details = Array.from({ length: count }, (_, i) => trait.details?.[i] ?? "");
  return { count, labels, details };
}

/** The frame (0..count-1) of strip column `x` of `width` columns. */
export function frameOfX(x, width, count) {
  if (!(width > 0) || count < 1) return 0;
  return Math.min(count - 1, Math.max(0, Math.floor((x * count) / width)));
}

/** The columns [start, end) of frame `index` in a strip `width` columns wide. */
export function frameColumns(index, width, count) {
  return [Math.round((index * width) / count), Math.round(((index + 1) * width) / count)];
}

/** Where the captions go, as percentages of the strip's width: one per frame, in order. */
export function captionLayout(count) {
  return Array.from({ length: count }, (_, index) => ({ index, left: (100 * index) / count, width: 100 / count }));
}

/** The dividers' positions (percent of the width): between frames, none at the edges. */
export function dividerLayout(count) {
  return Array.from({ length: Math.max(0, count - 1) }, (_, i) => (100 * (i + 1)) / count);
}

/** What `key` does to the view {current, zoomed} of `count` frames: the next view, or null
 * when the key is not one of the strip's. Left / Right step to the frame before / after the
 * current one and show it large (they stop at the ends), Home / End the first / last frame,
 * Enter shows the current frame large, Escape returns to the whole strip. */
export function frameKey(key, view, count) {
  const { current, zoomed } = view;
  const show = (i) => ({ current: Math.min(count - 1, Math.max(0, i)), zoomed: true });
  switch (key) {
    case "ArrowRight":
      return show(current + 1);
    case "ArrowLeft":
      return show(current - 1);
    case "Home":
      return show(0);
    case "End":
      return show(count - 1);
    case "Enter":
      return show(current);
    case "Escape":
      return zoomed ? { current, zoomed: false } : null;
    default:
      return null;
  }
}

/** The overlay of captions and dividers over the map; `target` (the map canvas) takes the
 * focus, and the keys are read on `keyRoot` (the canvas and the captions' common parent).
 * `onChange(view)` gets the new {current, zoomed} after a key or a click. */
export function createFrames({ target, keyRoot, onChange }) {
  const el = h("div", { class: "ew-frames", dataset: { role: "frames", frame: "" } });
  let frames = null;
  let view = { current: 0, zoomed: false };
  let lastKey = null;

  const onKey = (event) => {
    if (!frames || event.ctrlKey || event.metaKey || event.altKey || event.shiftKey) return;
    const next = frameKey(event.key, view, frames.count);
    if (next === null) return;
    event.preventDefault();
    event.stopPropagation(); // the strip's keys, not the host's (src/keys.js)
    view = next; // a second key may come before the next redraw
    onChange(next);
  };
  keyRoot.addEventListener("keydown", onKey);

  function update(trait, next) {
    frames = readFrames(trait);
    view = next;
    const key = frames ? `${frames.labels.join("|")}:${frames.details.join("|")}:${view.current}:${view.zoomed}` : "none";
    if (key === lastKey) return;
    lastKey = key;
    el.dataset.frame = frames && view.zoomed ? String(view.current) : "";
    if (!frames) {
      el.replaceChildren();
      target.removeAttribute("tabindex");
      target.removeAttribute("data-ew-keys");
      return;
    }
    target.setAttribute("tabindex", "0");
    target.setAttribute("data-ew-keys", "frames");
    target.setAttribute("aria-keyshortcuts", "ArrowLeft ArrowRight Home End Escape");
    const captions = captionLayout(frames.count).map(({ index, left, width }) => {
      const on = view.zoomed && index === view.current;
      const hidden = view.zoomed && !on;
      return h(
        "button",
        {
          type: "button",
          class: `ew-frame-caption${index === view.current ? " ew-frame-current" : ""}`,
          dataset: { role: "frame-caption", index: String(index) },
          "aria-pressed": on ? "true" : "false",
          title: frames.details[index] ? `${frames.labels[index]}: ${frames.details[index]}` : frames.labels[index],
          // as wide as its text, within its frame: its dark plate covers no more of the frame
          style: view.zoomed ? { left: "0%", width: "auto", display: hidden ? "none" : "" } : { left: `${left}%`, maxWidth: `${width}%` },
          onclick: () => onChange({ current: index, zoomed: true }),
        },
        frames.labels[index],
      );
    });
    const dividers = view.zoomed
      ? []
      : dividerLayout(frames.count).map((left) => h("div", { class: "ew-frame-divider", dataset: { role: "frame-divider" }, style: { left: `${left}%` } }));
    const all = view.zoomed
      ? h("button", { type: "button", class: "ew-frame-all", dataset: { role: "frames-all" }, onclick: () => onChange({ current: view.current, zoomed: false }) }, "All frames")
      : null;
    el.replaceChildren(...dividers, ...captions, ...(all ? [all] : []));
  }

  function destroy() {
    keyRoot.removeEventListener("keydown", onKey);
  }

  return { el, update, destroy };
}
