"""The label map's one byte encoding, shared by every place that stores or sends it.

A label map is H x W ints (a clip's: F x H x W, frame after frame), regions 0..N-1. Its
bytes are little-endian uint16 while N fits (every real map: SLIC gives hundreds) and int32
beyond. The result file (.npz) stores that array; the JSON summary stores the same bytes
zlib-compressed as base64 (JSON has no binary); the widget's wire sends the same uint16
bytes of a display-sized copy (`wire.labels_traits`: the front end reads a Uint16Array),
and the offline page carries the wire's bytes as they are.
"""

from __future__ import annotations

import base64
import zlib

import numpy as np

UINT16_REGIONS = 65536  # maps with fewer regions travel as uint16


def storage_dtype(labels: np.ndarray) -> np.dtype:
    """uint16 when every label fits, else int32 (both little-endian)."""
    return np.dtype("<u2") if labels.max(initial=0) < UINT16_REGIONS else np.dtype("<i4")


def to_bytes(labels: np.ndarray, dtype: np.dtype | None = None) -> bytes:
    """The map's rows (a clip's: frame after frame) as bytes of `dtype` (default: storage_dtype)."""
    dtype = storage_dtype(labels) if dtype is None else np.dtype(dtype)
    return np.ascontiguousarray(labels, dtype=dtype).tobytes()


def pack(labels: np.ndarray) -> dict:
    """A label map as JSON: a photo's 24 million labels as a few hundred KB, not 80 MB of
    text. {"shape", "dtype", "deflate": base64 of the zlib-compressed bytes}."""
    dtype = storage_dtype(labels)
    return {
        "shape": list(labels.shape),
        "dtype": dtype.str,
        "deflate": base64.b64encode(zlib.compress(to_bytes(labels, dtype), 6)).decode("ascii"),
    }


def unpack(packed: dict) -> np.ndarray:
    """The H x W (or F x H x W) int32 label map of `pack`'s dict."""
    raw = zlib.decompress(base64.b64decode(packed["deflate"]))
    labels = np.frombuffer(raw, dtype=np.dtype(packed["dtype"]))
    return labels.reshape(packed["shape"]).astype(np.int32)
