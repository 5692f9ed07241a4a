"""A small OpenAI-compatible HTTP server on 127.0.0.1 for the served adapter's unit tests.

It speaks vLLM's dialect (prompt_logprobs, continue_final_message, token ids, /tokenize,
/detokenize) over a 6-word vocabulary, and scores an answer token by the image alone:
P(word i) = share of image pixels whose red channel is >= 128, for every word (a known
ground truth: the red pixels are all that matters). A message with several images (a clip's
frames) is scored by the red share of all of them, or of the `scored_image`-th alone.
Behaviour switches let a test break it.
"""

from __future__ import annotations

import base64
import io
import json
import math
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
from PIL import Image

WORDS = ["<eos>", "a", "red", "square", "blue", "circle"]  # id = index
HOSTED = ["", "a", " red", " square", " blue", " circle"]  # token texts of a hosted API
ANSWER = [1, 2, 3]  # "a red square"
PROMPT_TOKENS = 5  # what the fake says the template and prompt take


def red_share(image: np.ndarray) -> float:
    """The fake model's probability of every answer token: the share of red pixels."""
    return float((image[..., 0] >= 128).mean())


class FakeServer:
    """Start with `with FakeServer() as server:`; `server.url` is the /v1 base URL."""

    def __init__(self):
        self.hosted = False  # True: reject vLLM's fields like a hosted API
        self.no_prompt_logprobs = False
        self.nan = False
        self.retokenise = None  # ids the server "tokenises" the answer into instead
        self.fail_first = 0  # answer the next n chat requests with 429
        self.delay = 0.0  # seconds per chat request (to see them overlap)
        self.down = False  # drop every connection unanswered, like a dead server
        self.goes_down = None  # predicate(image): the server goes down at such an image
        self.scored_image = None  # index: score that image of a message alone (None: all)
        self.image_limit = None  # refuse more images per message, in vLLM's words
        self.received = []  # the images of each chat request, decoded, in message order
        self.bodies = []  # each chat request as sent
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path == "/v1/chat/completions" and server.goes_down:
                    server.down = server.down or server.goes_down(_image(body))
                if server.down:
                    self.close_connection = True
                    return
                if self.path == "/v1/chat/completions":
                    status, reply = server._chat(body)
                elif self.path == "/detokenize":
                    words = [WORDS[i] for i in body["tokens"]]  # special tokens too, as vLLM
                    status, reply = 200, {"prompt": " ".join(words)}
                elif self.path == "/tokenize":
                    status, reply = 200, {"tokens": _ids(body["prompt"])}
                else:
                    status, reply = 404, {"message": f"no route {self.path}"}
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if status == 429:
                    self.send_header("retry-after-ms", "10")
                self.end_headers()
                self.wfile.write(data)

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}/v1"

    def __enter__(self) -> FakeServer:
        threading.Thread(target=self._http.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._http.shutdown()
        self._http.server_close()

    def _chat(self, body: dict) -> tuple[int, dict]:
        with self._lock:
            self.requests += 1
            if self.fail_first > 0:
                self.fail_first -= 1
                return 429, {"message": "rate limited"}
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            time.sleep(self.delay)
            return self._answer(body)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _answer(self, body: dict) -> tuple[int, dict]:
        vllm_fields = {"return_tokens_as_token_ids", "prompt_logprobs", "continue_final_message"}
        if self.hosted and vllm_fields & set(body):
            return 400, {"message": f"unrecognized fields {sorted(vllm_fields & set(body))}"}
        images = _images(body)
        with self._lock:
            self.received.append(images)
            self.bodies.append(body)
        if self.image_limit is not None and len(images) > self.image_limit:
            message = (
                f"At most {self.image_limit} image(s) may be provided in one prompt. "
                "Set `--limit-mm-per-prompt` to increase this limit."
            )  # vLLM 0.32's words and body
            return 400, {"error": {"message": message, "type": "BadRequestError", "code": 400}}
        scored = images if self.scored_image is None else [images[self.scored_image]]
        p = red_share(np.stack(scored))
        logprob = math.log(p) if p > 0 else -1e4
        as_ids = body.get("return_tokens_as_token_ids", False)
        name = (lambda i: f"token_id:{i}") if as_ids else (lambda i: HOSTED[i])
        reply = {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"]}
        if "prompt_logprobs" in body:  # exact: the answer's own tokens, teacher-forced
            answer = body["messages"][-1]["content"]
            ids = self.retokenise or _ids(answer)
            rows = [None] + [{"0": {"logprob": -1.0}}] * (PROMPT_TOKENS - 1)
            value = float("nan") if self.nan else logprob
            rows += [{str(i): {"logprob": value, "rank": 1}} for i in ids]
            if not self.no_prompt_logprobs:
                reply["prompt_logprobs"] = rows
            content = [_entry(name(0), -0.1, [])]
        elif body.get("top_logprobs"):  # approximate: the next token's top list
            continued = len(body["messages"]) > 1
            prefix = len(_ids(body["messages"][-1]["content"])) if continued else 0
            nxt = ANSWER[prefix] if prefix < len(ANSWER) else 0
            # the answer's word with probability p, "blue" with 1 - p, nothing else listed
            other = math.log1p(-min(p, 0.999))
            top = [_entry(name(nxt), logprob, []), _entry(name(4), other, [])]
            content = [_entry(name(nxt), logprob, top[: body["top_logprobs"]])]
        else:  # generate: the fixed answer, then end of sequence
            ids = ANSWER + [0] if as_ids else ANSWER  # hosted APIs list no end token
            content = [_entry(name(i), -0.1, []) for i in ids]
        reply["choices"] = [
            {
                "index": 0,
                "message": {"role": "assistant", "content": _text([c["_id"] for c in content])},
                "logprobs": {"content": [_public(c) for c in content]},
                "finish_reason": "stop",
            }
        ]
        return 200, reply


def _entry(token: str, logprob: float, top: list) -> dict:
    is_id = token.startswith("token_id:")
    tid = int(token.removeprefix("token_id:")) if is_id else HOSTED.index(token)
    tops = [{"token": t["token"], "logprob": t["logprob"], "bytes": None} for t in top]
    return {"token": token, "logprob": logprob, "bytes": None, "top_logprobs": tops, "_id": tid}


def _image(body: dict) -> np.ndarray:
    return _images(body)[0]


def _images(body: dict) -> list[np.ndarray]:
    """The user message's images, decoded from their data URLs, in the message's order."""
    user = body["messages"][0]["content"]
    urls = [part["image_url"]["url"] for part in user if part["type"] == "image_url"]
    return [
        np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))) for url in urls
    ]


def _public(entry: dict) -> dict:
    return {k: v for k, v in entry.items() if k != "_id"}


def _text(ids) -> str:
    return " ".join(WORDS[i] for i in ids if i != 0)


def _ids(text: str) -> list[int]:
    return [WORDS.index(w) for w in text.split()]
