"""The benchmark metrics and COCO mask decoding on small hand-made cases with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from eagle_widget import benchmarks as bm
from eagle_widget.benchmarks.tasks import read_list


def test_auc_is_the_trapezoid_over_uneven_areas_averaged_over_targets():
    areas = [0.0, 0.25, 1.0]
    curve = np.array([[0.0, 0.2], [1.0, 0.2], [1.0, 0.2]])
    # target 0: 0.25 * 0.5 + 0.75 * 1 = 0.875; target 1: 0.2
    assert bm.insertion_auc(curve, areas) == pytest.approx((0.875 + 0.2) / 2)
    assert bm.deletion_auc(curve, areas, targets=[1]) == pytest.approx(0.2)
    with pytest.raises(ValueError, match="rise from 0 to 1"):
        bm.insertion_auc(curve, [0.0, 0.5, 0.9])


def test_highest_score_is_the_max_of_the_mean_not_the_mean_of_the_maxima():
    curve = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.4, 0.4]])
    assert bm.highest_score(curve) == pytest.approx(0.5)  # the maxima's mean would be 1.0
    assert bm.highest_score(curve, targets=[0]) == pytest.approx(1.0)


def test_sensitive_targets_are_those_the_image_lifts_by_more_than_0_2():
    chosen = bm.sensitive_targets([0.9, 0.5, 0.3, 0.75], [0.1, 0.375, 0.0, 0.5])
    assert chosen.tolist() == [0, 2, 3]  # lifts 0.8, 0.125, 0.3, 0.25


def test_pointing_game_authors_rule_counts_any_top_pixel_the_strict_rule_most_of_them():
    attribution = np.zeros((10, 10))
    attribution[0:4, 0:4] = 1.0  # the top region: 16 pixels
    attribution[5:, 5:] = 0.5
    touching = [3, 3, 8, 8]  # holds 1 of the 16 top pixels (x2, y2 are edges)
    assert bm.pointing_game(attribution, box=touching)
    assert not bm.pointing_game(attribution, box=touching, rule="mostly")
    assert bm.pointing_game(attribution, box=[0, 0, 3, 3], rule="mostly")  # 9 of 16
    assert not bm.pointing_game(attribution, box=[5, 5, 10, 10])
    mask = np.zeros((10, 10), bool)
    mask[2:4, 0:4] = True  # 8 of 16: not more than half
    assert bm.pointing_game(attribution, mask=mask)
    assert not bm.pointing_game(attribution, mask=mask, rule="mostly")
    with pytest.raises(ValueError, match="exactly one"):
        bm.pointing_game(attribution)


def test_amcr_counts_a_never_corrected_item_as_1_and_csr_has_two_denominators():
    areas = [0.05, 0.20, 0.70, 0.10]
    corrected = [True, True, False, True]
    assert bm.amcr(areas, corrected) == pytest.approx((0.05 + 0.20 + 1.0 + 0.10) / 4)
    assert bm.csr(areas, corrected) == pytest.approx(2 / 4)  # ours: every item
    assert bm.csr(areas, corrected, rule="corrected") == pytest.approx(2 / 3)  # the authors'
    assert math.isnan(bm.csr([1.0], [False], rule="corrected"))


def test_rle_decodes_coco_strings_and_lists_column_by_column():
    mask = np.array([[0, 1], [1, 1]], dtype=bool)  # column-major: 0, 1, 1, 1 -> counts 1, 3
    assert bm.rle_encode(mask, compressed=False)["counts"] == [1, 3]
    assert bm.rle_encode(mask)["counts"] == "13"
    assert np.array_equal(bm.rle_decode({"size": [2, 2], "counts": "13"}), mask)
    rng = np.random.default_rng(0)
    for _ in range(50):  # long runs need several 5-bit groups and negative differences
        shape = tuple(rng.integers(1, 80, size=2))
        random = rng.random(shape) < rng.random()
        for compressed in (True, False):
            assert np.array_equal(bm.rle_decode(bm.rle_encode(random, compressed)), random)
    with pytest.raises(ValueError, match="cover"):
        bm.rle_decode({"size": [3, 3], "counts": [1, 3]})


def test_polygons_cover_the_pixels_whose_centres_lie_inside():
    square = bm.polygon_mask([1, 1, 5, 1, 5, 4, 1, 4], (6, 7))
    expected = np.zeros((6, 7), bool)
    expected[1:4, 1:5] = True
    assert np.array_equal(square, expected)
    triangle = bm.polygon_mask([0, 0, 4, 0, 0, 4], (4, 4))  # centres with x + y < 4
    assert triangle.sum() == 6 and triangle[0, 0] and not triangle[3, 3]
    both = bm.segmentation_mask([[1, 1, 5, 1, 5, 4, 1, 4], [0, 0, 4, 0, 0, 4]], (6, 7))
    assert np.array_equal(both, square | np.pad(triangle, ((0, 2), (0, 3))))
    with pytest.raises(ValueError, match="polygon"):
        bm.segmentation_mask([[1, 2, 3]], (6, 7))


def test_a_list_of_another_tasks_format_is_refused_naming_that_task(tmp_path):
    path = tmp_path / "list.json"
    path.write_text(
        '[{"image_path": "a.png", "gt_caption": ["x"], "generated_ids": [[1, 2]], '
        '"selected_interpretation_token_id": [0]}]'
    )
    with pytest.raises(ValueError, match="not a coco-object list.*looks like a coco-caption"):
        read_list("coco-object", path)
    with pytest.raises(ValueError, match="unknown task"):
        bm.load("coco", path, tmp_path)


def test_the_table_puts_the_papers_numbers_beside_ours_on_the_papers_models():
    rows = [
        {"id": "a", "status": "scored", "insertion_auc": 0.5, "deletion_auc": 0.25,
         "highest_score": 0.75, "pg_box": True, "pg_mask": False},
        {"id": "b", "status": "scored", "insertion_auc": 1.0, "deletion_auc": 0.0,
         "highest_score": 1.0, "pg_box": True, "pg_mask": True},
        {"id": "c", "status": "failed", "error": "image 'c.png' not found"},
    ]  # fmt: skip
    result = bm.EvaluationResult("coco-object", "Qwen/Qwen2.5-VL-3B-Instruct", {}, rows)
    lines = result.table().splitlines()
    ours = "| ours (Qwen/Qwen2.5-VL-3B-Instruct, 2 items) | 0.7500 | 0.1250 | 1.0000 | 0.5000 |"
    assert lines[2] == ours + " – | – |"
    assert lines[3].startswith("| paper (Qwen2.5-VL-3B) | 0.7353 | 0.1628 | 0.8104 | 0.7745 |")
    assert result.counts == {"items": 3, "scored": 2, "failed": 1, "pending": 0}
    assert len(bm.EvaluationResult("coco-object", "demo", {}, rows).table().splitlines()) == 3
