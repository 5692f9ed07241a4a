// Keys that the widget's own controls handle stay in the widget. Hosts bind the same keys
// to notebook commands: JupyterLab and Notebook 7 (Lumino) move the cell selection on
// ArrowUp / ArrowDown and fold headings on ArrowLeft; VS Code's output webview forwards
// keydown events from its window to the editor. Lumino listens on the document, in the
// bubbling phase in JupyterLab but in the capture phase in Notebook 7 (before the widget
// sees the key), so a focused control also carries Lumino's data-lm-suppress-shortcuts:
// while it has the focus, host shortcuts wait (click outside to use them).

// data-ew-keys: an element that reads keys of its own (a clip's map, src/frames.js)
const CONTROLS = "input, button, [role=button], [data-ew-keys]";
const SUPPRESS = "data-lm-suppress-shortcuts";

/** Keys a range input, a button or a word chip acts on. */
export const CONTROL_KEYS = Object.freeze([
  "ArrowUp",
  "ArrowDown",
  "ArrowLeft",
  "ArrowRight",
  "Home",
  "End",
  "PageUp",
  "PageDown",
  "Enter",
  " ",
]);

const KEYS = new Set(CONTROL_KEYS);

/** True when `event` is a key for one of the widget's controls (not a host shortcut). */
export function isControlKey(event) {
  if (!KEYS.has(event.key) || event.ctrlKey || event.metaKey || event.altKey) return false;
  if (event.key === "Enter" && event.shiftKey) return false; // Shift+Enter runs the cell
  const target = event.target;
  return Boolean(target?.closest?.(CONTROLS));
}

/** Keep the control keys of the widget at `root` from the host; returns the undo. */
export function containKeys(root) {
  const onKey = (event) => {
    if (isControlKey(event)) event.stopPropagation();
  };
  const onFocus = (event) => {
    if (event.target?.matches?.(CONTROLS)) event.target.setAttribute(SUPPRESS, "true");
  };
  root.addEventListener("keydown", onKey);
  root.addEventListener("keyup", onKey);
  root.addEventListener("focusin", onFocus);
  return () => {
    root.removeEventListener("keydown", onKey);
    root.removeEventListener("keyup", onKey);
    root.removeEventListener("focusin", onFocus);
  };
}
