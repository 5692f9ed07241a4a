"""The transformers adapter against ground truth, on tiny offline models of every family.

Ground truth is transformers' own greedy `generate` on the official chat path
(`processor.apply_chat_template(..., tokenize=True)`), whose per-step logits give the
probability of every generated token: teacher-forced scoring must reproduce them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import numpy as np
import pytest
import tiny_models
import torch
from PIL import Image

from eagle_widget.engine.types import Generation
from eagle_widget.models import HFModel, load_model
from eagle_widget.models.hf import _extend
from eagle_widget.models.text import decode_tokens

torch.set_num_threads(1)

PROMPT = "Describe the image."
N_NEW = 6
TOL = 1e-5


@pytest.fixture(scope="module", autouse=True)
def offline():
    """No hub at all: the env switches (read at import) and the constant hub calls consult."""
    import huggingface_hub.constants

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
        yield


def _image(seed: int = 0, size=(40, 64)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((*size, 3)) * 255).astype(np.uint8)


def official_generate(model, processor, image: np.ndarray, prompt: str, n: int):
    """transformers' own greedy run on the official chat path: (new ids, per-step logits)."""
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "image", "image": Image.fromarray(image)},
                {"type": "text", "text": prompt},
            ],
        }
    ]
    inputs = processor.apply_chat_template(
        messages, add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt"
    )
    with torch.no_grad():
        out = model.generate(
            **inputs,
            max_new_tokens=n,
            do_sample=False,
            num_beams=1,
            output_logits=True,
            return_dict_in_generate=True,
        )
    new = out.sequences[0, inputs["input_ids"].shape[1] :].tolist()
    probs = torch.stack([torch.softmax(step[0].float(), -1) for step in out.logits])
    return new, probs.numpy().astype(np.float64)


class Family:
    """One tiny model, loaded from a saved folder through ew.load_model, plus its ground truth."""

    def __init__(self, name: str, folder):
        self.name = name
        tiny_models.save(name, folder)
        self.adapter = load_model(str(folder), device="cpu", dtype="float32")
        self.image = _image()
        self.ids, self.probs = official_generate(
            self.adapter.model, self.adapter.processor, self.image, PROMPT, N_NEW
        )
        self.generation = self.adapter.generate(self.image, PROMPT, max_new_tokens=N_NEW)


@pytest.fixture(scope="module", params=tiny_models.FAMILIES)
def family(request, tmp_path_factory) -> Family:
    return Family(request.param, tmp_path_factory.mktemp(request.param))


# -- generation -------------------------------------------------------------------------------


def test_generate_returns_the_greedy_answer_of_the_official_chat_path(family):
    gen = family.generation
    assert isinstance(gen, Generation)
    assert gen.token_ids == family.ids
    assert len(gen) == N_NEW
    assert gen.image_size == family.image.shape[:2]
    assert gen.prompt == PROMPT
    tokenizer = family.adapter.tokenizer
    assert gen.text == "".join(gen.tokens)
    assert gen.text == tokenizer.decode(gen.token_ids, skip_special_tokens=True)


def test_batched_generation_gives_each_image_its_own_greedy_answer(family):
    masked = family.image.copy()
    masked[:20] = 0
    images = [family.image, masked, _image(seed=5)]
    alone = [family.adapter.generate(im, PROMPT, max_new_tokens=N_NEW) for im in images]
    batched = family.adapter.generate_batch(images, PROMPT, max_new_tokens=N_NEW)
    assert [g.token_ids for g in batched] == [g.token_ids for g in alone]
    assert batched[0].token_ids == family.ids
    with pytest.raises(ValueError, match="share a size"):
        family.adapter.generate_batch([family.image, _image(size=(32, 32))], PROMPT)


def test_teacher_forced_probs_equal_generate_logits(family):
    gen = family.generation
    positions = list(range(len(gen)))
    probs = family.adapter.token_probs([family.image], gen, positions)
    truth = family.probs[positions, gen.token_ids]
    assert probs.shape == (1, len(gen))
    assert np.abs(probs[0] - truth).max() < TOL


def test_counterfactual_target_ids_read_the_same_distribution(family):
    gen = family.generation
    vocab = family.probs.shape[1]
    positions = [0, 2, 4]
    others = [(gen.token_ids[p] + 7 * (i + 1)) % vocab for i, p in enumerate(positions)]
    probs = family.adapter.token_probs([family.image], gen, positions, token_ids=others)
    truth = family.probs[positions, others]
    assert np.abs(probs[0] - truth).max() < TOL


def test_encode_gives_the_ids_of_a_counterfactual_answer(family):
    tokenizer = family.adapter.tokenizer
    ids = family.adapter.encode("No")
    assert ids and tokenizer.decode(ids) == "No"
    with pytest.raises(ValueError, match="non-empty string"):
        family.adapter.encode("")


def test_batch_of_masked_images_equals_one_by_one_and_masking_matters(family):
    image = family.image
    top, left, black = image.copy(), image.copy(), np.zeros_like(image)
    top[:20] = 0
    left[:, :32] = 0
    images = [image, top, left, black, _image(seed=5)]
    gen = family.generation
    positions = list(range(len(gen)))
    batched = family.adapter.token_probs(images, gen, positions)
    alone = np.concatenate([family.adapter.token_probs([im], gen, positions) for im in images])
    assert np.abs(batched - alone).max() < TOL
    changes = np.abs(batched[1:] - batched[0]).max(axis=1)
    assert changes.min() > 1e-3, f"masking changed the probabilities only by {changes}"


def test_forward_is_cut_after_the_last_target_and_keeps_only_target_logits(family):
    seen = {}
    model = family.adapter.model

    def before(module, args, kwargs):
        seen["length"] = kwargs["input_ids"].shape[1]
        seen["aligned"] = {
            k: v.shape[1]
            for k, v in kwargs.items()
            if k in ("attention_mask", "token_type_ids", "mm_token_type_ids")
        }

    def after(module, args, kwargs, output):
        seen["logits"] = tuple(output.logits.shape)

    gen = family.generation
    hooks = [
        model.register_forward_pre_hook(before, with_kwargs=True),
        model.register_forward_hook(after, with_kwargs=True),
    ]
    try:
        probs = family.adapter.token_probs([family.image, family.image], gen, [3, 1])
    finally:
        for hook in hooks:
            hook.remove()
    prompt_length = family.adapter._encode([family.image], PROMPT)["input_ids"].shape[1]
    assert seen["length"] == prompt_length + 3
    assert set(seen["aligned"].values()) <= {prompt_length + 3}
    assert seen["logits"][:2] == (2, 2)
    truth = family.probs[[3, 1], [gen.token_ids[3], gen.token_ids[1]]]
    assert np.abs(probs - truth).max() < TOL


def test_sub_word_tokens_decode_one_by_one_and_group_into_words(family):
    tokenizer = family.adapter.tokenizer
    sentence = "the marvellously colourful mountains, and a yellow zebra"
    ids = tokenizer.encode(sentence, add_special_tokens=False)
    tokens = decode_tokens(tokenizer, ids)
    assert "".join(tokens) == tokenizer.decode(ids, skip_special_tokens=True)
    gen = Generation(PROMPT, ids, tokens, "".join(tokens), (4, 4))
    words = ["".join(tokens[a:b]).strip() for a, b in gen.words]
    assert words == [
        "the",
        "marvellously",
        "colourful",
        "mountains",
        ",",
        "and",
        "a",
        "yellow",
        "zebra",
    ]
    assert any(b - a > 1 for a, b in gen.words), "the tokenizer should split some word"


def test_a_character_split_over_byte_tokens_is_carried_by_its_last_token():
    tokenizer = tiny_models.build_tokenizer(
        "bytelevel", ["<|end|>"], "", eos="<|end|>", pad="<|end|>"
    )
    ids = tokenizer.encode("un café ☕ chaud", add_special_tokens=False)
    tokens = decode_tokens(tokenizer, ids)
    assert len(ids) > len("un café ☕ chaud".split())  # é and ☕ take several byte tokens
    assert "".join(tokens) == "un café ☕ chaud"
    assert not any("\ufffd" in token for token in tokens)
    assert "☕" in tokens and "" in tokens  # the cup arrives whole, its first bytes add ""


# -- decoding settings ------------------------------------------------------------------------


def test_checkpoint_logits_processors_are_switched_off():
    model, processor = tiny_models.build("qwen2_vl")
    adapter = HFModel(model, processor)
    image = _image()
    plain = adapter.generate(image, PROMPT, max_new_tokens=8)
    model.generation_config.repetition_penalty = 50.0
    model.generation_config.no_repeat_ngram_size = 1
    model.generation_config.suppress_tokens = [plain.token_ids[0]]
    model.generation_config.temperature = 0.01
    penalised, _ = official_generate(model, processor, image, PROMPT, 8)
    assert penalised != plain.token_ids  # the checkpoint's settings do change a plain generate
    again = adapter.generate(image, PROMPT, max_new_tokens=8)
    assert again.token_ids == plain.token_ids
    assert model.generation_config.repetition_penalty == 50.0  # restored after the call


def test_generation_stops_before_the_end_of_sequence_token():
    model, processor = tiny_models.build("llava")
    adapter = HFModel(model, processor)
    image = _image()
    full = adapter.generate(image, PROMPT, max_new_tokens=8)
    stop_id = full.token_ids[4]
    model.generation_config.eos_token_id = [stop_id]
    short = adapter.generate(image, PROMPT, max_new_tokens=8)
    first = full.token_ids.index(stop_id)
    assert short.token_ids == full.token_ids[:first]
    assert stop_id not in short.token_ids
    assert short.text == "".join(short.tokens)


# -- batching and memory ----------------------------------------------------------------------


def test_out_of_memory_halves_the_batch_and_goes_on():
    model, processor = tiny_models.build("qwen2_vl")
    adapter = HFModel(model, processor, batch_size=8)
    image = _image()
    gen = adapter.generate(image, PROMPT, max_new_tokens=4)
    images = [image, np.zeros_like(image), 255 - image] + [image // k for k in range(2, 8)]
    expected = adapter.token_probs(images, gen, [0, 1, 2, 3])
    original = model.forward
    sizes = []

    def tight_forward(*args, **kwargs):
        sizes.append(kwargs["input_ids"].shape[0])
        if kwargs["input_ids"].shape[0] > 2:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return original(*args, **kwargs)

    model.forward = tight_forward
    try:
        probs = adapter.token_probs(images, gen, [0, 1, 2, 3])
        assert adapter.batch_size == 2
        assert sizes == [8, 4, 2, 2, 2, 2, 1]  # 8 fails, 4 fails, then pairs
        assert np.abs(probs - expected).max() < TOL
        model.forward = lambda *a, **k: (_ for _ in ()).throw(torch.OutOfMemoryError("OOM"))
        with pytest.raises(torch.OutOfMemoryError):
            adapter.token_probs([image], gen, [0])
    finally:
        model.forward = original


def test_batch_size_is_picked_when_not_given_and_checked_when_given():
    model, processor = tiny_models.build("llava")
    assert HFModel(model, processor).batch_size >= 1
    assert HFModel(model, processor, batch_size=3).batch_size == 3
    for bad in (0, -2, 2.5, "8", True):
        with pytest.raises(ValueError, match="batch_size"):
            HFModel(model, processor, batch_size=bad)


def test_a_small_model_times_its_threads_and_restores_the_setting(monkeypatch):
    from eagle_widget.models import devices

    model, processor = tiny_models.build("llava")
    adapter = HFModel(model, processor, batch_size=2)
    image = _image()
    gen = adapter.generate(image, PROMPT, max_new_tokens=3)
    seen = []
    model.register_forward_pre_hook(lambda *_: seen.append(torch.get_num_threads()))
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert adapter.threads is None and adapter.thread_choice is not None
        adapter.token_probs([image] * 4, gen, [0, 1])  # two batches of two
        assert seen[:2] == [1, 2]  # each count tried once...
        faster = adapter.thread_choice.counts()[("score", 2, 2)]  # (before the next timing)
        adapter.token_probs([image] * 2, gen, [0, 1])
        assert seen[2] == faster  # ...then the faster
        assert torch.get_num_threads() == 2
        adapter.threads = 2  # as asked
        assert adapter.thread_choice is None
        adapter.token_probs([image], gen, [0])
        assert seen[-1] == 2
        adapter.threads = None  # a model above the bound keeps torch's setting
        monkeypatch.setattr(devices, "SMALL_MODEL_PARAMETERS", 10)
        assert adapter.thread_choice is None
        torch.set_num_threads(1)
        adapter.generate(image, PROMPT, max_new_tokens=2)
        assert seen[-1] == 1 and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    from eagle_widget.models import load_demo_model

    monkeypatch.undo()
    assert load_demo_model().threads is None and load_demo_model(threads=3).threads == 3
    for bad in (0, -1, 1.5, "2", True):
        with pytest.raises(ValueError, match="threads"):
            HFModel(model, processor, threads=bad)
        with pytest.raises(ValueError, match="threads"):
            load_model("/nonexistent/folder", threads=bad)  # before looking for the folder


def test_nested_and_concurrent_thread_limits_restore_the_first_setting():
    from eagle_widget.models.devices import cpu_threads

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with cpu_threads(1):
            with cpu_threads(3):
                assert torch.get_num_threads() == 3
            assert torch.get_num_threads() == 3  # an inner block does not restore early
        assert torch.get_num_threads() == 2
        with cpu_threads(None):
            assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


class LoadedMachine:
    """A clock for ThreadChooser: a batch costs what the thread count costs at the moment."""

    def __init__(self, per_image):
        self.per_image = per_image  # threads -> seconds an image
        self.now = 0.0

    def __call__(self):
        return self.now

    def work(self, size):
        self.now += size * self.per_image[torch.get_num_threads()]
        return torch.get_num_threads()


def test_the_thread_chooser_follows_the_load():
    from eagle_widget.models.devices import ThreadChooser

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        machine = LoadedMachine({1: 2.4e-3, 2: 1.5e-3})  # idle cores: two threads win
        chooser = ThreadChooser(clock=machine)
        used = [chooser.run("score", 32, lambda: machine.work(32)) for _ in range(20)]
        assert used[:2] == [1, 2] and used[2:].count(1) <= 2  # then two, but for a try or two
        machine.per_image = {1: 2.4e-3, 2: 9.6e-3}  # another job arrives: a thread waits
        used = [chooser.run("score", 32, lambda: machine.work(32)) for _ in range(40)]
        assert used[-1] == 1 and used.count(2) <= 3  # back on one after a try or two
        # a try that loses waits twice as long before the next: few tries in a long run
        used = [chooser.run("score", 32, lambda: machine.work(32)) for _ in range(400)]
        assert 1 <= used.count(2) <= 400 // ThreadChooser.MAX_WAIT + 2
        # other batch sizes and other calls are timed apart; a slightly faster pair stays on one
        machine.per_image = {1: 2.0e-3, 2: 1.9e-3}
        used = [chooser.run("generate", 4, lambda: machine.work(4)) for _ in range(6)]
        assert used[:2] == [1, 2] and used[2:] == [1] * 4
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


FREE_AND_MEASURE = """
import sys, numpy as np
from eagle_widget.models.devices import keep_freed_memory
kept = keep_freed_memory() if sys.argv[1] == "keep" else None
def rss():
    return int(open("/proc/self/statm").read().split()[1]) * 4096
block = np.ones(24 * 2**20, np.uint8)  # 24 MB, every page touched
before = rss()
del block
print(kept, (before - rss()) / 2**20)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_freed_batches_stay_with_the_process_for_the_next_one():
    given_back = {}
    for mode in ("keep", "default"):
        out = subprocess.run(
            [sys.executable, "-c", FREE_AND_MEASURE, mode],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        given_back[mode] = float(out[1])
        assert out[0] == ("True" if mode == "keep" else "None")
    assert given_back["default"] > 20  # glibc maps a block this large back to the OS...
    assert given_back["keep"] < 1  # ...unless told to keep it


def test_the_demo_model_gives_the_same_bits_on_one_thread_and_on_two():
    from eagle_widget.models import load_demo_model
    from eagle_widget.models.demo.scenes import CAPTION_PROMPT, make_scene

    adapter = load_demo_model()
    image = make_scene(3, n_objects=3).image
    generation = adapter.generate(image, CAPTION_PROMPT)
    images = [image, image // 2, np.zeros_like(image)] * 4
    probs = {}
    for threads in (1, 2):
        adapter.threads = threads
        probs[threads] = adapter.token_probs(images, generation, list(range(len(generation))))
    assert np.array_equal(probs[1], probs[2])  # so ThreadChooser changes speed, not results


def test_pixels_reach_the_model_by_table_only_where_the_processor_maps_them_one_by_one():
    model, processor = tiny_models.build("llava")  # resizes to 56 on the short side, crops 56
    for size, by_table in (((56, 56), True), ((40, 64), False)):
        image = _image(1, size)
        rng = np.random.default_rng(2)
        images = [image, np.zeros_like(image), 255 - image]
        images += [np.where(rng.random((*size, 1)) < 0.5, image, 0) for _ in range(7)]
        adapter = HFModel(model, processor, batch_size=4)
        gen = adapter.generate(image, PROMPT, max_new_tokens=3)  # reads the table, if any
        key = (PROMPT, size)
        assert (adapter._pixel_tables[key] is not None) == by_table
        calls = []
        process = adapter._process
        adapter._process = lambda *args, c=calls, p=process: c.append(1) or p(*args)
        probs = adapter.token_probs(images, gen, [0, 1, 2])
        assert len(calls) == (0 if by_table else 3)  # 10 images, batches of 4
        plain = HFModel(model, processor, batch_size=4)
        plain._pixel_tables[key] = None  # the processor for every batch
        assert np.array_equal(probs, plain.token_probs(images, gen, [0, 1, 2]))


def test_images_are_preprocessed_on_the_models_device(family, monkeypatch):
    # every family's torchvision image processor gets device= (on a GPU the resizing and
    # normalising of a batch then runs there, not on the CPU); the results are the same
    seen = []
    image_processor = family.adapter.processor.image_processor
    original = image_processor.process_image

    def recording(*args, **kwargs):
        seen.append(kwargs.get("device"))
        return original(*args, **kwargs)

    monkeypatch.setattr(image_processor, "process_image", recording)
    gen = family.generation
    probs = family.adapter.token_probs([family.image], gen, [0])
    assert seen and all(d == family.adapter.device for d in seen), seen
    assert abs(probs[0, 0] - family.probs[0, gen.token_ids[0]]) < TOL


def test_cuda_batch_size_follows_free_memory_and_the_model_size(monkeypatch):
    # no GPU here: a stand-in CUDA model of Qwen2.5-VL-3B's text sizes, and free memory faked
    from types import SimpleNamespace

    from eagle_widget.models import devices

    text = SimpleNamespace(hidden_size=2048, intermediate_size=11008, vocab_size=151936)
    model = SimpleNamespace(
        device=torch.device("cuda"),
        dtype=torch.bfloat16,
        config=SimpleNamespace(get_text_config=lambda: text),
    )
    free = {"bytes": 0}
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (free["bytes"], 80 << 30))
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda device: 2 << 30)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device: 1 << 30)
    # per image at 1300 tokens: 2 x 1300 x (3 x 11008 + 8 x 2048) x 2 bytes + 64 target rows
    # of logits (151936 x 6 bytes) = 315 MB; 60% of free memory (+1 GiB cached) goes to batches
    for gib, expected in ((7, 16), (2, 6), (0, 2), (70, 64)):  # free GiB, images per batch
        free["bytes"] = gib << 30
        assert devices.default_batch_size(model, 1300) == expected, gib
    assert expected == devices.MAX_BATCH  # capped
    free["bytes"] = 0
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda device: 0)
    assert devices.default_batch_size(model, 100_000) == 1  # never below one image


# -- dtypes and devices -----------------------------------------------------------------------


def test_dtype_names_and_torch_dtypes_load_the_model_in_that_precision(tmp_path):
    folder = tiny_models.save("llava", tmp_path / "llava")
    image = _image()
    exact = load_model(folder, device="cpu", dtype="float32")
    gen = exact.generate(image, PROMPT, max_new_tokens=4)
    reference = exact.token_probs([image], gen, [0, 1, 2, 3])
    for dtype, expected in (("bfloat16", torch.bfloat16), (torch.float16, torch.float16)):
        adapter = load_model(folder, device="cpu", dtype=dtype)
        assert adapter.model.dtype == expected
        probs = adapter.token_probs([image], gen, [0, 1, 2, 3])
        assert probs.dtype == np.float64
        assert np.abs(probs - reference).max() < 0.05
    wrapped = HFModel(*tiny_models.build("llava"), device="cpu", dtype="bfloat16")
    assert wrapped.dtype == torch.bfloat16 and wrapped.device.type == "cpu"
    with pytest.raises(ValueError, match="dtype"):
        load_model(folder, device="cpu", dtype="float64")
    with pytest.raises(ValueError, match="device"):
        load_model(folder, device="tpu", dtype="float32")


# -- clear errors -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def qwen():
    model, processor = tiny_models.build("qwen2_vl")
    adapter = HFModel(model, processor)
    image = _image()
    return adapter, image, adapter.generate(image, PROMPT, max_new_tokens=4)


def test_target_positions_outside_the_generation_are_refused(qwen):
    adapter, image, gen = qwen
    for positions in ([4], [-1], [0, 9]):
        with pytest.raises(ValueError, match="outside the generation"):
            adapter.token_probs([image], gen, positions)
    with pytest.raises(ValueError, match="positions is empty"):
        adapter.token_probs([image], gen, [])
    with pytest.raises(ValueError, match="one per position"):
        adapter.token_probs([image], gen, [0, 1], token_ids=[3])
    with pytest.raises(ValueError, match="vocabulary"):
        adapter.token_probs([image], gen, [0], token_ids=[10**6])
    empty = Generation(PROMPT, [], [], "", gen.image_size)
    with pytest.raises(ValueError, match="no tokens"):
        adapter.token_probs([image], empty, [0])


def test_images_of_another_size_are_refused(qwen):
    adapter, image, gen = qwen
    with pytest.raises(ValueError, match=r"size \(40, 60\)"):
        adapter.token_probs([image, image[:, :60]], gen, [0])
    with pytest.raises(ValueError, match="single image"):
        adapter.token_probs(image, gen, [0])


def test_a_processor_that_changes_the_token_layout_is_refused():
    model, processor = tiny_models.build("qwen2_vl")
    adapter = HFModel(model, processor)
    image = _image()
    gen = adapter.generate(image, PROMPT, max_new_tokens=3)
    processor.image_processor.size = {"shortest_edge": 28 * 28, "longest_edge": 28 * 28 * 4}
    with pytest.raises(ValueError, match="different token layout"):
        adapter.token_probs([image], gen, [0])


def test_a_model_that_ignores_the_image_is_refused():
    model, processor = tiny_models.build("llava")
    adapter = HFModel(model, processor)
    image = _image()
    assert adapter.check_sees_image(image) > 1e-3
    gen = adapter.generate(image, PROMPT, max_new_tokens=3)
    with torch.no_grad():
        model.model.multi_modal_projector.linear_2.weight.zero_()
        model.model.multi_modal_projector.linear_2.bias.zero_()
    with pytest.raises(ValueError, match="ignores the image"):
        adapter.token_probs([image, np.zeros_like(image)], gen, [0, 1, 2])
    with pytest.raises(ValueError, match="ignores the image"):
        adapter.check_sees_image(image)


# -- with the engine --------------------------------------------------------------------------


def test_an_explanation_of_a_tiny_model_starts_from_its_own_probabilities(tmp_path):
    import eagle_widget as ew

    folder = tiny_models.save("qwen2_5_vl", tmp_path / "qwen")
    adapter = ew.load_model(tmp_path / "qwen", device="cpu", dtype="float32")
    assert isinstance(adapter, ew.VisionLanguageModel)
    image = _image(size=(48, 48))
    ids, truth = official_generate(adapter.model, adapter.processor, image, PROMPT, 4)
    result = ew.Explainer(adapter, n_regions=4, search="greedy", max_new_tokens=4).explain(
        image, prompt=PROMPT
    )
    assert result.generation.token_ids == ids
    assert np.abs(result.p_full - truth[range(4), ids]).max() < TOL
    black = adapter.token_probs([np.zeros_like(image)], result.generation, range(4))[0]
    assert np.abs(result.p_blank - black).max() < TOL
    assert sorted(result.order) == list(range(int(result.labels.max()) + 1))
    assert folder == str(tmp_path / "qwen")


WITHOUT_TORCHVISION = """
import importlib.util, sys

find = importlib.util.find_spec
importlib.util.find_spec = lambda name, package=None: (
    None if name.split(".")[0] == "torchvision" else find(name, package)
)

class Absent:  # `import torchvision` fails as where it is not installed
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "torchvision":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

sys.meta_path.insert(0, Absent())
import eagle_widget as ew

try:
    ew.load_model(sys.argv[1])
except ImportError as error:
    print(str(error))
"""


def test_a_missing_torchvision_is_one_line_that_names_the_models_extra(tmp_path):
    import subprocess
    import sys

    folder = tiny_models.save("qwen2_vl", tmp_path / "qwen2_vl")  # its video processor needs it
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_TORCHVISION, folder],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    message = done.stdout.strip()
    assert message.count("\n") == 0 and "Torchvision" in message, done.stdout + done.stderr
    assert "pip install 'eagle-widget[models]'" in message


# -- prompt spans (issue 26) -------------------------------------------------------------------
def test_hidden_prompt_spans_equal_a_direct_forward_of_the_masked_ids(family):
    """Each word of the prompt maps to tokens that decode back to it, and span_token_probs
    with a word hidden equals the official chat path's forward of its ids with those tokens
    replaced by the pad id, positions kept."""
    adapter, gen = family.adapter, family.generation
    prompt = gen.prompt
    words = [(m.start(), m.end()) for m in re.finditer(r"\w+", prompt)]
    picture = {"type": "image", "image": Image.fromarray(family.image)}
    messages = [{"role": "user", "content": [picture, {"type": "text", "text": prompt}]}]
    inputs = adapter.processor.apply_chat_template(
        messages, add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt"
    )
    ids = inputs["input_ids"][0].tolist()
    assert adapter.prompt_ids(family.image, prompt) == ids
    places = adapter.prompt_span_positions(family.image, prompt, words)
    assert [len(p) for p in places] == adapter.span_token_counts(gen, words)
    for (a, b), place in zip(words, places):
        text = adapter.tokenizer.decode([ids[i] for i in place]).strip().lower()
        # the word, and at most a character its last token shares with it ("image" + ".")
        assert prompt[a:b].lower() in text and len(text) <= b - a + 1, (text, prompt[a:b])
    hidden = 1  # the second word
    keep = np.ones((2, len(words)), dtype=bool)
    keep[1, hidden] = False
    positions = list(range(len(gen)))
    probs = adapter.span_token_probs([family.image] * 2, gen, positions, None, words, keep)
    np.testing.assert_allclose(probs[0], adapter.token_probs([family.image], gen, positions)[0])
    masked = torch.tensor(ids)
    masked[places[hidden]] = adapter.prompt_mask_id
    fed = _extend({**inputs, "input_ids": masked[None]}, gen.token_ids[:-1])
    with torch.no_grad():
        logits = adapter.model(**fed).logits
    rows = logits[0, len(ids) - 1 : len(ids) - 1 + len(gen)].float()
    direct = torch.softmax(rows, -1)[torch.arange(len(gen)), torch.tensor(gen.token_ids)]
    assert np.abs(probs[1] - direct.numpy()).max() < TOL
    assert np.abs(probs[1] - probs[0]).max() > 1e-6  # hiding a word changes the answer's p


def test_a_prompt_span_hidden_from_attention_equals_a_direct_forward_with_that_mask(family):
    """masking="attention": the span's attention-mask entries at 0, ids and positions kept,
    equals the official chat path's forward with that attention mask; the families whose
    positions count from the attention mask (M-RoPE) hide by replacement only."""
    adapter, gen = family.adapter, family.generation
    prompt = gen.prompt
    words = [(m.start(), m.end()) for m in re.finditer(r"\w+", prompt)]
    keep = np.ones((2, len(words)), dtype=bool)
    keep[1, 1] = False
    positions = list(range(len(gen)))
    if family.name in ("qwen2_vl", "qwen2_5_vl", "qwen3_vl"):
        assert adapter.prompt_maskings == ("replace",)
        with pytest.raises(ValueError, match="masking must be one of"):
            adapter.span_token_probs([family.image] * 2, gen, positions, None, words, keep,
                                     "attention")  # fmt: skip
        return
    assert adapter.prompt_maskings == ("replace", "attention")
    probs = adapter.span_token_probs(
        [family.image] * 2, gen, positions, None, words, keep, "attention"
    )
    np.testing.assert_allclose(probs[0], adapter.token_probs([family.image], gen, positions)[0])
    picture = {"type": "image", "image": Image.fromarray(family.image)}
    messages = [{"role": "user", "content": [picture, {"type": "text", "text": prompt}]}]
    inputs = adapter.processor.apply_chat_template(
        messages, add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt"
    )
    places = adapter.prompt_span_positions(family.image, prompt, words)
    mask = inputs["attention_mask"].clone()
    mask[0, places[1]] = 0
    fed = _extend({**inputs, "attention_mask": mask}, gen.token_ids[:-1])
    with torch.no_grad():
        logits = adapter.model(**fed).logits
    length = inputs["input_ids"].shape[1]
    rows = logits[0, length - 1 : length - 1 + len(gen)].float()
    direct = torch.softmax(rows, -1)[torch.arange(len(gen)), torch.tensor(gen.token_ids)]
    assert np.abs(probs[1] - direct.numpy()).max() < TOL
    assert np.abs(probs[1] - probs[0]).max() > 1e-6
    replaced = adapter.span_token_probs([family.image], gen, positions, None, words, keep[1:])
    assert np.abs(probs[1] - replaced[0]).max() > 1e-7  # another way to hide it
