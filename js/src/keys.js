// Keys that the widget's own controls handle stay in the widget. Hosts bind the same keys
// to notebook commands: JupyterLab and Notebook 7 (Lumino, listening on the document)
// move the cell selection on ArrowUp / ArrowDown and collapse headings on ArrowLeft;
// VS Code's output webview forwards keydown events from its window to the editor.

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
  return Boolean(target?.closest?.("input, button, [role=button]"));
}

/** Stop the widget's control keys at `root`; returns the function that undoes it. */
export function containKeys(root) {
  const onKey = (event) => {
    if (isControlKey(event)) event.stopPropagation();
  };
  root.addEventListener("keydown", onKey);
  root.addEventListener("keyup", onKey);
  return () => {
    root.removeEventListener("keydown", onKey);
    root.removeEventListener("keyup", onKey);
  };
}
