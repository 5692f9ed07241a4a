// @ts-check
// A comparison's method switch (eagle_widget/engine/method_comparison.py): the `methods` trait holds
// every method's run and result trait values (wire.methods_state), all over the same regions
// and the same answer. One method is shown at a time: the views read the chosen method's run
// and result instead of the traits' own, so its map, curves and AUCs show on the one colour
// scale every method shares. Without a comparison the trait is {} and nothing changes.
import { h } from "./dom.js";

/**
 * @typedef {object} MethodEntry
 * @property {import("./protocol.js").RunTrait} run
 * @property {import("./protocol.js").ResultTrait} result
 *
 * @typedef {object} Methods
 * @property {string[]} names  in the order compared
 * @property {string} active  the one shown first
 * @property {Record<string, MethodEntry>} states
 */

/**
 * The methods trait checked; null for {} (one result). Throws when a named method lacks
 * its run or result.
 * @param {any} raw
 * @returns {Methods | null}
 */
export function readMethods(raw) {
  if (!raw || !Array.isArray(raw.names) || raw.names.length === 0) return null;
  const states = raw.states ?? {};
  for (const name of raw.names) {
    if (!states[name]?.run || !states[name]?.result) throw new Error(`method ${name} has no run or result`);
  }
  const active = raw.names.includes(raw.active) ? raw.active : raw.names[0];
  return { names: raw.names.map(String), active, states };
}

/**
 * The run and result the views read: the chosen method's (the first shown when none was
 * chosen), or the traits' own without a comparison.
 * @param {Methods | null} methods
 * @param {string | null} chosen
 * @param {any} run  the run trait
 * @param {any} result  the result trait
 * @returns {{name: string | null, run: any, result: any}}
 */
export function shownMethod(methods, chosen, run, result) {
  if (!methods) return { name: null, run, result };
  const name = chosen !== null && methods.names.includes(chosen) ? chosen : methods.active;
  return { name, run: methods.states[name].run, result: methods.states[name].result };
}

/**
 * Every method's view of the same targets: `view(run, result)` of each entry (the offline
 * page's stand-in model slices each method's curves for a clicked word this way).
 * @param {Methods} methods
 * @param {(run: any, result: any) => {run: any, result: any}} view
 * @returns {any}  a methods trait value
 */
export function mapMethods(methods, view) {
  const states = Object.fromEntries(methods.names.map((name) => [name, view(methods.states[name].run, methods.states[name].result)]));
  return { names: methods.names, active: methods.active, states };
}

/** The row of method buttons; hidden without a comparison. `onPick(name)` switches. */
export function createMethodSwitch({ onPick }) {
  const group = h("div", { class: "ew-segmented", role: "group", "aria-label": "method", dataset: { role: "methods" } });
  const el = h("div", { class: "ew-methods", hidden: true }, h("span", { class: "ew-methods-label" }, "Method"), group);
  let names = [];

  /** @param {{methods: Methods | null, shown: string | null}} args */
  function update({ methods, shown }) {
    el.hidden = !methods;
    const wanted = methods ? methods.names : [];
    if (wanted.join("\u0000") !== names.join("\u0000")) {
      names = wanted;
      group.replaceChildren(
        ...names.map((name) =>
          h("button", { type: "button", class: "ew-seg", dataset: { method: name }, title: `show ${name}'s ranking of the same regions`, onclick: () => onPick(name) }, name),
        ),
      );
    }
    for (const button of group.children) {
      button.setAttribute("aria-pressed", String(/** @type {HTMLElement} */ (button).dataset.method === shown));
    }
  }
  return { el, update };
}
