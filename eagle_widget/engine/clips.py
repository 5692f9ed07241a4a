"""Turn whatever the user passes as a clip into one F x H x W x 3 uint8 array, and record
where each frame came from: the frames' order is part of the result, so that a map is
always shown on the frame it was measured on.

A clip is a list or tuple of frames (paths, PIL images, arrays), an F x H x W x 3 array, a
folder of frame images (natural name order: frame2 before frame10), or a video file. A
video file needs PyAV (`pip install av`): its wheels ship their own FFmpeg, so nothing
else has to be installed on the system; without it reading one is a clear error.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .images import read_image

# Frames a video file is sampled to when `frames` is not given (every frame of a list, an
# array or a folder is used unless `frames` asks for fewer).
DEFAULT_VIDEO_FRAMES = 8
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv")
VIDEO_PACKAGE = "av"  # PyAV: maintained, and its wheels carry FFmpeg


class VideoReaderMissing(ImportError):
    """A video file was given but PyAV, which decodes it, is not installed."""


def is_clip(visual) -> bool:
    """Whether `visual` is a clip rather than one image, decided without reading it (so a
    model that takes no clips can refuse one before any slow work)."""
    if isinstance(visual, (list, tuple)):
        return True
    if isinstance(visual, np.ndarray):
        return visual.ndim == 4
    if isinstance(visual, (str, Path)):
        path = Path(visual)
        return path.is_dir() or path.suffix.lower() in VIDEO_SUFFIXES
    return False


def read_clip(clip, frames: int | None = None) -> tuple[np.ndarray, dict]:
    """(F x H x W x 3 uint8 frames, the record of where they came from).

    `frames`: sample that many frames evenly (the middle of F equal stretches of the
    source); None: every frame, or DEFAULT_VIDEO_FRAMES of a video file. The record, JSON-
    able: {"source": "list" | "array" | "folder" | "video", "count": F, "indices": the
    source frame of each frame, "of": the source's frame count}, with "names" (file names,
    in order) for frames read from files and "times" (seconds) for a video file.
    """
    frames = _checked_frames(frames)
    if isinstance(clip, (str, Path)):
        path = Path(clip)
        if path.is_dir():
            return _read_folder(path, frames)
        if path.suffix.lower() in VIDEO_SUFFIXES:
            return _read_video(path, frames)
        raise ValueError(f"{str(path)!r} is not a clip: give a folder of frames or a video file")
    if isinstance(clip, np.ndarray):
        if clip.ndim != 4:
            raise ValueError(f"a clip array is F x H x W x 3, got shape {clip.shape}")
        return _stacked(list(clip), frames, {"source": "array"})
    if isinstance(clip, (list, tuple)):
        names = [Path(f).name for f in clip] if all(_is_path(f) for f in clip) else None
        record = {"source": "list"} | ({"names": names} if names else {})
        return _stacked(list(clip), frames, record)
    raise TypeError(
        "a clip must be a list of frames, an F x H x W x 3 array, a folder of frames or a "
        f"video file, got {type(clip).__name__}"
    )


def sample_indices(total: int, frames: int | None) -> list[int]:
    """`frames` source indices spread evenly over `total` (the middle of each of `frames`
    equal stretches), in order; every index when `frames` is None or not below `total`."""
    if frames is None or frames >= total:
        return list(range(total))
    return [int((2 * i + 1) * total // (2 * frames)) for i in range(frames)]


def natural_key(name: str) -> list:
    """Sort key that reads digit runs as numbers: frame2.png before frame10.png."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def _is_path(value) -> bool:
    return isinstance(value, (str, Path))


def _checked_frames(frames) -> int | None:
    if frames is None:
        return None
    if isinstance(frames, bool) or not isinstance(frames, (int, np.integer)) or frames < 1:
        raise ValueError(f"frames must be None or a positive int, got {frames!r}")
    return int(frames)


def _stacked(items: list, frames: int | None, record: dict) -> tuple[np.ndarray, dict]:
    """The sampled items read as frames of one size, and the record with their indices."""
    if not items:
        raise ValueError("the clip has no frames")
    indices = sample_indices(len(items), frames)
    pixels = []
    for index in indices:
        try:
            array, _ = read_image(items[index])
        except (TypeError, ValueError) as error:
            raise type(error)(f"frame {index} of the clip: {error}") from None
        if pixels and array.shape != pixels[0].shape:
            raise ValueError(
                f"frame {index} of the clip is {array.shape[0]} x {array.shape[1]} but frame "
                f"{indices[0]} is {pixels[0].shape[0]} x {pixels[0].shape[1]} (height x width): "
                "every frame of a clip has one size"
            )
        pixels.append(array)
    if "names" in record:
        record["names"] = [record["names"][i] for i in indices]
    record.update(count=len(indices), indices=indices, of=len(items))
    return np.stack(pixels), record


def _read_folder(path: Path, frames: int | None) -> tuple[np.ndarray, dict]:
    from PIL import Image

    suffixes = {s.lower() for s in Image.registered_extensions()}
    files = sorted(
        (f for f in path.iterdir() if f.is_file() and not f.name.startswith(".")),
        key=lambda f: natural_key(f.name),
    )
    files = [f for f in files if f.suffix.lower() in suffixes]
    if not files:
        raise ValueError(f"the folder {str(path)!r} holds no image files to read as frames")
    return _stacked(files, frames, {"source": "folder", "names": [f.name for f in files]})


def _read_video(path: Path, frames: int | None) -> tuple[np.ndarray, dict]:
    if not path.is_file():
        raise ValueError(f"cannot read video {str(path)!r}: file not found")
    frames = frames or DEFAULT_VIDEO_FRAMES
    try:
        import av
    except ImportError:
        raise VideoReaderMissing(
            f"reading the video file {path.name} needs PyAV: pip install {VIDEO_PACKAGE} (its "
            "wheels ship their own FFmpeg; no system FFmpeg is needed). Or give the clip as a "
            "folder of frame images, a list of frames or an F x H x W x 3 array"
        ) from None
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ValueError(f"cannot read video {path.name}: it holds no video stream")
            stream = container.streams.video[0]
            declared = int(stream.frames or 0)
            rate = float(stream.average_rate) if stream.average_rate else None
        total = declared or _count_frames(av, path)
        kept, total = _decode(av, path, sample_indices(total, frames))
        if len(kept) < min(total, frames):
            # the container's frame count was wrong: sample again over the frames it holds
            kept, total = _decode(av, path, sample_indices(_count_frames(av, path), frames))
    except av.FFmpegError as error:
        raise ValueError(f"cannot read video {path.name}: {error}") from None
    if not kept:
        raise ValueError(f"cannot read video {path.name}: it decodes to no frames")
    pixels = [array for _, array, _ in kept]
    if any(array.shape != pixels[0].shape for array in pixels):
        raise ValueError(f"the frames of {path.name} change size: a clip's frames have one size")
    record = {
        "source": "video",
        "name": path.name,
        "count": len(kept),
        "indices": [index for index, _, _ in kept],
        "of": total,
        "times": [time for _, _, time in kept],
    }
    if rate:
        record["fps"] = rate
    return np.stack(pixels), record


def _count_frames(av, path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def _decode(av, path: Path, wanted: list[int]) -> tuple[list, int]:
    """[(source index, H x W x 3 uint8, seconds)] of the `wanted` frames, in order, and how
    many frames the file decoded to. Every frame is decoded (a clip is short) but only the
    wanted ones are converted."""
    wanted_set, kept, index = set(wanted), [], -1
    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in wanted_set:
                seconds = float(frame.time) if frame.time is not None else None
                kept.append((index, frame.to_ndarray(format="rgb24"), seconds))
    return kept, index + 1
