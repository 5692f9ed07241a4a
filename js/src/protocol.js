// @ts-check
// Names and layouts shared with eagle_widget/wire.py. Change both sides together.
// `npm test` type-checks this file and the modules that read the traits (tsconfig.json).

/**
 * Binary data as a front end hands it over: DataView in Jupyter, Uint8Array in the offline
 * page and the tests.
 * @typedef {DataView | ArrayBuffer | ArrayBufferView | number[]} Binary
 */

/**
 * The `run` trait (wire.run_state): what the current run explains; {id: -1} before any.
 * @typedef {object} RunTrait
 * @property {number} id
 * @property {"sentence" | "word" | "diagnose"} [mode]
 * @property {string} [search]
 * @property {number[]} [targets]  generated-token indices, one curve column each
 * @property {number} [total_steps]
 * @property {number} [lambda1]
 * @property {number} [lambda2]
 * @property {number[]} [p_full]  per target: P with the whole image
 * @property {number[]} [p_blank]  per target: P with the image filled
 */

/**
 * The `result` trait (wire.result_state, or wire.partial_result_state when not complete);
 * {} before any.
 * @typedef {object} ResultTrait
 * @property {number} [run]
 * @property {boolean} [complete]
 * @property {Binary} [steps]  concatenated step records (layout below)
 * @property {Binary} [order]  int32 region ids, most important first
 * @property {Binary} [insertion]  float32 (N + 1) x T, row-major
 * @property {Binary} [deletion]  float32 (N + 1) x T, row-major
 * @property {Binary} [areas]  float32 N + 1
 * @property {number} [insertion_auc]
 * @property {number} [deletion_auc]
 * @property {number} [images_scored]
 * @property {number} [seconds]
 * @property {string} [scoring]  "exact", or "approximate" (a hosted API's top log-probabilities)
 * @property {{targets: number[], shares: (number | null)[][]}} [source_reliance]  with prompt
 *   spans: per explained token its (image, prompt, prior) shares (wire.source_reliance_state)
 */

/**
 * The `prompt_spans` trait (wire.prompt_spans_state): the prompt's spans searched beside the
 * image's regions, ids n_image_regions, n_image_regions + 1, ...; {} for the image alone.
 * @typedef {object} PromptSpansTrait
 * @property {number} [n_image_regions]
 * @property {{text: string, start: number, stop: number, region: number}[]} [spans]
 */

/**
 * The `diagnosis` trait (wire.diagnosis_state); {} when none. While the run streams only
 * run, complete (false), correct, correct_id, counterfactual, original and max_area are set.
 * @typedef {object} DiagnosisTrait
 * @property {number} [run]
 * @property {boolean} [complete]
 * @property {string} [correct]  the answer explained as a counterfactual target
 * @property {number} [correct_id]
 * @property {boolean} [counterfactual]  true: no one said it is right (the Diagnose button)
 * @property {string} [original]  the model's answer
 * @property {string | null} [revised]  the first regenerated answer starting with `correct`
 * @property {boolean} [corrected]
 * @property {number[]} [removed_regions]
 * @property {number | null} [removed_area]
 * @property {number} [max_area]
 * @property {number[]} [areas]  removed area after each cut
 * @property {number[]} [p_correct]  P(correct) after each cut
 * @property {number} [p_start]  P(correct) with nothing removed
 * @property {number | null} [cut]  index of the first cut that flipped the answer
 */

/** Values of the `status` trait, mirrored on the root element as data-status. */
export const STATUS = Object.freeze({
  IDLE: "idle",
  GENERATING: "generating",
  EXPLAINING: "explaining",
  DONE: "done",
  ERROR: "error",
  CANCELLED: "cancelled",
});

/** Statuses in which a worker thread is busy in the kernel. */
export const BUSY = new Set([STATUS.GENERATING, STATUS.EXPLAINING]);

/** `type` field of custom messages. */
export const MSG = Object.freeze({
  STEP: "step", // kernel -> view: one search step, record in buffers[0]
  EXPLAIN: "explain", // view -> kernel: {targets: int[] | null}
  DIAGNOSE: "diagnose", // view -> kernel: {correct: word | token id, max_area?: number, counterfactual?: true}
  STOP: "stop", // view -> kernel
  EXPORT_JSON: "export_json", // view -> kernel: {id}
  REPLY: "reply", // kernel -> view: {id, ok, error?, filename?}, payload in buffers[0]
  NOTE: "note", // kernel -> view: {text}, a request it refused (bad arguments)
  VIEW: "view", // view -> kernel: a live view is drawn, so the kernel leaves its output alone
});

/** Step chains, by their code in a step record. */
export const CHAINS = Object.freeze(["insert", "remove"]);

/**
 * Binary step record, little-endian:
 *   u32 index, u32 region, u32 rank, u8 chain, u8 0, u16 n_targets, u32 images_scored,
 *   f32 insight, f32 necessity, f32 score, f32 area,
 *   u16 probs_insert[n_targets], u16 probs_delete[n_targets]   (probability * 65535)
 * `rank` is the region's place in the final order (0 = most important): the insertion
 * chain fills ranks from the top, the removal chain from the bottom.
 */
export const STEP_HEADER_BYTES = 36;
export const PROB_SCALE = 65535;

/** Size in bytes of one step record with `nTargets` targets. */
/** @param {number} nTargets */
export function stepRecordBytes(nTargets) {
  return STEP_HEADER_BYTES + 4 * nTargets;
}
