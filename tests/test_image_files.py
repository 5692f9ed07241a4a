"""Image files as users have them: 16-bit and float pixels, transparency, animation.

Issue 23, section 2, row 3: a 16-bit PNG was clipped to white (the model saw a blank image),
a float TIFF to black, transparent pixels showed what they hide, and an animated GIF's
other frames were dropped without a word.
"""

import warnings

import numpy as np
import pytest
from PIL import Image

from eagle_widget.engine.images import ALPHA_BACKGROUND, FirstFrameWarning, read_image

# a 16-bit ramp over the whole range: every 8-bit value appears, none is above 255 by luck
RAMP16 = np.linspace(0, 65535, 48 * 64).round().astype(np.uint16).reshape(48, 64)


def expected_8bit(values: np.ndarray, top: float) -> np.ndarray:
    return np.round(values / top * 255).astype(np.uint8)


def test_a_16_bit_grayscale_png_is_scaled_to_8_bits_not_clipped_to_white(tmp_path):
    path = tmp_path / "gray16.png"
    Image.fromarray(RAMP16).save(path)
    with Image.open(path) as stored:
        assert stored.mode.startswith("I")  # really 16-bit on disk
    array, notes = read_image(path)
    assert array.shape == (48, 64, 3) and array.dtype == np.uint8
    np.testing.assert_array_equal(array[:, :, 1], expected_8bit(RAMP16, 65535))
    assert (array[:, :, 0] == array[:, :, 2]).all()
    assert notes["scaled_from"] == [0, 65535]
    assert (array < 255).mean() > 0.99  # the blank white image it used to be fails this


def test_16_bit_and_float_tiffs_are_scaled_to_8_bits(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    rgb16 = np.dstack([RAMP16, RAMP16[::-1], RAMP16 // 2])
    tifffile.imwrite(tmp_path / "rgb16.tif", rgb16, photometric="rgb")
    np.testing.assert_allclose(
        read_image(tmp_path / "rgb16.tif")[0], expected_8bit(rgb16, 65535), atol=1
    )  # Pillow reads this one itself, keeping the high byte
    unit = (RAMP16 / 65535).astype(np.float32)
    Image.fromarray(unit).save(tmp_path / "gray32f.tif")  # Pillow's mode "F"
    array, notes = read_image(tmp_path / "gray32f.tif")
    np.testing.assert_array_equal(array[:, :, 0], expected_8bit(unit, 1.0))
    assert notes["scaled_from"] == [0, 1]
    colour = np.dstack([unit, unit[::-1], unit / 2])
    tifffile.imwrite(tmp_path / "rgb32f.tif", colour, photometric="rgb")  # Pillow cannot open it
    np.testing.assert_allclose(  # float32 rounding at .5 may go either way
        read_image(tmp_path / "rgb32f.tif")[0], expected_8bit(colour, 1), atol=1
    )
    tifffile.imwrite(tmp_path / "hdr.tif", colour * 1000 + 20, photometric="rgb")  # stretched
    array, notes = read_image(tmp_path / "hdr.tif")
    assert notes["scaled_from"] == pytest.approx([20, 1020], rel=1e-6)
    assert array.min() == 0 and array.max() == 255
    np.testing.assert_allclose(array, expected_8bit(colour * 1000, 1000), atol=1)


def test_a_16_bit_array_is_scaled_like_a_16_bit_file():
    np.testing.assert_array_equal(read_image(RAMP16)[0][:, :, 0], expected_8bit(RAMP16, 65535))


def test_transparent_pixels_are_composited_onto_the_documented_background(tmp_path):
    hidden = np.zeros((8, 10, 4), np.uint8)
    hidden[..., 0] = 255  # pure red everywhere...
    hidden[:, 5:, 3] = 255  # ...but only the right half is visible
    hidden[:, :5, 3] = 0
    hidden[0, 0, 3] = 128  # and one pixel half transparent
    Image.fromarray(hidden, "RGBA").save(tmp_path / "rgba.png")
    for given in (tmp_path / "rgba.png", hidden):
        array, notes = read_image(given)
        assert (array[:, 5:] == (255, 0, 0)).all()
        assert (array[1:, :5] == ALPHA_BACKGROUND).all()  # not the red under alpha 0
        np.testing.assert_allclose(array[0, 0], [255, 127, 127], atol=1)
        assert notes["alpha_background"] == list(ALPHA_BACKGROUND)
    opaque = hidden.copy()
    opaque[..., 3] = 255
    array, notes = read_image(opaque)
    assert (array == (255, 0, 0)).all() and "alpha_background" not in notes


def test_a_palette_image_with_a_transparent_colour_is_composited_too(tmp_path):
    indices = np.zeros((6, 6), np.uint8)
    indices[:, 3:] = 1
    picture = Image.fromarray(indices, "P")
    picture.putpalette([0, 0, 255, 0, 200, 0] + [0] * 762)
    picture.save(tmp_path / "palette.png", transparency=0)  # index 0 (blue) is transparent
    array, notes = read_image(tmp_path / "palette.png")
    assert (array[:, :3] == ALPHA_BACKGROUND).all() and (array[:, 3:] == (0, 200, 0)).all()
    assert notes["alpha_background"] == list(ALPHA_BACKGROUND)


def test_an_animated_gif_says_that_only_its_first_frame_is_used(tmp_path):
    frames = [Image.new("RGB", (12, 8), colour) for colour in ("red", "green", "blue")]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=100)
    with pytest.warns(FirstFrameWarning, match="3 frames; only frame 1"):
        array, notes = read_image(tmp_path / "anim.gif")
    assert notes["frames"] == 3 and notes["frame_used"] == 0
    assert array[0, 0, 0] > 200 and array[0, 0, 1] < 50  # the red first frame
    frames[0].save(tmp_path / "still.gif")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert "frames" not in read_image(tmp_path / "still.gif")[1]


def test_an_unreadable_file_names_its_path_once(tmp_path):
    path = tmp_path / "broken.png"
    path.write_bytes(b"not an image")
    with pytest.raises(ValueError) as error:
        read_image(path)
    assert str(error.value).count(str(path)) == 1, error.value
