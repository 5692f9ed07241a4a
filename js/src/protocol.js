// Names and layouts shared with eagle_widget/wire.py. Change both sides together.

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
export function stepRecordBytes(nTargets) {
  return STEP_HEADER_BYTES + 4 * nTargets;
}
