"""Train the demo model from scratch and save it as a transformers checkpoint.

    python -m eagle_widget.models.demo.training.train --out DIR

Two stages, both on scenes generated on the fly from one seeded stream:
1. the vision tower learns per-patch colour and shape labels taken from the object masks
   (through a throwaway linear head): a captioning loss alone teaches shapes too slowly;
2. with the vision tower frozen, the projector and the decoder learn captions and yes/no
   answers (see data.py for the tasks, occlusions and blank images).
Then the folder gets the weights, tokenizer, processor, an evaluation on unseen scenes
(metrics.json) and a model card. Same seed, thread count and torch version: same weights.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from . import build, data


@dataclass
class TrainConfig:
    seed: int = 0
    threads: int = 1  # torch threads; the scene-drawing processes use the other core
    workers: int = 1  # 1: scenes are drawn in helper processes (one per stream); 0: inline
    vision_steps: int = 2500
    text_steps: int = 5000
    batch_size: int = 64
    vision_lr: float = 2e-3
    text_lr: float = 2e-3
    weight_decay: float = 0.01
    warmup: int = 100
    eval_scenes: int = 500
    log_every: int = 100


def _schedule(step: int, total: int, warmup: int) -> float:
    """Linear warm-up, then cosine decay to 5% of the peak learning rate."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def _make_batch(kind: str, rng: np.random.Generator, size: int) -> tuple[np.ndarray, ...]:
    if kind == "vision":
        examples = [data.vision_example(rng) for _ in range(size)]
        return tuple(np.stack([e[k] for e in examples]) for k in (1, 2, 0))
    return data.text_arrays([data.text_example(rng) for _ in range(size)])


# Scenes come from this many independent seeded streams, batch i from stream i % STREAMS,
# so that as many helper processes can draw them in parallel; the data are the same inline.
STREAMS = 2


def _produce(kind: str, seed: list[int], steps: int, size: int, queue) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        queue.put(_make_batch(kind, rng, size))


def batches(kind: str, seed: list[int], steps: int, size: int, background: bool = True):
    """`steps` batches, batch i drawn from the seeded stream [*seed, i % STREAMS].

    With `background`, one helper process per stream makes its batches in order, so the
    batches are the same either way.
    """
    seeds = [[*seed, k] for k in range(STREAMS)]
    counts = [len(range(k, steps, STREAMS)) for k in range(STREAMS)]
    if not background:
        rngs = [np.random.default_rng(s) for s in seeds]
        for i in range(steps):
            yield _make_batch(kind, rngs[i % STREAMS], size)
        return
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    queues = [context.Queue(maxsize=4) for _ in range(STREAMS)]
    workers = [
        context.Process(target=_produce, args=(kind, s, n, size, q), daemon=True)
        for s, n, q in zip(seeds, counts, queues)
    ]
    for worker in workers:
        worker.start()
    try:
        for i in range(steps):
            yield queues[i % STREAMS].get(timeout=600)
    finally:
        for worker in workers:
            worker.terminate()
            worker.join()


def text_loss(model, batch):
    """Cross-entropy of the answer tokens; logits only where there is a target."""
    import torch.nn.functional as F

    ids, mask, targets, pixels = batch
    hidden = model.model(input_ids=ids, attention_mask=mask, pixel_values=pixels).last_hidden_state
    where = targets != data.IGNORE
    logits = model.lm_head(hidden[where])
    return F.cross_entropy(logits, targets[where])


def pretrain_vision(model, config: TrainConfig, log) -> None:
    """Stage 1: per-patch colour (or background) and object shape through a throwaway head."""
    import torch
    import torch.nn.functional as F

    tower = model.model.vision_tower
    width = tower.config.hidden_size
    head = torch.nn.Linear(width, 5 + 3)
    params = list(tower.parameters()) + list(head.parameters())
    optimizer = torch.optim.AdamW(params, lr=config.vision_lr, weight_decay=config.weight_decay)
    start = time.perf_counter()
    stream = batches(
        "vision", [config.seed, 1], config.vision_steps, config.batch_size, config.workers > 0
    )
    for step, arrays in enumerate(stream):
        colour, shape, pixels = data.to_tensors(arrays)
        colour, shape = colour.reshape(-1), shape.reshape(-1)
        features = tower(pixel_values=pixels).last_hidden_state[:, 1:]
        logits = head(features).reshape(-1, 8)
        # colour (or background) on every patch; shape only where an object is, so that the
        # many background patches do not drown the slow-to-learn shape signal
        fg = shape > 0
        loss = F.cross_entropy(logits[:, :5], colour)
        if fg.any():
            loss = loss + F.cross_entropy(logits[fg, 5:], shape[fg] - 1)
        for group in optimizer.param_groups:
            group["lr"] = config.vision_lr * _schedule(step, config.vision_steps, config.warmup)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        if step % config.log_every == 0 or step == config.vision_steps - 1:
            with torch.no_grad():
                shape_acc = (logits[fg, 5:].argmax(-1) == shape[fg] - 1).float().mean().item()
                colour_acc = (logits[:, :5].argmax(-1) == colour).float().mean().item()
            log(
                f"vision {step:5d} loss {loss.item():.4f} colour {colour_acc:.3f} "
                f"object-shape {shape_acc:.3f} {time.perf_counter() - start:.0f}s"
            )


def train_text(model, config: TrainConfig, log) -> None:
    """Stage 2: projector and decoder on captions and yes/no answers, vision tower frozen."""
    import torch

    model.model.vision_tower.requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.text_lr, weight_decay=config.weight_decay)
    start = time.perf_counter()
    running = 0.0
    stream = batches(
        "text", [config.seed, 2], config.text_steps, config.batch_size, config.workers > 0
    )
    for step, arrays in enumerate(stream):
        batch = data.to_tensors(arrays)
        loss = text_loss(model, batch)
        for group in optimizer.param_groups:
            group["lr"] = config.text_lr * _schedule(step, config.text_steps, config.warmup)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        running += loss.item()
        if (step + 1) % config.log_every == 0 or step == config.text_steps - 1:
            n = (step % config.log_every) + 1
            log(f"text {step:5d} loss {running / n:.4f} {time.perf_counter() - start:.0f}s")
            running = 0.0
    model.model.vision_tower.requires_grad_(True)


def train(config: TrainConfig, log=print):
    """Build and train a model; returns it with the wall times of the two stages."""
    import torch

    torch.set_num_threads(config.threads)
    model = build.build_model(seed=config.seed)
    model.train()
    start = time.perf_counter()
    pretrain_vision(model, config, log)
    vision_seconds = time.perf_counter() - start
    train_text(model, config, log)
    text_seconds = time.perf_counter() - start - vision_seconds
    model.eval()
    return model, {"vision_seconds": vision_seconds, "text_seconds": text_seconds}


def save(model, out: Path) -> None:
    """Weights (safetensors), tokenizer, processor and chat template into one folder."""
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    build.build_processor().save_pretrained(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path, help="folder to write the model into")
    defaults = TrainConfig()
    for name, value in asdict(defaults).items():
        parser.add_argument("--" + name.replace("_", "-"), type=type(value), default=value)
    args = parser.parse_args(argv)
    config = TrainConfig(**{k: getattr(args, k) for k in asdict(defaults)})
    if config.threads < 1 or config.batch_size < 1:
        parser.error(f"threads and batch size must be at least 1, got {config}")

    started = time.perf_counter()
    model, times = train(config)
    times["train_seconds"] = time.perf_counter() - started
    save(model, args.out)
    metrics = {
        "config": asdict(config),
        "times": times,
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    if config.eval_scenes > 0:
        from .quality import evaluate

        metrics["quality"] = evaluate(model, n_scenes=config.eval_scenes)
        print(json.dumps(metrics["quality"], indent=1))
    weights = (args.out / "model.safetensors").read_bytes()
    metrics["weights_sha256"] = hashlib.sha256(weights).hexdigest()
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
    from .card import write_card

    write_card(args.out)
    print(f"saved to {args.out} after {times['train_seconds']:.0f}s of training")


if __name__ == "__main__":
    main()
