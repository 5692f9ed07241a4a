"""The label map's one encoding, and the one owner of the AUC, on hand-made maps and curves."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic import VisibilityModel, additive, block_image

import eagle_widget as ew
from eagle_widget import benchmarks as bm
from eagle_widget import wire
from eagle_widget.engine import Explanation, label_codec, metrics

IMAGE = block_image(4, 4, cell=8, seed=7)
BLOCKS = np.repeat(np.repeat(np.arange(16).reshape(4, 4), 8, 0), 8, 1)


def _explanation() -> Explanation:
    weights = np.linspace(0.0, 0.05, 16)
    model = VisibilityModel(BLOCKS, [additive(weights)], base=[0.2], words=[" red"])
    return ew.explain(model, IMAGE, n_regions=16, search="efficient")


def test_small_maps_are_uint16_and_huge_ones_int32_in_every_stored_form():
    small = np.arange(12, dtype=np.int32).reshape(3, 4)
    huge = small.copy()
    huge[0, 0] = 70_000
    assert label_codec.storage_dtype(small) == np.dtype("<u2")
    assert label_codec.storage_dtype(huge) == np.dtype("<i4")
    for labels in (small, huge):
        back = label_codec.unpack(label_codec.pack(labels))
        assert back.dtype == np.int32
        np.testing.assert_array_equal(back, labels)
    assert label_codec.to_bytes(small) == small.astype("<u2").tobytes()


def test_the_file_the_json_and_the_wire_carry_the_same_map(tmp_path):
    result = _explanation()
    from_file = Explanation.load(result.save(tmp_path / "r.npz")).labels
    from_json = Explanation.labels_from_dict(result.to_dict())
    traits = wire.labels_traits(result.labels)  # 32 x 32: no display shrink
    from_wire = np.frombuffer(traits["labels"], dtype="<u2").reshape(traits["labels_shape"])
    for labels in (from_file, from_json, from_wire):
        np.testing.assert_array_equal(labels, result.labels)


def test_the_wire_refuses_a_map_the_front_ends_uint16_cannot_hold():
    labels = np.zeros((2, 2), dtype=np.int32)
    labels[1, 1] = label_codec.UINT16_REGIONS
    with pytest.raises(ValueError, match="fewer than 65536 regions"):
        wire.labels_traits(labels)


def test_a_results_aucs_are_the_benchmark_metrics_on_its_curves():
    result = _explanation()
    assert result.insertion_auc == metrics.curve_auc(result.insertion_curve, result.areas)
    assert result.deletion_auc == bm.deletion_auc(result.deletion_curve, result.areas)
    # and they are the trapezoid: a curve that is 1 on the second half of the area scores 1/2
    areas = result.areas
    flat = (areas > 0.5).astype(float)[:, None]
    expected = ((flat[1:] + flat[:-1]) / 2 * np.diff(areas)[:, None]).sum()
    assert metrics.auc_per_target(flat, areas)[0] == pytest.approx(expected)
    assert 0.4 < expected < 0.6
