"""Images, regions and masked images: conversions, ground truth and clear errors."""

import numpy as np
import pytest
from PIL import Image
from skimage.measure import label as connected_components

from eagle_widget.engine import superpixels, to_rgb_array
from eagle_widget.engine.masking import compose, fill_image


def test_images_of_every_accepted_kind_become_rgb_uint8(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (12, 10, 3), dtype=np.uint8)
    path = tmp_path / "x.png"
    Image.fromarray(rgb).save(path)
    for given in (rgb, Image.fromarray(rgb), path, str(path)):
        np.testing.assert_array_equal(to_rgb_array(given), rgb)
    rgba = np.dstack([rgb, np.full((12, 10), 255, np.uint8)])  # opaque; see test_image_files
    np.testing.assert_array_equal(to_rgb_array(rgba), rgb)
    gray = rgb[:, :, 0]
    assert to_rgb_array(gray).shape == (12, 10, 3)
    np.testing.assert_array_equal(to_rgb_array(gray)[:, :, 2], gray)
    np.testing.assert_array_equal(to_rgb_array(rgb / 255.0), rgb)


def test_an_image_is_copied_so_later_changes_to_the_callers_array_do_not_leak_in():
    given = np.asarray(Image.fromarray(np.full((6, 8, 3), 9, np.uint8)))  # a read-only view
    assert not given.flags.writeable
    array = to_rgb_array(given)
    assert array.flags.writeable and array.flags.c_contiguous
    mine = np.full((6, 8, 3), 9, np.uint8)
    kept = to_rgb_array(mine)
    mine[:] = 0
    assert (kept == 9).all()


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((4, 4, 5), np.uint8), "shape"),
        (np.zeros((0, 4, 3), np.uint8), "empty"),
        (np.full((4, 4, 3), 2.0), r"\[0, 1\]"),
        (np.full((4, 4, 3), 300, np.int32), "0..255"),
        ([[1, 2], [3, 4]], "list"),
        ("/no/such/file.png", "not found"),
    ],
)
def test_bad_images_raise_errors_that_name_the_problem(bad, message):
    with pytest.raises(ValueError, match=message):
        to_rgb_array(bad)


def test_unreadable_image_file_is_a_clear_error(tmp_path):
    path = tmp_path / "broken.png"
    path.write_bytes(b"not an image")
    with pytest.raises(ValueError, match="cannot read image"):
        to_rgb_array(path)


def assert_valid_regions(labels):
    n = labels.max() + 1
    assert labels.min() == 0
    assert set(np.unique(labels)) == set(range(n))  # every label used, none skipped
    for region in range(n):  # each region is one connected piece
        assert connected_components(labels == region, connectivity=1).max() == 1


@pytest.mark.parametrize("shape", [(16, 16), (64, 48), (33, 77)])
def test_superpixels_cover_the_image_with_connected_regions(shape):
    image = np.random.default_rng(1).integers(0, 256, shape + (3,), dtype=np.uint8)
    labels = superpixels(image, 20)
    assert labels.shape == shape
    assert_valid_regions(labels)
    assert 5 <= labels.max() + 1 <= 40


def test_superpixels_follow_object_boundaries():
    image = np.zeros((64, 64, 3), np.uint8)
    image[:, :32] = (200, 30, 30)
    image[:, 32:] = (30, 30, 200)
    labels = superpixels(image, 16)
    for region in range(labels.max() + 1):
        columns = np.nonzero(labels == region)[1]
        assert columns.max() < 32 or columns.min() >= 32  # never straddles the edge


def test_more_regions_than_pixels_degrades_to_blocks():
    image = np.random.default_rng(2).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    labels = superpixels(image, 1000)
    assert_valid_regions(labels)
    assert labels.max() + 1 == 256  # one region per pixel
    assert superpixels(image, 1).max() == 0


def test_large_images_are_segmented_quickly_at_full_size():
    image = np.zeros((3000, 4000, 3), np.uint8)
    image[:, 2000:] = 255
    labels = superpixels(image, 50)
    assert labels.shape == (3000, 4000)
    assert 30 <= labels.max() + 1 <= 80
    assert_valid_regions(labels[::10, ::10])


@pytest.mark.parametrize("bad, error", [(0, ValueError), (-3, ValueError), (2.5, TypeError)])
def test_bad_region_counts_are_rejected(bad, error):
    with pytest.raises(error, match="n_regions"):
        superpixels(np.zeros((8, 8, 3), np.uint8), bad)


def test_insertion_and_deletion_images_keep_exactly_their_regions():
    image = np.random.default_rng(3).integers(1, 256, (6, 6, 3), dtype=np.uint8)
    labels = np.arange(36).reshape(6, 6) // 12  # three bands of two rows
    keep = np.array([[True, False, True], [False, False, False], [True, True, True]])
    filler = fill_image(image, 0)
    out = compose(image, filler, labels, keep)
    assert out.shape == (3, 6, 6, 3)
    np.testing.assert_array_equal(out[0][labels == 0], image[labels == 0])
    assert (out[0][labels == 1] == 0).all()
    assert (out[1] == 0).all()
    np.testing.assert_array_equal(out[2], image)
    deletion = compose(image, filler, labels, ~keep[:1])
    assert (deletion[0][labels == 0] == 0).all()
    np.testing.assert_array_equal(deletion[0][labels == 1], image[labels == 1])


@pytest.mark.parametrize("fill", [0, 255, (255, 128, 0), "mean", "blur"])
def test_composed_pixels_are_exactly_the_image_or_the_fill(fill):
    # compose works in wrapping uint8 arithmetic; fills brighter than the image must not
    # overflow into wrong colours anywhere, from 0 to 255
    rng = np.random.default_rng(5)
    image = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    image[0, :2] = [[0, 0, 0], [255, 255, 255]]
    labels = rng.integers(0, 7, (30, 40))
    keep = rng.random((5, 7)) < 0.5
    filler = fill_image(image, fill)
    expected = np.where(keep[:, labels][..., None], image, filler)
    np.testing.assert_array_equal(compose(image, filler, labels, keep), expected)


def test_fill_values():
    image = np.zeros((10, 10, 3), np.uint8)
    image[:5] = (100, 200, 50)
    assert (fill_image(image, 0) == 0).all()
    np.testing.assert_array_equal(fill_image(image, (1, 2, 3))[0, 0], (1, 2, 3))
    np.testing.assert_array_equal(fill_image(image, "mean")[3, 3], (50, 100, 25))
    blurred = fill_image(image, "blur")
    assert blurred.dtype == np.uint8 and 0 < blurred[5, 5, 0] < 100  # edges smeared
    for bad in ("gray", 300, (1, 2)):
        with pytest.raises(ValueError, match="fill"):
            fill_image(image, bad)
