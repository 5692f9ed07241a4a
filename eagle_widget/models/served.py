"""Served and hosted models (vLLM, OpenAI-compatible APIs) behind the model protocol.

The official `openai` client does the HTTP (retries with back-off on 429/5xx, timeouts);
vLLM's own fields travel in `extra_body`. A masked image is scored in one of two modes,
chosen once by what the server can do:

- exact: ONE chat request per image and answer sequence. The answer goes in as the final
  assistant message to continue, and the server returns the log-probabilities of the
  prompt's tokens (`prompt_logprobs`), the answer's at the end. A counterfactual id at a
  position is scored as its own sequence (the answer up to there, then that id).
- approximate: one request per image and target position, continuing the answer prefix and
  reading the target among the `top_logprobs` most likely next tokens (0 when absent).

Requests of a batch run concurrently (`concurrency` in flight) and are cached by image
content and request, so a repeated or resumed run does not pay twice.

With `frames_as_images=True` the adapter takes clips (F x H x W x 3) too: a clip's frames
go as F images of the one user message, in frame order, and a masked clip is scored as one
image is (one request per clip, or per clip and position), its masked frames sent the same
way.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import os
import re
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

import numpy as np

from ..engine.images import frame_size, to_rgb_array
from ..engine.protocol import DEFAULT_PROMPT
from ..engine.types import Generation
from .text import decode_tokens

EXACT, APPROXIMATE = "exact", "approximate"
MODES = (EXACT, APPROXIMATE)
TOP_LOGPROBS = 20  # the most OpenAI's API returns per position
ID_PREFIX = "token_id:"  # how vLLM writes a token with return_tokens_as_token_ids
# continue the final assistant message instead of opening a new one (vLLM)
CONTINUE = {"continue_final_message": True, "add_generation_prompt": False}


DEFAULT_CONCURRENCY = 16  # requests in flight to one server


class ServerError(RuntimeError):
    """The server failed or gave an answer the adapter cannot use; names server and field."""


class ImageLimitError(ServerError):
    """The server takes fewer images per prompt than a clip has frames (vLLM's
    --limit-mm-per-prompt); not a sign of a hosted API, so never a reason to fall back."""

    def __init__(self, server: str, limit: int, frames: int):
        self.limit, self.frames = limit, frames
        super().__init__(
            f"{server} takes at most {limit} image(s) per prompt, and this request sends "
            f"{frames} (a clip's frames as images): start vLLM with --limit-mm-per-prompt "
            f"'{{\"image\": {frames}}}' (or more), or sample at most {limit} frames "
            f"(frames={limit})"
        )


# vLLM's refusal of too many images in one request (vllm/multimodal/processing/context.py)
IMAGE_LIMIT = re.compile(r"At most (\d+) image\(s\) may be provided in one (?:prompt|request)")


class RequestBudgetError(ValueError):
    """A run that could make more requests than max_requests allows, refused before any."""

    def __init__(self, requests: int, limit: int):
        self.requests, self.limit = requests, limit
        super().__init__(
            f"this run could make {requests} requests, more than max_requests={limit}: "
            "use fewer regions or targets, or raise max_requests"
        )


class OpenAIModel:
    """A model behind an OpenAI-compatible chat API, explained through the model protocol.

    base_url: the API root, e.g. "http://127.0.0.1:8000/v1"; model: the served model's name.
    mode: "exact", "approximate" or None (probe the server on first use and say which).
    concurrency: requests in flight; timeout (s) and max_retries per request (the client
    backs off on 429 and 5xx); max_requests: refuse a run that could need more requests.
    cache_file: keep answers in this SQLite file too, so that a run resumed by another
    process (e.g. `explain --batch` after a crash) does not pay for them again.

    frames_as_images: take clips (F x H x W x 3, `supports_video` is then True) for a server
    that takes several images per prompt but no video: the F frames go as F image parts of
    the one user message, in frame order, then the prompt. No text label goes between them
    ("Frame 1:" ...): the model gets the user's prompt and nothing else, as it does for one
    image; every multi-image chat template keeps the parts' order (vLLM keeps it whether it
    renders the parts in place or, by default for a template that takes one string, gathers
    the images before the text, where a label would be cut off from its frame); and a label
    would be the adapter's words in one language, in
    tokens a small model (the demo's 27-token vocabulary) may not have. A server's limit on
    images per prompt (vLLM: --limit-mm-per-prompt) is one clear ImageLimitError. Off: a
    clip is refused before any request.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        *,
        mode: str | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        timeout: float = 120.0,
        max_retries: int = 4,
        max_requests: int | None = None,
        batch_size: int | None = None,
        top_logprobs: int = TOP_LOGPROBS,
        cache_file: str | os.PathLike | None = None,
        log: Callable[[str], None] | None = None,
        frames_as_images: bool = False,
    ):
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
        if not isinstance(model, str) or not model.strip():
            raise ValueError(f"model must be the served model's name, got {model!r}")
        if mode not in (None, *MODES):
            raise ValueError(f"mode must be None, 'exact' or 'approximate', got {mode!r}")
        for name, value, least in (
            ("concurrency", concurrency, 1),
            ("max_retries", max_retries, 0),
            ("top_logprobs", top_logprobs, 1),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"{name} must be an int >= {least}, got {value!r}")
        for name, value in (("max_requests", max_requests), ("batch_size", batch_size)):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise ValueError(f"{name} must be a positive int or None, got {value!r}")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        if not isinstance(frames_as_images, bool):
            raise ValueError(f"frames_as_images must be True or False, got {frames_as_images!r}")
        try:
            import openai
        except ImportError as error:
            raise ImportError(
                "served models need the openai client: pip install 'eagle-widget[served]'"
            ) from error
        self._openai = openai
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.client = openai.OpenAI(
            base_url=self.base_url,
            api_key=api_key or os.environ.get("OPENAI_API_KEY") or "none",
            timeout=float(timeout),
            max_retries=max_retries,
        )
        self.mode = mode
        self.concurrency = concurrency
        self.max_requests = max_requests
        self.batch_size = batch_size or 2 * concurrency  # images per engine batch
        self.top_logprobs = top_logprobs
        self.frames_as_images = frames_as_images
        self._log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="eagle-served")
        self._lock = threading.Lock()
        self._cache = _AnswerCache(cache_file, f"{self.base_url} {model}")
        self._texts: dict[tuple[int, ...], str] = {}
        self._token_ids: bool | None = None  # does the server give token ids (vLLM)?
        self._names: dict[str, int] = {}  # token text -> id, for servers without ids
        self.usage = {"requests": 0, "values": 0, "floored": 0}
        self.in_flight = 0
        self.max_in_flight = 0

    @property
    def supports_video(self) -> bool:
        """Whether generate and token_probs take clips (protocol.TakesClips): they do with
        frames_as_images, as several images of one message."""
        return self.frames_as_images

    @property
    def scoring(self) -> str | None:
        """How token_probs scores: "exact", "approximate", or None before the probe."""
        return self.mode

    def __repr__(self) -> str:
        return f"OpenAIModel({self.base_url!r}, model={self.model!r}, mode={self.mode!r})"

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.client.close()

    # -- the protocol ----------------------------------------------------------------
    def generate(self, image, prompt: str = DEFAULT_PROMPT, max_new_tokens: int = 64) -> Generation:
        """The served model's greedy answer (temperature 0); probes the mode on first use."""
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValueError(f"prompt must be a non-empty string, got {prompt!r}")
        if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int):
            raise ValueError(f"max_new_tokens must be a positive int, got {max_new_tokens!r}")
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be a positive int, got {max_new_tokens!r}")
        array = self._visual(image)
        request = dict(
            messages=_messages(array, prompt),
            max_tokens=max_new_tokens,
            temperature=0,
            logprobs=True,
        )
        response = self._create_in_dialect(request, {})
        content = _field(self, response, "choices[0].logprobs.content", _logprob_content)
        if self._token_ids:
            ids = [_token_id(self, entry.token, "choices[0].logprobs.content") for entry in content]
            ids = self._strip_stop(ids, response)
            tokens = decode_tokens(self, ids)
        else:
            tokens = [entry.token for entry in content]
            ids = [self._name_id(token) for token in tokens]
        generation = Generation(prompt, ids, tokens, "".join(tokens), frame_size(array))
        if self.mode is None and len(generation):
            self._probe(array, generation)
        return generation

    def token_probs(
        self,
        images: Sequence[np.ndarray],
        generation: Generation,
        positions: Sequence[int],
        token_ids: Sequence[int] | None = None,
    ) -> np.ndarray:
        """P(target id at each position | image, prompt, answer prefix): (images, positions).

        Exact: one request per image (plus one per counterfactual position); approximate:
        one per image and position. All of a call's requests run concurrently. With
        frames_as_images, `images` may be masked copies of one clip: a clip is one request
        as an image is, its frames sent as that many images.
        """
        if not isinstance(generation, Generation):
            raise TypeError(f"generation must be an ew.Generation, got {type(generation).__name__}")
        positions = [int(p) for p in positions]
        if not positions or not all(0 <= p < len(generation) for p in positions):
            raise ValueError(
                f"positions {positions} must be token indices of the generation "
                f"(0..{len(generation) - 1})"
            )
        targets = (
            [generation.token_ids[p] for p in positions]
            if token_ids is None
            else [int(t) for t in token_ids]
        )
        if len(targets) != len(positions):
            raise ValueError(f"{len(targets)} token ids for {len(positions)} positions")
        arrays = [self._visual(image) for image in images]
        if not arrays:
            raise ValueError("images is empty: give at least one image to score")
        for i, array in enumerate(arrays):
            if frame_size(array) != tuple(generation.image_size):
                raise ValueError(
                    f"image {i} has size {frame_size(array)} but the generation was made for "
                    f"{tuple(generation.image_size)}: masked copies must keep the original size"
                )
            if array.shape != arrays[0].shape:
                raise ValueError(
                    f"image {i} has shape {array.shape} but image 0 has {arrays[0].shape}: the "
                    "clips of one call are masked copies of one clip (one frame count)"
                )
        if self.mode is None:
            self._probe(arrays[0], generation)
        if self.mode == EXACT:
            return self._exact_probs(arrays, generation, positions, targets)
        return self._approximate_probs(arrays, generation, positions, targets)

    # -- what a run will cost --------------------------------------------------------
    def requests_per_image(self, generation: Generation, positions, token_ids=None) -> int:
        """Requests one new image costs: one for the answer and one per counterfactual
        (exact), or one per position (approximate)."""
        if self.mode != EXACT:  # approximate, or not probed yet: the dearer mode
            return len(set(positions))
        ids = generation.token_ids
        targets = token_ids if token_ids is not None else [ids[p] for p in positions]
        own = any(int(t) == ids[p] for p, t in zip(positions, targets))
        return int(own) + len({(p, int(t)) for p, t in zip(positions, targets) if int(t) != ids[p]})

    def plan(self, max_images: int, generation: Generation, positions, token_ids=None) -> int:
        """Say how many requests a run of at most `max_images` images makes; refuse it up
        front when that exceeds max_requests. Returns the bound."""
        per_image = self.requests_per_image(generation, positions, token_ids)
        bound = max_images * per_image
        self._log(
            f"eagle-widget: at most {bound} requests to {self.base_url} "
            f"({max_images} images x {per_image}, {self.mode} scoring; cached ones are free)"
        )
        if self.max_requests is not None and bound > self.max_requests:
            raise RequestBudgetError(bound, self.max_requests)
        return bound

    # -- helpers users may call --------------------------------------------------------
    def encode(self, text: str) -> list[int]:
        """Token ids of `text` as it would open an answer (the server's /tokenize)."""
        if not isinstance(text, str) or not text:
            raise ValueError(f"text must be a non-empty string, got {text!r}")
        body = {"model": self.model, "prompt": text, "add_special_tokens": False}
        data = self._post("tokenize", body)
        ids = data.get("tokens") if isinstance(data, dict) else None
        if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
            raise ServerError(f"{self.base_url}: /tokenize answered without a 'tokens' list")
        return ids

    def decode(self, ids: list[int], **_ignored) -> str:
        """Text of token ids (the server's /detokenize; cached)."""
        key = tuple(int(i) for i in ids)
        if key not in self._texts:
            if not key:
                return ""
            data = self._post("detokenize", {"model": self.model, "tokens": list(key)})
            text = data.get("prompt") if isinstance(data, dict) else None
            if not isinstance(text, str):
                raise ServerError(f"{self.base_url}: /detokenize answered without a 'prompt'")
            self._texts[key] = text
        return self._texts[key]

    # -- exact -----------------------------------------------------------------------
    def _exact_probs(self, arrays, generation, positions, targets) -> np.ndarray:
        ids = list(generation.token_ids)
        # the whole answer holds every generated target (one request serves any choice of
        # them, e.g. each word clicked in the widget); a counterfactual is its own sequence
        sequences = [
            tuple(ids) if ids[p] == t else (*ids[:p], t) for p, t in zip(positions, targets)
        ]
        distinct = list(dict.fromkeys(sequences))
        jobs = [(a, s) for a in range(len(arrays)) for s in distinct]
        results = self._run(
            [lambda a=a, s=s: self._exact_values(arrays[a], generation.prompt, s) for a, s in jobs]
        )
        values = dict(zip(jobs, results))
        probs = np.empty((len(arrays), len(positions)))
        for a in range(len(arrays)):
            for j, p in enumerate(positions):
                probs[a, j] = math.exp(values[a, sequences[j]][p])
        return probs

    def _exact_values(self, array, prompt: str, sequence: tuple[int, ...]) -> np.ndarray:
        """Log-probabilities of each token of `sequence` as the answer after image + prompt."""
        key = (_digest(array), prompt, EXACT, sequence)
        known = self._cache.get(key)
        if known is not None:
            return np.array(known)
        answer = self.decode(list(sequence))
        response = self._create(
            messages=[*_messages(array, prompt), _assistant(answer)],
            max_tokens=1,
            temperature=0,
            extra_body={**CONTINUE, "prompt_logprobs": 0},
        )
        rows = _field(self, response, "prompt_logprobs", _prompt_logprobs)
        if len(rows) < len(sequence):
            raise ServerError(
                f"{self.base_url}: 'prompt_logprobs' has {len(rows)} entries, fewer than the "
                f"{len(sequence)} answer tokens"
            )
        got, values = [], []
        for row in rows[len(rows) - len(sequence) :]:
            if not isinstance(row, dict) or len(row) != 1:
                raise ServerError(
                    f"{self.base_url}: an answer entry of 'prompt_logprobs' is {row!r}, "
                    "not one token id with its log-probability"
                )
            ((token, entry),) = row.items()
            got.append(_token_id(self, str(token), "prompt_logprobs"))
            values.append(_number(self, entry, "prompt_logprobs"))
        if got != list(sequence):
            raise ServerError(
                f"{self.base_url}: the server tokenised the answer as {got}, not as the "
                f"generated ids {list(sequence)}: its log-probabilities would belong to "
                "other tokens"
            )
        self._cache.put(key, values)
        return np.array(values)

    # -- approximate -----------------------------------------------------------------
    def _approximate_probs(self, arrays, generation, positions, targets) -> np.ndarray:
        jobs = [(a, p) for a in range(len(arrays)) for p in positions]
        prefix = lambda p: tuple(generation.token_ids[:p])  # noqa: E731
        results = self._run(
            [lambda a=a, p=p: self._top_values(arrays[a], generation, prefix(p)) for a, p in jobs]
        )
        tops = dict(zip(jobs, results))
        probs = np.zeros((len(arrays), len(positions)))
        floored = 0
        for a in range(len(arrays)):
            for j, (p, t) in enumerate(zip(positions, targets)):
                top = tops[a, p]
                if t in top:
                    probs[a, j] = math.exp(top[t])
                else:  # not among the most likely: the floor, counted and reported
                    floored += 1
        with self._lock:
            self.usage["values"] += probs.size
            self.usage["floored"] += floored
        return probs

    def _top_values(self, array, generation: Generation, prefix: tuple[int, ...]) -> dict:
        """{token id: log-probability} of the most likely tokens after image, prompt, prefix."""
        answer = "".join(generation.tokens[: len(prefix)])  # not ids: a hosted API's are ours
        key = (_digest(array), generation.prompt, APPROXIMATE, answer, self.top_logprobs)
        listed = self._cache.get(key)
        if listed is None:
            listed = self._request_top(array, generation, prefix)
            self._cache.put(key, listed)
        # a token is its id where the server gives ids, else its text (ids made here)
        return {t if isinstance(t, int) else self._name_id(t): v for t, v in listed}

    def _request_top(self, array, generation: Generation, prefix: tuple[int, ...]) -> list:
        """[(token id or text, log-probability)] of the server's top tokens, one request."""
        messages = _messages(array, generation.prompt)
        continuing = {}
        if prefix:  # continue the answer so far (its tokens join to its text)
            messages.append(_assistant("".join(generation.tokens[: len(prefix)])))
            continuing = CONTINUE
        request = dict(
            messages=messages,
            max_tokens=1,
            temperature=0,
            logprobs=True,
            top_logprobs=self.top_logprobs,
        )
        response = self._create_in_dialect(request, continuing)
        content = _field(self, response, "choices[0].logprobs.content", _logprob_content)
        field = "choices[0].logprobs.content[0].top_logprobs"
        listed = [
            (
                _token_id(self, entry.token, field) if self._token_ids else entry.token,
                _number(self, entry.logprob, field),
            )
            for entry in content[0].top_logprobs or []
        ]
        if not listed:
            raise ServerError(f"{self.base_url}: '{field}' is empty")
        return listed

    # -- requests --------------------------------------------------------------------
    def _run(self, calls: list[Callable]) -> list:
        """Run the calls concurrently; the first error cancels the rest and is raised."""
        futures = [self._pool.submit(call) for call in calls]
        done, pending = wait(futures, return_when=FIRST_EXCEPTION)
        for future in pending:
            future.cancel()
        for future in futures:
            if future.done() and not future.cancelled() and future.exception() is not None:
                wait(pending)  # let running requests end before the pool is reused
                raise future.exception()
        return [future.result() for future in futures]

    def _create_in_dialect(self, request: dict, vllm_fields: dict):
        """A chat request in vLLM's dialect (token ids, and `vllm_fields`) where the server
        takes it; a server that rejects it (a hosted API) gets the plain request from then on."""
        if self._token_ids is not False:
            extra = {**vllm_fields, "return_tokens_as_token_ids": True}
            try:
                response = self._create(**request, extra_body=extra)
                self._token_ids = True
                return response
            except ServerError as error:
                rejected = isinstance(error.__cause__, self._openai.BadRequestError)
                if not rejected or isinstance(error, ImageLimitError):
                    raise
                self._token_ids = False
        return self._create(**request)

    def _create(self, **request):
        """One chat completion; openai's errors become one ServerError naming the server."""
        with self._lock:
            self.usage["requests"] += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return self.client.chat.completions.create(model=self.model, **request)
        except self._openai.APIStatusError as error:
            limit = IMAGE_LIMIT.search(str(error)) or IMAGE_LIMIT.search(_message(error))
            if limit and error.status_code == 400:
                frames = _image_count(request["messages"])
                raise ImageLimitError(self.base_url, int(limit.group(1)), frames) from error
            raise ServerError(
                f"{self.base_url} answered HTTP {error.status_code}: {_message(error)}"
            ) from error
        except self._openai.APIConnectionError as error:
            kept = self._cache.stored  # promise a cheaper rerun only where answers are kept
            raise ServerError(
                f"no answer from {self.base_url} ({error})"
                + (f"; the {kept} answers received so far are cached" if kept else "")
            ) from error
        finally:
            with self._lock:
                self.in_flight -= 1

    def _post(self, path: str, body: dict):
        """POST to one of the server's own endpoints beside the API (vLLM: /tokenize)."""
        root = self.base_url.removesuffix("/v1")
        try:
            return self.client.post(f"{root}/{path}", body=body, cast_to=object)
        except self._openai.APIStatusError as error:
            raise ServerError(
                f"{root}/{path} answered HTTP {error.status_code}: {_message(error)}"
            ) from error
        except self._openai.APIConnectionError as error:
            raise ServerError(f"no answer from {root}/{path} ({error})") from error

    def _probe(self, array, generation: Generation) -> None:
        """Exact when the server returns prompt log-probabilities for the answer, else not."""
        if self._token_ids is False:  # no token ids: no way to check an exact answer
            self.mode = APPROXIMATE
        else:
            try:
                self._exact_values(array, generation.prompt, tuple(generation.token_ids))
                self.mode = EXACT
            except ServerError as error:  # only a server without the fields falls back
                rejected = isinstance(error.__cause__, self._openai.BadRequestError)
                if isinstance(error, ImageLimitError) or (
                    not rejected and "has no 'prompt_logprobs'" not in str(error)
                ):
                    raise
                self.mode = APPROXIMATE
        how = (
            "returns prompt log-probabilities: exact scoring, one request per image"
            if self.mode == EXACT
            else f"gives no prompt log-probabilities: approximate scoring, one request per "
            f"image and target (top {self.top_logprobs}; absent tokens count as 0)"
        )
        self._log(f"eagle-widget: {self.base_url} ({self.model}) {how}")

    def _visual(self, value) -> np.ndarray:
        """An image as to_rgb_array reads it, or a clip (a 4-D array) frame by frame where
        frames_as_images is on; a clip without it is refused before any request."""
        if not (isinstance(value, np.ndarray) and value.ndim == 4):
            return to_rgb_array(value)
        if not self.frames_as_images:
            raise ValueError(
                f"this is a clip ({' x '.join(map(str, value.shape))}), and {self!r} sends "
                "images only: pass frames_as_images=True (--frames-as-images) to send its "
                "frames as several images of one message, where the server takes them"
            )
        if len(value) == 0:
            raise ValueError("the clip has no frames")
        return np.stack([to_rgb_array(frame) for frame in value])

    def _strip_stop(self, ids: list[int], response) -> list[int]:
        """Drop a trailing end-of-sequence id: the answer's text does not show it."""
        choice = response.choices[0]
        text = choice.message.content or ""
        if ids and choice.finish_reason == "stop" and not text.endswith(self.decode(ids[-1:])):
            return ids[:-1]
        return ids

    def _name_id(self, token: str) -> int:
        """A stable id for a token the server names only by text (hosted APIs)."""
        with self._lock:
            return self._names.setdefault(token, len(self._names))


class _AnswerCache:
    """Answers by request: in memory, and in a SQLite file when one is given (thread-safe)."""

    def __init__(self, path, server: str):
        self._memory: dict[str, object] = {}
        self._server = server  # answers of one server and model only
        self._lock = threading.Lock()
        self._db = None
        self.stored = 0  # answers put here by this process
        if path is not None:
            import sqlite3

            self._db = sqlite3.connect(os.fspath(path), check_same_thread=False)
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, value TEXT)"
            )

    def _key(self, key: tuple) -> str:
        return hashlib.sha256(repr((self._server, key)).encode()).hexdigest()

    def get(self, key: tuple):
        name = self._key(key)
        with self._lock:
            if name not in self._memory and self._db is not None:
                row = self._db.execute(
                    "SELECT value FROM answers WHERE key = ?", (name,)
                ).fetchone()
                if row is not None:
                    self._memory[name] = json.loads(row[0])
            return self._memory.get(name)

    def put(self, key: tuple, value) -> None:
        name = self._key(key)
        with self._lock:
            self._memory[name] = value
            self.stored += 1
            if self._db is not None:
                self._db.execute(
                    "INSERT OR REPLACE INTO answers VALUES (?, ?)", (name, json.dumps(value))
                )
                self._db.commit()


# -- request and response helpers ---------------------------------------------------------


def _data_url(array: np.ndarray) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _digest(array: np.ndarray) -> str:
    return hashlib.sha256(array.tobytes() + str(array.shape).encode()).hexdigest()


def _messages(array: np.ndarray, prompt: str) -> list[dict]:
    """The user message: the image, or a clip's frames as images in frame order, then the
    prompt."""
    frames = array if array.ndim == 4 else [array]
    content = [{"type": "image_url", "image_url": {"url": _data_url(f)}} for f in frames]
    return [{"role": "user", "content": [*content, {"type": "text", "text": prompt}]}]


def _image_count(messages: list[dict]) -> int:
    return sum(
        1
        for message in messages
        if isinstance(message.get("content"), list)
        for part in message["content"]
        if part.get("type") == "image_url"
    )


def _assistant(text: str) -> dict:
    return {"role": "assistant", "content": text}


def _message(error) -> str:
    body = getattr(error, "body", None)
    if isinstance(body, dict):
        body = body.get("message") or body.get("error") or body
    return str(body or error)[:300]


def _field(model: OpenAIModel, response, name: str, read):
    try:
        value = read(response)
    except (AttributeError, IndexError, KeyError, TypeError):
        value = None
    if value is None:
        raise ServerError(f"{model.base_url}: the answer has no '{name}'")
    return value


def _logprob_content(response):
    return response.choices[0].logprobs.content or None


def _prompt_logprobs(response):
    rows = getattr(response, "prompt_logprobs", None)
    if rows is None:
        rows = (response.model_extra or {}).get("prompt_logprobs")
    return rows if isinstance(rows, list) and rows else None


def _token_id(model: OpenAIModel, token: str, field: str) -> int:
    text = token.removeprefix(ID_PREFIX)
    try:
        return int(text)
    except ValueError:
        raise ServerError(
            f"{model.base_url}: '{field}' names a token {token!r}, not a token id"
        ) from None


def _number(model: OpenAIModel, entry, field: str) -> float:
    value = entry.get("logprob") if isinstance(entry, dict) else entry
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ServerError(f"{model.base_url}: '{field}' holds {value!r}, not a log-probability")
    if math.isnan(value) or value > 1e-6:
        raise ServerError(f"{model.base_url}: '{field}' holds {value!r}, not a log-probability")
    return min(float(value), 0.0)
