// The controller of one view: reads traits, folds streamed steps into the state,
// keeps the view-only choices (map mode, slider, hover) and redraws the views.
// It needs only get / on / off / send of the model, so any small stand-in model that
// serves the traits of a finished result (e.g. an offline HTML page) can drive it.
import { decodeLabels, decodeResult, decodeStep, toBytes } from "./codecs.js";
import { diagnosisWords, oppositeAnswer, readDiagnosis } from "./diagnosis.js";
import { h } from "./dom.js";
import { captionText, composeExport, exportJson, exportPng } from "./export.js";
import { statusParts } from "./format.js";
import { createFrames, readFrames } from "./frames.js";
import { containKeys } from "./keys.js";
import { createMethodSwitch, readMethods, shownMethod } from "./methods.js";
import { offerOf } from "./offer.js";
import { DEFAULT_MODE, DEFAULT_OPACITY } from "./overlay.js";
import { BUSY, MSG, STATUS } from "./protocol.js";
import { applyResult, applyStep, emptyState, placedCount, setAnchors, startRun, targetColumns } from "./state.js";
import { createRequests } from "./requests.js";
import { fitToSurface } from "./surface.js";
import { readThemeColors } from "./theme.js";
import { readSpans } from "./chips.js";
import { createCaption } from "./views/caption.js";
import { createPromptChips, createSources } from "./views/chips.js";
import { createCurves } from "./views/curves.js";
import { createDiagnosis } from "./views/diagnosis.js";
import { createMask } from "./views/mask.js";
import { createOpacity } from "./views/opacity.js";
import { createReliance } from "./views/reliance.js";
import { createSlider } from "./views/slider.js";
import { createErrorBox, createStatus } from "./views/status.js";
import { createToolbar } from "./views/toolbar.js";

// every synced trait of EagleWidget (widget.py owns the list; tests/test_widget.py checks this)
const TRAITS = [
  "status",
  "error_message",
  "prompt",
  "tokens",
  "words",
  "reliance",
  "selection",
  "run",
  "result",
  "labels",
  "labels_shape",
  "n_regions",
  "prompt_spans",
  "image_png",
  "has_image",
  "fill_png",
  "diagnosis",
  "has_model",
  "frames",
  "methods",
];

const now = () => (globalThis.performance ? performance.now() : Date.now());

/** Build the widget inside `el`; returns a cleanup function. */
export function mount(model, el) {
  // frame: a clip's view of its strip, {current, zoomed} (src/frames.js)
  const ui = { frame: { current: 0, zoomed: false }, mode: DEFAULT_MODE, boundaries: false, k: null, hover: null, pending: null, errorHidden: false, note: "", opacity: DEFAULT_OPACITY };
  let state = emptyState();
  let diagnosis = null; // readDiagnosis of the trait
  let diagnosisSeen = null; // the finished diagnosis the map last switched to
  let labels = null;
  let labelShape = null;
  let spans = null; // readSpans of the prompt_spans trait
  let methods = null; // readMethods of the methods trait: a comparison's every method
  let method = null; // the method shown (null: the comparison's first)
  let runStartedAt = null;
  let colors = null;
  let fitted = false; // the palette fits the surface under the widget (needs it attached)
  let sideWidth = 320;
  let frame = null;
  const requests = createRequests(model);

  const root = h("div", { class: "eagle-widget", dataset: { status: model.get("status") ?? STATUS.IDLE } });
  const status = createStatus();
  const toolbar = createToolbar({
    explainSentence: () => request(null),
    stop: () => model.send({ type: MSG.STOP }),
    diagnose: () => {
      const correct = oppositeAnswer(model.get("tokens"));
      // the widget does not know which answer is right: it asks what makes it say the other
      if (correct !== null) model.send({ type: MSG.DIAGNOSE, correct, counterfactual: true });
    },
    setMode: (mode) => ((ui.mode = mode), schedule()),
    setBoundaries: (on) => ((ui.boundaries = on), schedule()),
    exportPng: () => savePng(),
    exportJson: () => exportJson(requests.ask, setNote),
  });
  const mask = createMask({ onReady: () => schedule() });
  const frames = createFrames({ target: mask.canvas, keyRoot: mask.stage, onChange: (view) => ((ui.frame = view), schedule()) });
  mask.stage.append(frames.el);
  const methodSwitch = createMethodSwitch({ onPick: (name) => ((method = name), rebuild(), schedule()) });
  const slider = createSlider({ onInput: (k) => ((ui.k = k), schedule()) });
  const opacity = createOpacity({ initial: ui.opacity, onInput: (v) => ((ui.opacity = v), schedule()) });
  const curves = createCurves();
  const diagnosisPanel = createDiagnosis();
  const reliance = createReliance();
  const caption = createCaption({
    onPick: (indices, additive) => pick(indices, additive),
    onHover: (indices) => ((ui.hover = indices), schedule()),
  });
  const errorBox = createErrorBox({ onDismiss: () => ((ui.errorHidden = true), schedule()) });
  const prompt = h("div", { class: "ew-prompt" });
  const chips = createPromptChips(); // the prompt beside the map, its spans as chips
  // a text-only model's view (has_image false): a line in place of the map
  const noImage = h("div", { class: "ew-no-image", dataset: { role: "no-image" }, hidden: true }, "Text only: the model read no image; its prompt's spans are ranked.");
  const sources = createSources();
  const note = h("div", { class: "ew-note", role: "status" });
  const hintLine = h("div", { class: "ew-hint", dataset: { role: "hint" } });
  const side = h("div", { class: "ew-side" }, diagnosisPanel.el, curves.el, reliance.el, sources.el);
  root.append(
    h("div", { class: "ew-head" }, h("span", { class: "ew-title" }, "EAGLE"), status.el),
    toolbar.el,
    methodSwitch.el,
    errorBox.el,
    h("div", { class: "ew-body" }, h("div", { class: "ew-main" }, mask.el, noImage, chips.el, slider.el, opacity.el), side),
    h("div", { class: "ew-caption-box" }, prompt, caption.el, hintLine),
    note,
  );
  el.append(root);
  const releaseKeys = containKeys(root);

  // ---- state from traits ----------------------------------------------------------
  function loadLabels() {
    const shape = model.get("labels_shape");
    const data = model.get("labels");
    labels = data && shape && shape.length === 2 && toBytes(data).byteLength ? decodeLabels(data, shape) : null;
    labelShape = labels ? shape : null;
  }

  function loadSpans() {
    try {
      spans = readSpans(model.get("prompt_spans"));
    } catch (error) {
      spans = null;
      console.error("[eagle-widget] could not read the prompt spans", error);
    }
  }

  function loadMethods() {
    try {
      methods = readMethods(model.get("methods"));
    } catch (error) {
      methods = null;
      console.error("[eagle-widget] could not read the methods", error);
    }
  }

  function rebuild() {
    // a comparison: the chosen method's run and result (src/methods.js)
    const shown = shownMethod(methods, method, model.get("run") ?? {}, model.get("result"));
    const run = shown.run ?? {};
    const n = model.get("n_regions") ?? 0;
    state = run.id === undefined || run.id < 0 ? emptyState() : startRun(run, n);
    const result = decodeResult(shown.result);
    if (result && result.run === state.runId) state = applyResult(state, result);
  }

  function onRun() {
    const run = model.get("run") ?? {};
    if (run.id !== state.runId) {
      rebuild();
      ui.k = null;
      ui.pending = null;
      ui.errorHidden = false;
      runStartedAt = now();
    } else if (run.p_full && run.p_blank && !state.pFull) {
      state = setAnchors(state, run.p_full, run.p_blank);
    }
    schedule();
  }

  function onResult() {
    rebuild();
    schedule();
  }

  function loadDiagnosis() {
    try {
      diagnosis = readDiagnosis(model.get("diagnosis"));
    } catch (error) {
      diagnosis = null;
      console.error("[eagle-widget] could not read the diagnosis", error);
    }
  }

  function onMessage(msg, buffers) {
    if (msg?.type === MSG.STEP) {
      if (msg.run !== state.runId || !buffers?.length) return;
      state = applyStep(state, decodeStep(buffers[0]));
      schedule();
    } else if (msg?.type === MSG.NOTE && typeof msg.text === "string") {
      setNote(msg.text);
    } else {
      requests.receive(msg, buffers);
    }
  }

  const onStatus = () => {
    const s = model.get("status");
    if (s === STATUS.EXPLAINING && runStartedAt === null) runStartedAt = now();
    if (s === STATUS.ERROR) ui.errorHidden = false;
    schedule();
  };
  const onLabels = () => (loadLabels(), schedule());
  const handlers = {
    "change:diagnosis": () => (loadDiagnosis(), schedule()),
    "change:methods": () => (loadMethods(), rebuild(), schedule()),
    "change:prompt_spans": () => (loadSpans(), schedule()),
    "change:run": onRun,
    "change:result": onResult,
    "change:labels": onLabels,
    "change:labels_shape": onLabels,
    "change:status": onStatus,
    "change:frames": () => ((ui.frame = { current: 0, zoomed: false }), schedule()),
    "msg:custom": onMessage,
  };
  for (const name of TRAITS) if (!handlers[`change:${name}`]) handlers[`change:${name}`] = () => schedule();
  for (const [event, fn] of Object.entries(handlers)) model.on(event, fn);

  // ---- actions ---------------------------------------------------------------------
  function request(targets) {
    ui.pending = targets ?? (model.get("tokens") ?? []).map((_, i) => i);
    model.send({ type: MSG.EXPLAIN, targets });
    schedule();
  }

  function pick(indices, additive) {
    if (model.get("status") === STATUS.GENERATING) return;
    const offer = offerOf({ hasModel: model.get("has_model"), tokens: model.get("tokens"), run: model.get("run") });
    if (!offer.clickable(indices)) return; // a saved result that does not hold the word
    let next = indices;
    if (additive) {
      const current = new Set(ui.pending ?? model.get("selection") ?? []);
      const allIn = indices.every((i) => current.has(i));
      for (const i of indices) allIn ? current.delete(i) : current.add(i);
      next = [...current].sort((a, b) => a - b);
      if (next.length === 0) return;
    }
    request(next);
  }

  function savePng() {
    const legend = (ui.mode === "heat" || ui.mode === "diagnose") && state.nRegions > 0;
    const canvas = composeExport({
      mapCanvas: mask.canvas,
      curvesCanvas: curves.canvas,
      lines: [
        captionText(model.get("tokens"), model.get("selection")),
        methods ? `method: ${shownMethod(methods, method, null, null).name}` : "",
        status.el.querySelector("[data-role=status]").textContent,
        state.aucs
          ? `insertion AUC ${state.aucs.insertion.toFixed(3)} (solid) · deletion AUC ${state.aucs.deletion.toFixed(3)} (dashed)`
          : "",
      ],
      legend: legend ? (ui.mode === "diagnose" ? diagnosisWords(diagnosis).drives : "gain of the region") : null,
      colors,
    });
    exportPng(canvas, setNote);
  }

  function setNote(text) {
    ui.note = text;
    schedule();
    setTimeout(() => {
      if (ui.note === text) ((ui.note = ""), schedule());
    }, 6000);
  }

  // ---- drawing ---------------------------------------------------------------------
  function schedule() {
    if (frame !== null) return;
    const run = () => {
      frame = null;
      render();
    };
    frame = globalThis.requestAnimationFrame ? requestAnimationFrame(run) : setTimeout(run, 16);
  }

  function effectiveK() {
    const N = state.nRegions;
    if (ui.k !== null) return Math.min(ui.k, N);
    if (state.complete) return Math.ceil(N / 4);
    let k = 0;
    while (k < N && state.order[k] >= 0) k++;
    return k;
  }

  function render() {
    const s = model.get("status") ?? STATUS.IDLE;
    const busy = BUSY.has(s);
    root.dataset.status = s;
    if (colors === null || !fitted) {
      fitted = fitToSurface(root) !== null;
      colors = readThemeColors(root);
      if (!fitted) setTimeout(schedule, 250); // not attached yet (a host may render late)
    }
    const tokens = model.get("tokens") ?? [];
    const words = model.get("words") ?? [];
    const rel = model.get("reliance") ?? {};
    const selection = model.get("selection") ?? [];
    const elapsed = busy && runStartedAt !== null ? (now() - runStartedAt) / 1000 : null;
    const k = effectiveK();
    const hasImage = model.get("has_image") !== false; // false: a text-only model's view
    const offer = offerOf({ hasModel: model.get("has_model"), tokens, run: model.get("run"), hasImage });
    let cols = ui.hover && state.nTargets ? targetColumns(state, ui.hover) : null;
    let hint = null;
    if (cols && cols.length === 0) {
      cols = null;
      const word = ui.hover.map((i) => tokens[i] ?? "").join("").trim();
      hint = offer.notShown(word, ui.hover);
    }

    // a finished diagnosis shows its map once (the user may switch away); without one the
    // diagnosis mode falls back to the heat map
    const canDiagnose = Boolean(diagnosis?.complete && state.complete);
    const diagnosisKey = canDiagnose ? `${diagnosis.run}:${diagnosis.correct}` : null;
    if (diagnosisKey !== null && diagnosisKey !== diagnosisSeen) ui.mode = "diagnose";
    if (diagnosisKey !== null) diagnosisSeen = diagnosisKey;
    const mode = ui.mode === "diagnose" && !canDiagnose ? "heat" : ui.mode;

    status.update({
      parts: statusParts(s, state, elapsed, diagnosis),
      stepsDone: state.stepsDone,
      totalSteps: state.runId >= 0 ? state.totalSteps : 0,
    });
    toolbar.update({
      busy,
      canExplain: tokens.length > 0 && s !== STATUS.GENERATING,
      offersSentence: offer.sentence,
      mode,
      hasImage,
      boundariesOn: ui.boundaries,
      canExportJson: state.complete,
      // the PNG export holds the map and the curves: nothing of a view without an image
      canExportPng: hasImage && (state.runId >= 0 || model.get("image_png") !== undefined),
      canDiagnose,
      // a diagnosis removes image regions
      diagnoseAs: model.get("has_model") && hasImage ? oppositeAnswer(tokens) : null,
      diagnosisWords: diagnosis ? diagnosisWords(diagnosis) : null,
    });
    const errorText = s === STATUS.ERROR && !ui.errorHidden ? model.get("error_message") || "unknown error" : "";
    errorBox.update({ error: errorText });
    methodSwitch.update({ methods, shown: shownMethod(methods, method, null, null).name });
    const clip = readFrames(model.get("frames"));
    frames.update(model.get("frames"), ui.frame);
    mask.el.hidden = opacity.el.hidden = !hasImage;
    noImage.hidden = hasImage;
    if (hasImage) mask.update({
      crop: clip && ui.frame.zoomed ? { index: ui.frame.current, count: clip.count } : null,
      image: model.get("image_png") ?? null,
      fill: model.get("fill_png") ?? null,
      opacity: ui.opacity,
      state,
      labels,
      labelShape,
      mode,
      k,
      cols,
      outlined: mode === "diagnose" ? diagnosis.removedRegions : null,
      drives: diagnosis ? diagnosisWords(diagnosis).drives : "",
      boundaries: ui.boundaries,
      highlight: s === STATUS.EXPLAINING ? state.lastRegion : -1,
      colors,
      hint,
      idleHint: offer.legend,
    });
    slider.update({ k, nRegions: state.nRegions, area: state.areas[k], enabled: placedCount(state) > 0, textOnly: !hasImage });
    opacity.update({ opacity: ui.opacity, enabled: mode === "heat" || mode === "diagnose" });
    diagnosisPanel.update({ diagnosis, width: sideWidth });
    curves.update({ state, cols, k, colors, width: sideWidth });
    const focus = ui.hover ?? (selection.length ? selection : null);
    reliance.update({ tokens, reliance: rel, focus, textOnly: !hasImage });
    sources.update({ raw: model.get("result")?.source_reliance ?? null, focus, tokens });
    const highlight = s === STATUS.EXPLAINING ? state.lastRegion : -1;
    // the spans of the run on screen (their ids follow its image regions)
    const runSpans = spans && spans.nImage + spans.spans.length === state.nRegions ? spans : null;
    chips.update({ prompt: model.get("prompt") ?? "", spans: runSpans, state, mode, k, cols, highlight });
    // with chips beside the map, the caption box does not repeat the prompt
    prompt.textContent = model.get("prompt") && !runSpans ? `Prompt: ${model.get("prompt")}` : "";
    caption.update({ tokens, words, reliance: rel, selected: selection, pending: ui.pending, hover: ui.hover, status: s, clickable: offer.clickable });
    hintLine.textContent = offer.hint;
    note.textContent = ui.note;
  }

  // ---- environment -----------------------------------------------------------------
  const ticker = setInterval(() => {
    if (BUSY.has(model.get("status"))) schedule();
  }, 1000);
  // a theme change: the host's variables may land a moment after its classes, so refit twice
  const refit = () => ((colors = null), schedule());
  const themeObserver = new MutationObserver(() => {
    refit();
    setTimeout(refit, 300);
  });
  themeObserver.observe(document.body, { attributes: true, attributeFilter: ["class", "style", "data-jp-theme-light", "data-jp-theme-name"] });
  themeObserver.observe(document.documentElement, { attributes: true, attributeFilter: ["class", "style"] });
  const resizeObserver = globalThis.ResizeObserver
    ? new ResizeObserver(() => {
        const w = Math.floor(side.clientWidth);
        if (w > 0 && Math.abs(w - sideWidth) > 4) ((sideWidth = w), schedule());
      })
    : null;
  resizeObserver?.observe(side);

  loadLabels();
  loadSpans();
  loadDiagnosis();
  loadMethods();
  rebuild();
  if (BUSY.has(model.get("status"))) runStartedAt = now();
  render();

  return () => {
    clearInterval(ticker);
    themeObserver.disconnect();
    releaseKeys();
    frames.destroy();
    resizeObserver?.disconnect();
    if (frame !== null) (globalThis.cancelAnimationFrame ?? clearTimeout)(frame);
    for (const [event, fn] of Object.entries(handlers)) model.off(event, fn);
    root.remove();
  };
}
