// @ts-check
// Requests to the kernel that expect a reply: {type, id} out, {type: "reply", id, ok, error?}
// back with the payload in buffers (keyed by id, with a timeout, as quak does).
import { MSG } from "./protocol.js";

/** A request/reply channel over `model.send`; feed every custom message to `receive`. */
export function createRequests(model) {
  let lastId = 0;
  const pending = new Map();

  /** Send `{type, id}`; resolves to [msg, buffers] of the reply, rejects on an error reply or timeout. */
  function ask(type, timeoutMs = 60_000) {
    const id = ++lastId;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error("no answer from the kernel (is it running?)"));
      }, timeoutMs);
      pending.set(id, (msg, buffers) => {
        clearTimeout(timer);
        if (msg.ok) resolve([msg, buffers]);
        else reject(new Error(msg.error || "the kernel could not answer"));
      });
      model.send({ type, id });
    });
  }

  /** Settle the request a reply answers; false when `msg` is no reply to a pending request. */
  function receive(msg, buffers) {
    if (msg?.type !== MSG.REPLY || !pending.has(msg.id)) return false;
    pending.get(msg.id)(msg, buffers);
    pending.delete(msg.id);
    return true;
  }

  return { ask, receive };
}
