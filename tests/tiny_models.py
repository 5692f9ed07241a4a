"""Tiny randomly initialised vision-language models of every supported family, built offline.

Each builder returns (model, processor): a transformers model of the real class with a tiny
config (hidden 32, 1-2 layers), a processor of the real classes with small image sizes, and a
sub-word tokenizer trained here on a few sentences and wrapped with the family's special
tokens and a chat template of the family's shape. Nothing touches a model hub.
"""

from __future__ import annotations

import string

import torch
from tokenizers import (
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    processors,
    trainers,
)

FAMILIES = [
    "qwen2_vl",
    "qwen2_5_vl",
    "qwen3_vl",
    "llava",
    "internvl",
    "gemma3",
    "idefics3",
    "smolvlm",
    "llava_onevision",
]

CORPUS = [
    "a red cat sits on the green mat near the window",
    "the dog runs across the park and jumps over a wooden fence",
    "two small birds fly above the blue water at sunset",
    "an unbelievably colourful picture of snowy mountains and lakes",
    "there is a yellow bus parked beside the old brick station",
    "three children are playing football on a sunny afternoon",
    "the kitchen table holds a bowl of apples, bread and cheese",
    "a person rides a bicycle down a narrow street in the rain",
    "is there a clock on the wall? yes, there is one clock.",
    "describe the image in one sentence, please.",
]

# Every printable ASCII character and the newline stay encodable whatever the corpus holds.
ALPHABET = list(string.ascii_letters + string.digits + string.punctuation + " \n")

SIMPLE_TURNS = (
    "{% macro body(m) %}{% if m['content'] is string %}{{ m['content'] }}{% else %}"
    "{% for c in m['content'] %}{% if c['type'] == 'image' %}IMAGE{% elif c['type'] == "
    "'video' %}VIDEO{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %}"
    "{% endif %}{% endmacro %}"
)


def _template(
    image: str, turn: str, generation_prompt: str, prefix: str = "", video: str = ""
) -> str:
    """A Jinja chat template: `turn` holds ROLE and BODY, images become `image`, videos
    `video` (for a family whose processor takes videos)."""
    turn_jinja = turn.replace("ROLE", "{{ m['role'] }}").replace("BODY", "{{ body(m) }}")
    return (
        SIMPLE_TURNS.replace("IMAGE", image).replace("VIDEO", video)
        + prefix
        + "{% for m in messages %}"
        + turn_jinja
        + "{% endfor %}{% if add_generation_prompt %}"
        + generation_prompt
        + "{% endif %}"
    )


def build_tokenizer(
    style: str,
    special_tokens: list[str],
    chat_template: str,
    *,
    bos: str | None = None,
    eos: str,
    pad: str,
    unk: str | None = None,
    add_bos: bool = False,
    extra_special_tokens: dict[str, str] | None = None,
    vocab_size: int = 400,
):
    """A BPE tokenizer trained on CORPUS, byte-level (GPT-2/Qwen style) or metaspace (Llama)."""
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=unk))
    if style == "bytelevel":
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        tok.decoder = decoders.ByteLevel()
        alphabet = pre_tokenizers.ByteLevel.alphabet()
    elif style == "metaspace":
        tok.normalizer = normalizers.Replace(" ", "\u2581")
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="first")
        tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="first")
        alphabet = ALPHABET + ["\u2581"]
    else:
        raise ValueError(f"style must be 'bytelevel' or 'metaspace', got {style!r}")
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        initial_alphabet=alphabet,
        special_tokens=special_tokens,
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS * 3, trainer)
    if add_bos:
        tok.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A",
            pair=f"{bos} $A {bos} $B",
            special_tokens=[(bos, tok.token_to_id(bos))],
        )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=bos,
        eos_token=eos,
        pad_token=pad,
        unk_token=unk,
        chat_template=chat_template,
        extra_special_tokens=extra_special_tokens or {},
        clean_up_tokenization_spaces=False,
    )


def _finish(model, tokenizer, eos_tokens: list[str], seed: int):
    """Eval mode, and EOS logits held at zero so that random weights write full answers."""
    model.eval()
    head = model.get_output_embeddings()
    with torch.no_grad():
        for token in eos_tokens:
            head.weight[tokenizer.convert_tokens_to_ids(token)] = 0.0
    model.generation_config.eos_token_id = [tokenizer.convert_tokens_to_ids(t) for t in eos_tokens]
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


def _text(tokenizer, **overrides) -> dict:
    """A tiny text config whose vocabulary and special ids are those of `tokenizer`."""
    base = dict(
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        initializer_range=0.2,
        max_position_embeddings=512,
    )
    base.update(overrides)
    return base


# -- Qwen2-VL, Qwen2.5-VL, Qwen3-VL ------------------------------------------------------------

QWEN_SPECIALS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
]
QWEN_TEMPLATE = _template(
    "<|vision_start|><|image_pad|><|vision_end|>",
    "<|im_start|>ROLE\nBODY<|im_end|>\n",
    "<|im_start|>assistant\n",
    prefix="<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n",
    video="<|vision_start|><|video_pad|><|vision_end|>",
)


def _qwen_tokenizer():
    return build_tokenizer(
        "bytelevel", QWEN_SPECIALS, QWEN_TEMPLATE, eos="<|im_end|>", pad="<|endoftext|>"
    )


def _qwen_ids(tokenizer) -> dict:
    ids = tokenizer.convert_tokens_to_ids
    return dict(
        image_token_id=ids("<|image_pad|>"),
        video_token_id=ids("<|video_pad|>"),
        vision_start_token_id=ids("<|vision_start|>"),
        vision_end_token_id=ids("<|vision_end|>"),
    )


def _qwen_processor(processor_class, video_class, tokenizer, patch: int, max_side: int = 0):
    from transformers import Qwen2VLImageProcessor

    unit = patch * 2
    longest = max_side**2 if max_side else (3 * unit) ** 2
    size = {"shortest_edge": (2 * unit) ** 2, "longest_edge": longest}
    image = Qwen2VLImageProcessor(size=size, patch_size=patch, merge_size=2, temporal_patch_size=2)
    video = video_class(size=size, patch_size=patch, merge_size=2, temporal_patch_size=2)
    return processor_class(
        image_processor=image,
        tokenizer=tokenizer,
        video_processor=video,
        chat_template=QWEN_TEMPLATE,
    )


def build_qwen2_vl(seed: int = 0):
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration, Qwen2VLProcessor
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

    tokenizer = _qwen_tokenizer()
    processor = _qwen_processor(Qwen2VLProcessor, Qwen2VLVideoProcessor, tokenizer, 14)
    rope = {"rope_type": "default", "mrope_section": [2, 3, 3], "rope_theta": 10000.0}
    config = Qwen2VLConfig(
        text_config=_text(tokenizer, rope_parameters=rope),
        vision_config=dict(
            depth=2, embed_dim=32, hidden_size=32, num_heads=2, patch_size=14, initializer_range=0.2
        ),
        **_qwen_ids(tokenizer),
    )
    torch.manual_seed(seed)
    model = Qwen2VLForConditionalGeneration(config)
    return _finish(model, tokenizer, ["<|im_end|>", "<|endoftext|>"], seed), processor


def build_qwen2_5_vl(seed: int = 0):
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
    )
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

    tokenizer = _qwen_tokenizer()
    processor = _qwen_processor(Qwen2_5_VLProcessor, Qwen2VLVideoProcessor, tokenizer, 14)
    rope = {"rope_type": "default", "mrope_section": [2, 3, 3], "rope_theta": 10000.0}
    config = Qwen2_5_VLConfig(
        text_config=_text(tokenizer, rope_parameters=rope),
        vision_config=dict(
            depth=2,
            hidden_size=32,
            intermediate_size=64,
            num_heads=2,
            patch_size=14,
            window_size=56,
            out_hidden_size=32,
            fullatt_block_indexes=[1],
            initializer_range=0.2,
        ),
        **_qwen_ids(tokenizer),
    )
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(config)
    return _finish(model, tokenizer, ["<|im_end|>", "<|endoftext|>"], seed), processor


def build_qwen3_vl(seed: int = 0):
    from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration, Qwen3VLProcessor
    from transformers.models.qwen3_vl.video_processing_qwen3_vl import Qwen3VLVideoProcessor

    tokenizer = _qwen_tokenizer()
    processor = _qwen_processor(Qwen3VLProcessor, Qwen3VLVideoProcessor, tokenizer, 16)
    rope = {
        "rope_type": "default",
        "mrope_section": [2, 3, 3],
        "mrope_interleaved": True,
        "rope_theta": 10000.0,
    }
    config = Qwen3VLConfig(
        text_config=_text(tokenizer, head_dim=16, rope_parameters=rope),
        vision_config=dict(
            depth=2,
            hidden_size=32,
            intermediate_size=64,
            num_heads=2,
            patch_size=16,
            out_hidden_size=32,
            num_position_embeddings=16,
            deepstack_visual_indexes=[0],
            initializer_range=0.2,
        ),
        **_qwen_ids(tokenizer),
    )
    torch.manual_seed(seed)
    model = Qwen3VLForConditionalGeneration(config)
    return _finish(model, tokenizer, ["<|im_end|>", "<|endoftext|>"], seed), processor


# -- LLaVA-1.5 (llava-hf) --------------------------------------------------------------------

LLAVA_TEMPLATE = _template(
    "<image>\n",
    "{% if m['role'] == 'user' %}USER: BODY {% else %}ASSISTANT: BODY</s>{% endif %}",
    "ASSISTANT:",
)


def build_llava(seed: int = 0):
    from transformers import (
        CLIPImageProcessor,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    tokenizer = build_tokenizer(
        "metaspace",
        ["<unk>", "<s>", "</s>", "<pad>", "<image>"],
        LLAVA_TEMPLATE,
        bos="<s>",
        eos="</s>",
        pad="<pad>",
        unk="<unk>",
        add_bos=True,
    )
    image = CLIPImageProcessor(
        size={"shortest_edge": 56}, crop_size={"height": 56, "width": 56}, do_center_crop=True
    )
    processor = LlavaProcessor(
        image_processor=image,
        tokenizer=tokenizer,
        patch_size=14,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        chat_template=LLAVA_TEMPLATE,
    )
    config = LlavaConfig(
        vision_config=dict(
            model_type="clip_vision_model",
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=56,
            patch_size=14,
            projection_dim=32,
            initializer_range=0.2,
        ),
        text_config=dict(model_type="llama", **_text(tokenizer)),
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        image_seq_length=16,
        vision_feature_layer=-2,
    )
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(config)
    return _finish(model, tokenizer, ["</s>"], seed), processor


# -- InternVL3.5 (HF format) -----------------------------------------------------------------

INTERNVL_SPECIALS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<img>",
    "</img>",
    "<IMG_CONTEXT>",
    "<video>",
]
INTERNVL_TEMPLATE = _template(
    "<IMG_CONTEXT>\n",
    "<|im_start|>ROLE\nBODY<|im_end|>\n",
    "<|im_start|>assistant\n",
)


def build_internvl(seed: int = 0):
    from transformers import (
        GotOcr2ImageProcessor,
        InternVLConfig,
        InternVLForConditionalGeneration,
        InternVLProcessor,
    )
    from transformers.models.internvl.video_processing_internvl import InternVLVideoProcessor

    tokenizer = build_tokenizer(
        "bytelevel",
        INTERNVL_SPECIALS,
        INTERNVL_TEMPLATE,
        eos="<|im_end|>",
        pad="<|endoftext|>",
        extra_special_tokens={
            "start_image_token": "<img>",
            "end_image_token": "</img>",
            "context_image_token": "<IMG_CONTEXT>",
            "video_token": "<video>",
        },
    )
    image = GotOcr2ImageProcessor(
        size={"height": 56, "width": 56}, crop_to_patches=True, min_patches=1, max_patches=4
    )
    video = InternVLVideoProcessor(size={"height": 56, "width": 56})
    processor = InternVLProcessor(
        image_processor=image,
        tokenizer=tokenizer,
        video_processor=video,
        image_seq_length=4,
        chat_template=INTERNVL_TEMPLATE,
    )
    config = InternVLConfig(
        vision_config=dict(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=[56, 56],
            patch_size=[14, 14],
            initializer_range=0.2,
        ),
        text_config=dict(model_type="qwen3", head_dim=16, **_text(tokenizer)),
        image_token_id=tokenizer.convert_tokens_to_ids("<IMG_CONTEXT>"),
        image_seq_length=4,
        downsample_ratio=0.5,
    )
    torch.manual_seed(seed)
    model = InternVLForConditionalGeneration(config)
    return _finish(model, tokenizer, ["<|im_end|>", "<|endoftext|>"], seed), processor


# -- Gemma 3 ---------------------------------------------------------------------------------

GEMMA_SPECIALS = [
    "<pad>",
    "<eos>",
    "<bos>",
    "<unk>",
    "<start_of_turn>",
    "<end_of_turn>",
    "<start_of_image>",
    "<end_of_image>",
    "<image_soft_token>",
]
GEMMA_TEMPLATE = _template(
    "<start_of_image>",
    "<start_of_turn>{{ 'model' if m['role'] == 'assistant' else m['role'] }}\nBODY<end_of_turn>\n",
    "<start_of_turn>model\n",
    prefix="<bos>",
)


def build_gemma3(seed: int = 0):
    from transformers import (
        Gemma3Config,
        Gemma3ForConditionalGeneration,
        Gemma3ImageProcessor,
        Gemma3Processor,
    )

    tokenizer = build_tokenizer(
        "metaspace",
        GEMMA_SPECIALS,
        GEMMA_TEMPLATE,
        bos="<bos>",
        eos="<eos>",
        pad="<pad>",
        unk="<unk>",
        add_bos=True,
        extra_special_tokens={
            "boi_token": "<start_of_image>",
            "eoi_token": "<end_of_image>",
            "image_token": "<image_soft_token>",
        },
    )
    image = Gemma3ImageProcessor(size={"height": 56, "width": 56})
    processor = Gemma3Processor(
        image_processor=image, tokenizer=tokenizer, chat_template=GEMMA_TEMPLATE, image_seq_length=4
    )
    ids = tokenizer.convert_tokens_to_ids
    config = Gemma3Config(
        text_config=_text(
            tokenizer,
            head_dim=16,
            query_pre_attn_scalar=16,
            sliding_window=64,
            layer_types=["sliding_attention", "full_attention"],
            final_logit_softcapping=30.0,
        ),
        vision_config=dict(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=56,
            patch_size=14,
        ),
        mm_tokens_per_image=4,
        boi_token_index=ids("<start_of_image>"),
        eoi_token_index=ids("<end_of_image>"),
        image_token_index=ids("<image_soft_token>"),
        initializer_range=0.2,
    )
    torch.manual_seed(seed)
    model = Gemma3ForConditionalGeneration(config)
    with torch.no_grad():  # Gemma 3 starts its projector at zero: the image would not matter
        model.model.multi_modal_projector.mm_input_projection_weight.normal_(0.0, 0.2)
    return _finish(model, tokenizer, ["<end_of_turn>", "<eos>"], seed), processor


# -- Idefics3 and SmolVLM ----------------------------------------------------------------------

IDEFICS_SPECIALS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<end_of_utterance>",
    "<fake_token_around_image>",
    "<image>",
    "<global-img>",
    "<video>",
] + [f"<row_{i}_col_{j}>" for i in range(1, 7) for j in range(1, 7)]
IDEFICS_TEMPLATE = _template(
    "<image>",
    "<|im_start|>{{ m['role'] | capitalize }}:BODY<end_of_utterance>\n",
    "Assistant:",
)


def _idefics_parts():
    tokenizer = build_tokenizer(
        "bytelevel",
        IDEFICS_SPECIALS,
        IDEFICS_TEMPLATE,
        eos="<end_of_utterance>",
        pad="<|endoftext|>",
        extra_special_tokens={
            "fake_image_token": "<fake_token_around_image>",
            "image_token": "<image>",
            "end_of_utterance_token": "<end_of_utterance>",
            "global_image_token": "<global-img>",
        },
    )
    vision = dict(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=32,
        patch_size=8,
        initializer_range=0.2,
    )
    text = dict(model_type="llama", **_text(tokenizer))
    return tokenizer, vision, text


def build_idefics3(seed: int = 0):
    from transformers import (
        Idefics3Config,
        Idefics3ForConditionalGeneration,
        Idefics3ImageProcessor,
        Idefics3Processor,
    )

    tokenizer, vision, text = _idefics_parts()
    image = Idefics3ImageProcessor(
        size={"longest_edge": 64}, max_image_size={"longest_edge": 32}, do_image_splitting=True
    )
    processor = Idefics3Processor(
        image_processor=image, tokenizer=tokenizer, image_seq_len=4, chat_template=IDEFICS_TEMPLATE
    )
    config = Idefics3Config(
        vision_config=vision,
        text_config=text,
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
        scale_factor=2,
    )
    torch.manual_seed(seed)
    model = Idefics3ForConditionalGeneration(config)
    return _finish(model, tokenizer, ["<end_of_utterance>"], seed), processor


def build_smolvlm(seed: int = 0):
    from transformers import (
        SmolVLMConfig,
        SmolVLMForConditionalGeneration,
        SmolVLMImageProcessor,
        SmolVLMProcessor,
    )
    from transformers.models.smolvlm.video_processing_smolvlm import SmolVLMVideoProcessor

    tokenizer, vision, text = _idefics_parts()
    image = SmolVLMImageProcessor(
        size={"longest_edge": 64}, max_image_size={"longest_edge": 32}, do_image_splitting=True
    )
    video = SmolVLMVideoProcessor(size={"longest_edge": 32}, max_image_size={"longest_edge": 32})
    processor = SmolVLMProcessor(
        image_processor=image,
        tokenizer=tokenizer,
        video_processor=video,
        image_seq_len=4,
        chat_template=IDEFICS_TEMPLATE,
    )
    config = SmolVLMConfig(
        vision_config=vision,
        text_config=text,
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
        scale_factor=2,
    )
    torch.manual_seed(seed)
    model = SmolVLMForConditionalGeneration(config)
    return _finish(model, tokenizer, ["<end_of_utterance>"], seed), processor


# -- LLaVA-OneVision ---------------------------------------------------------------------------

ONEVISION_TEMPLATE = _template(
    "<image>\n",
    "<|im_start|>ROLE\nBODY<|im_end|>\n",
    "<|im_start|>assistant\n",
    video="<video>\n",
)


def build_llava_onevision(seed: int = 0):
    from transformers import (
        LlavaOnevisionConfig,
        LlavaOnevisionForConditionalGeneration,
        LlavaOnevisionImageProcessor,
        LlavaOnevisionProcessor,
    )
    from transformers.models.llava_onevision.video_processing_llava_onevision import (
        LlavaOnevisionVideoProcessor,
    )

    tokenizer = build_tokenizer(
        "bytelevel",
        ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<image>", "<video>"],
        ONEVISION_TEMPLATE,
        eos="<|im_end|>",
        pad="<|endoftext|>",
        extra_special_tokens={"image_token": "<image>", "video_token": "<video>"},
    )
    pinpoints = [[28, 28], [28, 56], [56, 28], [56, 56]]
    image = LlavaOnevisionImageProcessor(
        size={"height": 28, "width": 28}, image_grid_pinpoints=pinpoints
    )
    video = LlavaOnevisionVideoProcessor(size={"height": 28, "width": 28})
    processor = LlavaOnevisionProcessor(
        image_processor=image,
        tokenizer=tokenizer,
        video_processor=video,
        num_image_tokens=4,
        vision_feature_select_strategy="full",
        chat_template=ONEVISION_TEMPLATE,
    )
    ids = tokenizer.convert_tokens_to_ids
    config = LlavaOnevisionConfig(
        vision_config=dict(
            model_type="siglip_vision_model",
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=28,
            patch_size=14,
        ),
        text_config=dict(model_type="qwen2", **_text(tokenizer)),
        image_token_index=ids("<image>"),
        video_token_index=ids("<video>"),
        image_grid_pinpoints=pinpoints,
        vision_feature_select_strategy="full",
        vision_feature_layer=-1,
    )
    torch.manual_seed(seed)
    model = LlavaOnevisionForConditionalGeneration(config)
    return _finish(model, tokenizer, ["<|im_end|>", "<|endoftext|>"], seed), processor


def build_mid_qwen2_5_vl(seed: int = 0):
    """A ~25M-parameter Qwen2.5-VL (vocabulary padded to 16,384) taking 448 x 448 images whole.

    For benchmarks: 1,024 patches, 256 image tokens, costs in the proportions of a real model.
    """
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
    )
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

    tokenizer = _qwen_tokenizer()
    processor = _qwen_processor(
        Qwen2_5_VLProcessor, Qwen2VLVideoProcessor, tokenizer, 14, max_side=448
    )
    rope = {"rope_type": "default", "mrope_section": [8, 12, 12], "rope_theta": 10000.0}
    text = _text(
        tokenizer,
        vocab_size=16384,
        hidden_size=384,
        intermediate_size=1024,
        num_hidden_layers=4,
        num_attention_heads=6,
        num_key_value_heads=2,
        initializer_range=0.05,
        max_position_embeddings=4096,
        rope_parameters=rope,
    )
    config = Qwen2_5_VLConfig(
        text_config=text,
        vision_config=dict(
            depth=4,
            hidden_size=256,
            intermediate_size=512,
            num_heads=4,
            patch_size=14,
            window_size=112,
            out_hidden_size=384,
            fullatt_block_indexes=[3],
        ),
        **_qwen_ids(tokenizer),
    )
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(config)
    return _finish(model, tokenizer, ["<|im_end|>", "<|endoftext|>"], seed), processor


BUILDERS = {name: globals()[f"build_{name}"] for name in FAMILIES}


def build(family: str, seed: int = 0):
    """(model, processor) of a tiny offline model of `family` (one of FAMILIES)."""
    if family not in BUILDERS:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
    return BUILDERS[family](seed)


def save(family: str, folder, seed: int = 0) -> str:
    """Build a tiny model of `family` and save it with its processor as a local checkpoint."""
    model, processor = build(family, seed)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return str(folder)
