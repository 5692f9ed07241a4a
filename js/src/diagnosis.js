// @ts-check
// The diagnosis of a wrong answer (method.md section 7) as the views need it: the
// `diagnosis` trait read and checked, the map of the regions that drive the hallucination,
// and the removed regions as flags. Pure functions (mirrored in eagle_widget/wire.py,
// diagnosis_state).
import { rankValues } from "./state.js";
/** @typedef {import("./protocol.js").DiagnosisTrait} DiagnosisTrait */

/**
 * The `diagnosis` trait as {run, complete, correct, counterfactual, original, revised, corrected, removedRegions,
 * removedArea, maxArea, points: [{area, p}], cut: {index, area, p} | null}, or null when
 * there is none. points start at (0, p_start), nothing removed; points[i + 1] is the
 * removed area and P(correct) after the i + 1 regions ranked last were filled; `cut` is the
 * point of the first cut whose answer starts with the correct token.
 * @param {DiagnosisTrait | null | undefined} raw
 */
export function readDiagnosis(raw) {
  if (!raw || raw.correct === undefined) return null;
  const base = {
    run: raw.run ?? null,
    complete: Boolean(raw.complete),
    correct: String(raw.correct),
    counterfactual: Boolean(raw.counterfactual),
    original: raw.original ?? "",
    maxArea: raw.max_area ?? null,
  };
  if (!base.complete) return { ...base, revised: null, corrected: false, removedRegions: [], removedArea: null, points: [], cut: null };
  const areas = raw.areas ?? [];
  const probs = raw.p_correct ?? [];
  if (areas.length !== probs.length) {
    throw new RangeError(`diagnosis has ${areas.length} areas but ${probs.length} probabilities`);
  }
  const points = [{ area: 0, p: raw.p_start ?? Number.NaN }, ...areas.map((area, i) => ({ area, p: probs[i] }))];
  const cutIndex = raw.cut ?? null;
  if (cutIndex !== null && !(Number.isInteger(cutIndex) && cutIndex >= 0 && cutIndex < areas.length)) {
    throw new RangeError(`diagnosis cut ${cutIndex} is outside 0..${areas.length - 1}`);
  }
  return {
    ...base,
    revised: raw.revised ?? null,
    corrected: Boolean(raw.corrected),
    removedRegions: Array.from(raw.removed_regions ?? []),
    removedArea: raw.removed_area ?? null,
    points,
    cut: cutIndex === null ? null : { index: cutIndex, ...points[cutIndex + 1] },
  };
}

/**
 * The words every view uses for a diagnosis (`d`: readDiagnosis(...)). Only when the user said
 * which answer is right is it a diagnosis of a wrong answer; the Diagnose button alone (it
 * tries the opposite answer) makes a counterfactual: what makes the model say `correct`.
 */
export function diagnosisWords(d) {
  const word = `\u201c${d?.correct ?? "the correct answer"}\u201d`;
  if (d?.counterfactual) {
    return {
      title: `Counterfactual: what makes it say ${word}`,
      mode: "Counterfactual",
      modeHint: `the regions that hold up the given answer (1 \u2212 the map of ${word}); the removed ones outlined`,
      status: `counterfactual ${word}`,
      before: "answer",
      after: "after the removal",
      drives: `holds up the given answer (1 \u2212 map of ${word})`,
      flips: `makes the answer ${word}`,
      noFlip: `did not make the answer ${word}`,
    };
  }
  return {
    title: `Diagnosis: the correct answer is ${word}`,
    mode: "Diagnosis",
    modeHint: "the regions that drive the wrong answer (1 \u2212 the correct answer's map); the removed ones outlined",
    status: `diagnosis of ${word}`,
    before: "original answer",
    after: "revised answer",
    drives: "drives the wrong answer (1 \u2212 map of the correct one)",
    flips: `turns the answer into ${word}`,
    noFlip: `did not turn the answer into ${word}`,
  };
}

/**
 * Regions that drive the wrong answer: 1 - the correct answer's rank map (the reference's
 * inverted map). NaN until the run is complete.
 */
export function hallucinationValues(state, cols = null) {
  return rankValues(state, cols).map((v) => (Number.isNaN(v) ? Number.NaN : 1 - v));
}

/** 1 for each region of `regions` (ids in 0..nRegions-1), else 0. */
export function regionFlags(nRegions, regions) {
  const flags = new Uint8Array(nRegions);
  for (const r of regions) {
    if (!(Number.isInteger(r) && r >= 0 && r < nRegions)) {
      throw new RangeError(`region ${r} is outside 0..${nRegions - 1}`);
    }
    flags[r] = 1;
  }
  return flags;
}

const OPPOSITE = { yes: "no", no: "yes" };

/**
 * The correct answer to try when an answer opens with "yes" or "no": the other one, in the
 * same capitalisation ("Yes." -> "No"); null for any other answer.
 */
export function oppositeAnswer(tokens) {
  const first = (tokens ?? []).join("").trim().split(/[\s.,!?;:]+/)[0] ?? "";
  const other = OPPOSITE[first.toLowerCase()];
  if (!other) return null;
  if (first === first.toUpperCase() && first.length > 1) return other.toUpperCase();
  return first[0] === first[0].toUpperCase() ? other[0].toUpperCase() + other.slice(1) : other;
}
