"""Tiny randomly initialised text-only causal language models, built offline.

Each builder returns (model, tokenizer): a transformers AutoModelForCausalLM class with a
tiny config and a sub-word tokenizer trained on tiny_models.CORPUS (tiny_models.
build_tokenizer), with a chat template of the family's shape or none (GPT-2 reads the
prompt as it is). Nothing touches a model hub.
"""

from __future__ import annotations

import torch
from tiny_models import QWEN_SPECIALS, QWEN_TEMPLATE, _finish, _template, _text, build_tokenizer

TEXT_FAMILIES = ["llama", "qwen2", "gpt2"]

LLAMA_TEMPLATE = _template("", "[INST] BODY [/INST]", "", prefix="{{ bos_token }}")


def build_llama(seed: int = 0):
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = build_tokenizer(
        "metaspace",
        ["<unk>", "<s>", "</s>", "<pad>"],
        LLAMA_TEMPLATE,
        bos="<s>",
        eos="</s>",
        pad="<pad>",
        unk="<unk>",
        add_bos=True,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(LlamaConfig(**_text(tokenizer)))
    return _finish(model, tokenizer, ["</s>"], seed), tokenizer


def build_qwen2(seed: int = 0):
    from transformers import Qwen2Config, Qwen2ForCausalLM

    tokenizer = build_tokenizer(
        "bytelevel", QWEN_SPECIALS, QWEN_TEMPLATE, eos="<|im_end|>", pad="<|endoftext|>"
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(Qwen2Config(**_text(tokenizer)))
    return _finish(model, tokenizer, ["<|im_end|>", "<|endoftext|>"], seed), tokenizer


def build_gpt2(seed: int = 0):
    from transformers import GPT2Config, GPT2LMHeadModel

    tokenizer = build_tokenizer(
        "bytelevel", ["<|endoftext|>"], None, eos="<|endoftext|>", pad="<|endoftext|>"
    )
    tokenizer.chat_template = None  # a base model: the prompt as it is
    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=len(tokenizer), n_embd=32, n_layer=2, n_head=2, n_positions=256,
        bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id,
        initializer_range=0.2,
    )  # fmt: skip
    model = GPT2LMHeadModel(config)
    return _finish(model, tokenizer, ["<|endoftext|>"], seed), tokenizer


def build(family: str, seed: int = 0):
    """(model, tokenizer) of a tiny offline text model of `family` (one of TEXT_FAMILIES)."""
    if family not in TEXT_FAMILIES:
        raise ValueError(f"family must be one of {TEXT_FAMILIES}, got {family!r}")
    return globals()[f"build_{family}"](seed)


def save(family: str, folder, seed: int = 0) -> str:
    """A tiny text model of `family` saved with its tokenizer as a local checkpoint."""
    model, tokenizer = build(family, seed)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)
