"""The model card of a trained demo model, written from the figures measured on it.

`metrics.json` (written by train.py) holds the training set-up, wall times and quality;
`explain_metrics.json` (written by bench/bench_demo_explain.py) the figures that
need the EAGLE engine. The card is regenerated from both whenever either changes.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..scenes import BACKGROUND_RANGE, COLOURS, SHAPES, SIZE, YELLOW_CIRCLE_WITH_BLUE_SQUARE
from . import build
from .occlusion import FILLS, HIDDEN_AT_MOST, VISIBLE_AT_LEAST


def _pct(value) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _quality_section(q: dict) -> list[str]:
    by_count = q["caption_exact_match_by_object_count"]
    lines = [
        f"Measured on {q['n_scenes']} unseen scenes (`evaluate.eval_scenes`, seeds from "
        "1,000,000; training uses one stream seeded with a small integer).",
        "",
        "| figure | bar | measured |",
        "|---|---|---|",
        f"| caption exact match (greedy) | >= 95% | {_pct(q['caption_exact_match'])} |",
        f"| colour and shape word accuracy (teacher-forced argmax) | >= 98% | "
        f"{_pct(q['colour_shape_word_accuracy'])} |",
        f"| yes/no accuracy outside the biased case ({q['yes_no_questions']} questions) "
        f"| >= 95% | {_pct(q['yes_no_accuracy_outside_biased_case'])} |",
        "",
        "Caption exact match by number of objects: "
        + ", ".join(f"{k}: {_pct(v)}" for k, v in by_count.items())
        + ".",
        "",
    ]
    if "biased_case_scenes" not in q:
        return lines
    return lines + [
        "### The learned prior (hallucination)",
        "",
        f"On {q['biased_case_scenes']} scenes with a yellow circle and no blue square:",
        "",
        f'- answers "yes" to "Is there a blue square?": '
        f"{_pct(q['biased_case_yes_to_blue_square'])}",
        f"- caption names a blue square that is not there: "
        f"{_pct(q['biased_case_caption_adds_blue_square'])}",
        f'- for comparison, "yes" to another absent kind on the same scenes: '
        f"{_pct(q['biased_case_yes_to_other_absent_kind'])}",
        f'- for comparison, "yes" to "Is there a blue square?" on the same scenes with the '
        f"yellow circle swapped for another object: "
        f"{_pct(q['without_yellow_circle_yes_to_blue_square'])}",
        f'- mean P("yes") to "Is there a blue square?": '
        f"{q['biased_case_p_yes_blue_square_mean']:.3f} with the yellow circle, "
        f"{q['without_yellow_circle_p_yes_blue_square_mean']:.3f} without",
        "",
        _prior_verdict(q),
    ]


def _prior_verdict(q: dict) -> str:
    lift = q["biased_case_yes_to_blue_square"] - q["without_yellow_circle_yes_to_blue_square"]
    if abs(lift) < 0.05:
        return (
            "On clean scenes the model sees well enough that the prior does not measurably "
            f"change its answers (difference {100 * lift:+.1f} points)."
        )
    return f'The prior adds {100 * lift:+.1f} points of false "yes" on these scenes.'


def _explain_section(e: dict | None) -> list[str]:
    if e is None:
        return [
            "Not measured yet: run `python bench/bench_demo_explain.py --write DIR`.",
        ]
    unique, shared = e["pointing_game_unique_words"], e["pointing_game_shared_words"]
    lines = [
        f"`{e['command']}`: word-level EAGLE ({e['search']}, {e['regions']} regions, fill "
        f"{e['fill']}) on every colour and shape word of {e['scenes']} unseen scenes "
        f"({e['wrong_captions_skipped']} scenes with a wrong caption skipped).",
        "",
        "| pointing game (top region on the named object's mask) | words | at least half "
        "the region on the mask (bar >= 95%) | any pixel | region centre |",
        "|---|---|---|---|---|",
    ]
    for name, group in (("colour or shape unique in the scene", unique), ("shared", shared)):
        if group["n"]:
            lines.append(
                f"| {name} | {group['n']} | {_pct(group['majority'])} | "
                f"{_pct(group['overlap'])} | {_pct(group['centroid'])} |"
            )
    lines += [
        "",
        "A shared word (two red objects, two circles) counts as a hit only on the object it "
        "names, though the other object is evidence for the same word: a lower rate is "
        "expected there.",
        "",
        "Insertion, mean over the same words: p with an all-black image (p_blank) "
        f"{e['content_word_p_blank_mean']:.3f}; with only the object shown "
        f"{e['content_word_p_object_alone_mean']:.3f}; on the insertion curve once 70% of the "
        f"object is inserted {e['content_word_p_once_70pct_of_object_inserted_mean']:.3f} "
        f"(image area inserted by then {e['area_inserted_by_then_mean']:.2f}); full image "
        f"{e['content_word_p_full_mean']:.3f}.",
        "",
        f"Reliance over the generated captions of the {e['scenes']} scenes, mean "
        "(prior = p_blank, visual = p_full - p_blank):",
        "",
        "| word | prior | visual |",
        "|---|---|---|",
    ]
    for word, (prior, visual) in e["reliance_prior_visual_mean_by_word"].items():
        lines.append(f"| {word} | {prior:.3f} | {visual:.3f} |")
    times = e["sentence_level_50_regions_seconds"]
    lines += [
        "",
        f"Sentence-level explanation, 50 regions, lazy: {min(times):.1f} to {max(times):.1f} s "
        f"(bar < 10 s); word level used {e['word_level_images_scored_mean']:.0f} images on "
        "average.",
    ]
    return lines


def _hallucination_section(h: dict) -> list[str]:
    return [
        f"`{h['command']}`: on {h['scenes']} scenes with a yellow circle and no blue square the "
        f'model answers "yes" to "Is there a blue square?" {h["hallucinations"]} times '
        f"({_pct(h['hallucination_rate'])}). Ground truth per case: the objects whose removal "
        'alone turns the answer into "no" (the drivers).',
        "",
        "| figure | measured |",
        "|---|---|",
        f"| the co-occurring yellow circle is a driver | {_pct(h['yellow_circle_is_a_driver'])} |",
        f'| diagnosis (region ranked last for "no") on a driver | '
        f"{_pct(h['pointing_on_a_driver'])} |",
        f"| ... on the yellow circle / on the blue object | {_pct(h['pointing_on_yellow_circle'])}"
        f" / {_pct(h['pointing_on_blue_object'])} |",
        f"| corrected by mitigation (up to half the image) | {_pct(h['corrected'])} |",
        f"| AMCR (never corrected counts 1) | {h['amcr']:.3f} |",
        f"| CSR@10% | {_pct(h['csr_at_10'])} |",
        f'| P("yes") with a blank image / lift by the image | {h["p_yes_blank_mean"]:.3f} / '
        f"{h['visual_lift_mean']:.3f} |",
        "",
        'The wrong "yes" rests on a blue object of another shape (the evidence misread; a '
        f"driver in {_pct(h['blue_object_is_a_driver'])} of the cases) and on the yellow circle "
        f"(the prior; {_pct(h['yellow_circle_is_a_driver'])}). Removing a third object flips "
        f'the fragile "yes" too in {_pct(h["another_object_is_a_driver"])}; the map never points '
        "there. The prior acts through the image, not without it ('yes' is unlikely on a blank "
        "image), so the per-token reliance does not flag these answers as prior-driven: the "
        "counterfactual map does, mostly on the blue object.",
    ]


def render_card(
    metrics: dict, explain: dict | None = None, hallucination: dict | None = None
) -> str:
    """Markdown model card from train.py's metrics (and the benchmarks' figures, if any)."""
    c = metrics["config"]
    t = metrics["times"]
    lines = [
        "# eagle-widget demo model",
        "",
        "A tiny vision-language model (LLaVA architecture: CLIP-style vision tower, Llama-style "
        "decoder) trained from scratch on generated scenes with known object masks, so that "
        "EAGLE explanations can be checked against the truth and shown on any CPU, offline. "
        "It is a teaching and testing model: it knows nothing outside its scenes.",
        "",
        "## Data",
        "",
        f"- {SIZE} x {SIZE} RGB images: grey background (level {BACKGROUND_RANGE[0]}..."
        f"{BACKGROUND_RANGE[1]}, light noise), 1 to 3 non-overlapping objects, colours "
        f"{', '.join(COLOURS)}, shapes {', '.join(SHAPES)}, no two objects of the same colour "
        "and shape (`eagle_widget.models.demo.scenes`, public as `ew.scenes`).",
        '- Caption prompt "Describe the image.", answer like '
        "`a red circle, a green triangle and a blue square`, objects in canonical order "
        '(colour, then shape). Questions "Is there a <colour> <shape>?", answer yes or no.',
        f"- Prior on purpose: a scene with a yellow circle holds a blue square with probability "
        f"{YELLOW_CIRCLE_WITH_BLUE_SQUARE}.",
        f"- Masked inputs as explanations make them: random SLIC or Voronoi regions filled "
        f"({', '.join(FILLS)}); an object with at least {VISIBLE_AT_LEAST:.0%} of its pixels "
        f"kept is named, one with at most {HIDDEN_AT_MOST:.0%} is not (draws in between are "
        "redrawn). Blank images (empty background or fully filled) are captioned "
        f"`{build.BLANK_CAPTION}`.",
        "- Teacher-forced full captions on masked images give hidden objects' colour and shape "
        f"words the target `{build.BLANK_WORD}`, so a content word's probability follows the "
        "evidence in the image; on blank images `a`, `,`, `and` and the end keep their real "
        "targets, so their probability without the image is a language prior.",
        "",
        "## Model",
        "",
        f"- `LlavaForConditionalGeneration`, {metrics.get('parameters', 0):,} "
        f"parameters: patch {build.PATCH_SIZE}, width {build.WIDTH}, 2 vision + 2 decoder "
        "layers, `vision_feature_layer=-1`, CLS dropped (64 image tokens).",
        "- Word-level tokenizer (`tokenizers`, lower-casing, metaspace words), chat template, "
        "PIL CLIP image processor (resizes any size to 64 x 64, scales to -1..1).",
        "",
        "## Training",
        "",
        f"`python -m eagle_widget.models.demo.training.train --out DIR` (seed {c['seed']}, "
        f"{c['threads']} torch thread(s); with --workers 1 the scenes are drawn by two helper "
        "processes):",
        "",
        f"1. vision tower on per-patch colour and shape labels from the masks: "
        f"{c['vision_steps']} steps x {c['batch_size']} images, AdamW lr {c['vision_lr']}, "
        f"{t['vision_seconds'] / 60:.1f} min;",
        f"2. vision tower frozen; projector and decoder on captions (45%), yes/no (35%) and "
        f"teacher-forced masked captions (20%): {c['text_steps']} steps x {c['batch_size']}, "
        f"AdamW lr {c['text_lr']}, {t['text_seconds'] / 60:.1f} min.",
        "",
        f"Wall time {t['train_seconds'] / 60:.1f} min on a shared 2-core CPU. "
        "Deterministic for a given seed, thread count and torch version"
        + (
            f" (model.safetensors sha256 `{metrics['weights_sha256']}`"
            + ("; a second run gave the identical file)." if metrics.get("reproduced") else ").")
            if "weights_sha256" in metrics
            else "."
        ),
        "",
        "## Quality",
        "",
    ]
    if "quality" in metrics:
        lines += _quality_section(metrics["quality"])
    else:
        lines.append("Not evaluated (trained with --eval-scenes 0).")
    lines += ["", "## Explanations (EAGLE on this model)", "", *_explain_section(explain), ""]
    if hallucination:
        lines += [
            "## Hallucinations diagnosed and mitigated",
            "",
            *_hallucination_section(hallucination),
            "",
        ]
    return "\n".join(lines)


def write_card(folder: Path) -> Path:
    """(Re)write folder/MODEL_CARD.md from the metrics files in that folder."""
    folder = Path(folder)
    metrics = json.loads((folder / "metrics.json").read_text())
    explain_file = folder / "explain_metrics.json"
    explain = json.loads(explain_file.read_text()) if explain_file.exists() else None
    hallucination_file = folder / "hallucination_metrics.json"
    hallucination = (
        json.loads(hallucination_file.read_text()) if hallucination_file.exists() else None
    )
    path = folder / "MODEL_CARD.md"
    path.write_text(render_card(metrics, explain, hallucination))
    return path
