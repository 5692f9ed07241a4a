"""The demo model's parts: word-level tokenizer, image processor, processor and a fresh model.

Everything here is a standard transformers object (LlavaForConditionalGeneration,
LlavaProcessor, CLIPImageProcessorPil, PreTrainedTokenizerFast), so the saved folder loads
with AutoModelForImageTextToText and AutoProcessor like any checkpoint.
"""

from __future__ import annotations

from ..scenes import COLOURS, SHAPES, SIZE

PATCH_SIZE = 8
WIDTH = 128
IMAGE_TOKEN = "<image>"
BLANK_WORD = "blank"  # the content word the model uses for what it cannot see
BLANK_CAPTION = "a blank image"  # caption of an image with no visible object
SPECIAL_TOKENS = ("<pad>", "<unk>", "<s>", "</s>", IMAGE_TOKEN, "<user>", "<assistant>")
WORDS = (
    "a",
    *COLOURS,
    *SHAPES,
    "and",
    "yes",
    "no",
    BLANK_WORD,
    "image",
    "describe",
    "the",
    "is",
    "there",
)
PUNCTUATION = (",", ".", "?")
# The metaspace marker: a word token carries the space before it, so decoding is a join.
SPACE = "\u2581"
# Mean and std 0.5 map pixel values 0..255 to -1..1.
PIXEL_MEAN = (0.5, 0.5, 0.5)
PIXEL_STD = (0.5, 0.5, 0.5)

CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% if message['role'] == 'user' %}<user>"
    "{% elif message['role'] == 'assistant' %}<assistant>{% endif %}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for item in message['content'] %}"
    "{% if item['type'] == 'image' %}<image>"
    "{% elif item['type'] == 'text' %} {{ item['text'] }}{% endif %}"
    "{% endfor %}{% endif %}"
    "{% if message['role'] == 'assistant' %}{{ eos_token }}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<assistant>{% endif %}"
)


def vocabulary() -> dict[str, int]:
    """Token -> id: special tokens first, then words (with their space marker), then punctuation."""
    tokens = [*SPECIAL_TOKENS, *(SPACE + w for w in WORDS), *PUNCTUATION]
    return {token: i for i, token in enumerate(tokens)}


def build_tokenizer():
    """A lower-casing word-level PreTrainedTokenizerFast with the chat template."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.WordLevel(vocabulary(), unk_token="<unk>"))
    core.normalizer = normalizers.Lowercase()
    core.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement=SPACE, prepend_scheme="always", split=True),
            pre_tokenizers.Punctuation(),
        ]
    )
    core.decoder = decoders.Metaspace(replacement=SPACE, prepend_scheme="always", split=True)
    core.add_special_tokens([AddedToken(t, normalized=False, special=True) for t in SPECIAL_TOKENS])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        extra_special_tokens={"image_token": IMAGE_TOKEN},
        padding_side="left",
        model_max_length=128,
        clean_up_tokenization_spaces=False,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_image_processor():
    """A PIL-based CLIP image processor: resize to 64 x 64, scale to -1..1 (no torchvision)."""
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    return CLIPImageProcessorPil(
        do_resize=True,
        size={"height": SIZE, "width": SIZE},
        do_center_crop=False,
        crop_size={"height": SIZE, "width": SIZE},
        do_rescale=True,
        rescale_factor=1 / 255,
        do_normalize=True,
        image_mean=list(PIXEL_MEAN),
        image_std=list(PIXEL_STD),
        do_convert_rgb=True,
    )


def build_processor():
    """LlavaProcessor expanding one <image> into one token per patch (CLS dropped)."""
    from transformers import LlavaProcessor

    return LlavaProcessor(
        image_processor=build_image_processor(),
        tokenizer=build_tokenizer(),
        patch_size=PATCH_SIZE,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        chat_template=CHAT_TEMPLATE,
        image_token=IMAGE_TOKEN,
    )


def build_config(width: int = WIDTH, vision_layers: int = 2, text_layers: int = 2, heads: int = 4):
    """LlavaConfig of the tiny model: CLIP-style vision tower, Llama-style decoder."""
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig

    vocab = vocabulary()
    vision = CLIPVisionConfig(
        hidden_size=width,
        intermediate_size=2 * width,
        num_hidden_layers=vision_layers,
        num_attention_heads=heads,
        image_size=SIZE,
        patch_size=PATCH_SIZE,
        num_channels=3,
        projection_dim=width,
    )
    text = LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=width,
        intermediate_size=2 * width,
        num_hidden_layers=text_layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=128,
        bos_token_id=vocab["<s>"],
        eos_token_id=vocab["</s>"],
        pad_token_id=vocab["<pad>"],
        tie_word_embeddings=True,
    )
    n_patches = (SIZE // PATCH_SIZE) ** 2
    config = LlavaConfig(
        vision_config=vision,
        text_config=text,
        image_token_id=vocab[IMAGE_TOKEN],
        vision_feature_layer=-1,
        vision_feature_select_strategy="default",
        image_seq_length=n_patches,
        projector_hidden_act="gelu",
        tie_word_embeddings=True,
    )
    config.bos_token_id = vocab["<s>"]
    config.eos_token_id = vocab["</s>"]
    config.pad_token_id = vocab["<pad>"]
    return config


def build_model(seed: int = 0, **config_kwargs):
    """A freshly initialised LlavaForConditionalGeneration (seeded)."""
    import torch
    from transformers import LlavaForConditionalGeneration

    torch.manual_seed(seed)
    return LlavaForConditionalGeneration(build_config(**config_kwargs))
