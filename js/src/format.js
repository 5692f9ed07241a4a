// Text the views show, as pure functions of numbers and state.
import { diagnosisWords } from "./diagnosis.js";
import { STATUS } from "./protocol.js";
import { estimateRemaining } from "./state.js";

/** A token as a caption chip shows it: no leading space, visible newlines and blanks. */
export function displayToken(text) {
  const shown = String(text).replace(/^[ \t]+/, "").replace(/\r?\n/g, "↵");
  return shown.length ? shown : "␣";
}

/** Seconds as "4.1 s", "2 min 05 s" or "1 h 02 min". */
export function formatSeconds(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return "–";
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) {
    const m = Math.floor(seconds / 60);
    return `${m} min ${String(Math.round(seconds - 60 * m)).padStart(2, "0")} s`;
  }
  const hours = Math.floor(seconds / 3600);
  return `${hours} h ${String(Math.round((seconds - 3600 * hours) / 60)).padStart(2, "0")} min`;
}

/** A probability as "0.42". */
export function formatProb(p) {
  return Number.isFinite(p) ? p.toFixed(2) : "–";
}

const STATUS_WORDS = {
  [STATUS.IDLE]: "ready",
  [STATUS.GENERATING]: "generating the caption",
  [STATUS.EXPLAINING]: "explaining",
  [STATUS.DONE]: "done",
  [STATUS.ERROR]: "error",
  [STATUS.CANCELLED]: "stopped",
};

/**
 * The status line as a list of short parts: what runs, mode and search, steps done / total,
 * images scored, elapsed time and the estimate of time left while explaining. A diagnosis
 * run (state.mode "diagnose") names the correct answer (`diagnosis`: readDiagnosis(...))
 * and, once its search is done, says that the answer is being regenerated.
 */
export function statusParts(status, state, elapsedSeconds, diagnosis = null) {
  const parts = [STATUS_WORDS[status] ?? status];
  if (state.runId < 0 || status === STATUS.GENERATING) return parts;
  const targets = state.nTargets === 1 ? "1 token" : `${state.nTargets} tokens`;
  if (state.mode === "diagnose") parts.push(diagnosisWords(diagnosis).status);
  else parts.push(`${state.mode || "word"} level (${targets})`);
  if (state.search) parts.push(`${state.search} search`);
  parts.push(`step ${Math.min(state.stepsDone, state.totalSteps)}/${state.totalSteps}`);
  parts.push(`${state.imagesScored} images`);
  const elapsed = state.seconds ?? elapsedSeconds;
  if (Number.isFinite(elapsed)) parts.push(formatSeconds(elapsed));
  if (status === STATUS.EXPLAINING && state.complete && diagnosis && !diagnosis.complete) {
    parts.push("removing the regions ranked last and regenerating the answer");
  } else if (status === STATUS.EXPLAINING) {
    const left = estimateRemaining(elapsed, state.stepsDone, state.totalSteps);
    parts.push(left === null ? "estimating time left" : `~${formatSeconds(left)} left`);
  }
  return parts;
}
