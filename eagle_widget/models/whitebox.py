"""The torch side of the white-box methods (engine/whitebox.py): maps over the image tokens
of a transformers model, for an answer teacher-forced after the prompt and the image.

Every map has one value per image token, in sequence order (newline tokens included);
models/patches.py's geometry splits it into its views' grids and the engine places those on
the image. What each method computes, in our own words:

TAM (token activation map). The model's language head is applied to every image token's
last hidden state (after the final norm, as the head sees the answer's states), giving
logits z_i over the vocabulary at image token i; each is centred (z_i[v] minus its mean
over the vocabulary) so that a token that raises every word does not count as evidence for
one. The raw map of a target word y is a_i(y) = max(0, z_i[y] - mean z_i). Earlier answer
tokens leave their own evidence in the image tokens' states, and a later word's map shows
it too (after "a red circle and a", the word "blue" lights the red circle as well). The
correction takes out that share: for each earlier answer token j (word y_j), w_j is the
probability the model gave y when it was choosing token j (how much y and y_j competed for
that slot), and the map is max(0, a(y) - sum_j w_j a(y_j)). One forward pass, no gradient.
This is our estimate of the earlier tokens' interference, in the spirit of TAM's causal
correction, not the authors' code; their rank-based Gaussian denoising is not applied (the
engine's region means smooth the map instead).

LLaVA-CAM (Grad-CAM on a decoder layer). A hook takes the hidden states entering decoder
layer `layer` as the tensor to differentiate against (so nothing before it is
back-propagated), and for each target the gradient of its log probability at its row is
taken. Each hidden channel's weight is its gradient averaged over the image tokens (all of them:
a tiled family's every view, LLaVA-OneVision's newline tokens included); a
token's value is the weighted sum of its activations, negative values as 0. With copies=k,
k more maps are made from the pixel input plus Gaussian noise (std `noise` times the
input's range, a seeded generator) and all 1 + k are averaged (SmoothGrad). One forward
pass per copy and one backward pass per target and copy.
"""

from __future__ import annotations

import torch

from .patches import PatchGeometry


def decoder_layers(model):
    """The language model's list of decoder layers."""
    decoder = model.get_decoder() if hasattr(model, "get_decoder") else None
    layers = getattr(decoder, "layers", None)
    if isinstance(layers, torch.nn.ModuleList) and len(layers):
        return layers
    raise ValueError(f"{type(model).__name__} has no decoder layers this adapter can find")


def resolved_layer(model, layer) -> int:
    """`layer` (None: the middle one, negative: from the end) as an index of a decoder
    layer whose input can still reach the targets (0 .. n - 1)."""
    n = len(decoder_layers(model))
    index = n // 2 if layer is None else int(layer)
    if index < 0:
        index += n
    if not 0 <= index < n:
        raise ValueError(
            f"layer must be in {-n}..{n - 1} (the decoder has {n} layers; layer k is the input "
            f"of decoder layer k), got {layer!r}"
        )
    return index


def tam_maps(model, extended: dict, length: int, geometry: PatchGeometry, generation, positions,
             targets):  # fmt: skip
    """TAM's maps (targets x image tokens, float32 on the CPU) and the passes it made, for
    the `extended` inputs (prompt of `length` tokens, the answer before the last target)."""
    image = geometry.positions(extended["input_ids"][0].tolist())
    answer_rows = list(range(length - 1, length + max(positions)))  # the rows choosing tokens
    with torch.no_grad():
        out = model(**extended, output_hidden_states=True, use_cache=False,
                    logits_to_keep=torch.tensor(answer_rows, device=model.device))  # fmt: skip
        logits = (
            out.logits[0] if out.logits.shape[1] == len(answer_rows) else out.logits[0, answer_rows]
        )
        chosen = torch.softmax(logits.float(), dim=-1)  # row j: the choice of answer token j
        states = out.hidden_states[-1][0, image]
        z = model.get_output_embeddings()(states).float()
        activation = torch.relu(z - z.mean(dim=-1, keepdim=True))  # image tokens x vocabulary
        maps = []
        for position, target in zip(positions, targets):
            raw = activation[:, target]
            earlier = generation.token_ids[:position]
            if earlier:
                weights = chosen[: len(earlier), target]
                raw = torch.relu(raw - activation[:, earlier] @ weights)
            maps.append(raw)
    return torch.stack(maps).cpu(), {"forward_passes": 1, "backward_passes": 0}


def grad_cam_maps(model, extended: dict, length: int, geometry: PatchGeometry, positions,
                  targets, layer, copies: int, noise: float, seed: int):  # fmt: skip
    """LLaVA-CAM's maps (targets x image tokens, float32 on the CPU) and the passes made, as
    tam_maps."""
    index = resolved_layer(model, layer)
    image = geometry.positions(extended["input_ids"][0].tolist())
    rows = torch.tensor([length - 1 + p for p in positions], device=model.device)
    pixels = next(k for k in ("pixel_values", "pixel_values_videos") if k in extended)
    clean = extended[pixels]
    spread = float(clean.max() - clean.min()) or 1.0
    generator = torch.Generator().manual_seed(int(seed))
    captured = {}

    def take(module, args, kwargs):  # the layer's input as the leaf the gradient stops at
        hidden = args[0] if args else kwargs["hidden_states"]
        leaf = hidden.detach().requires_grad_(True)
        captured["states"] = leaf
        if args:
            return (leaf, *args[1:]), kwargs
        return args, {**kwargs, "hidden_states": leaf}

    total = torch.zeros(len(positions), len(image))
    backward = 0
    handle = decoder_layers(model)[index].register_forward_pre_hook(take, with_kwargs=True)
    try:
        for copy in range(1 + int(copies)):
            batch = dict(extended)
            if copy:  # SmoothGrad: the pixel input plus seeded Gaussian noise
                jitter = torch.randn(clean.shape, generator=generator) * (noise * spread)
                batch[pixels] = clean + jitter.to(clean.device, clean.dtype)
            with torch.enable_grad():
                out = model(**batch, use_cache=False, logits_to_keep=rows)
                logits = (
                    out.logits[0] if out.logits.shape[1] == len(positions) else out.logits[0, rows]
                )
                states = captured["states"]
                for k, target in enumerate(targets):
                    score = torch.log_softmax(logits[k].float(), dim=-1)[target]
                    (grad,) = torch.autograd.grad(score, states, retain_graph=k < len(targets) - 1)
                    backward += 1
                    activation = states[0, image].detach().float()
                    weights = grad[0, image].float().mean(dim=0)
                    total[k] += torch.relu(activation @ weights).cpu()
            del out, logits, states
            captured.clear()
    finally:
        handle.remove()
    passes = {"forward_passes": 1 + int(copies), "backward_passes": backward}
    return total / (1 + int(copies)), passes
