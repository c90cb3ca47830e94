"""Photographs in: read (PIL), check channels, crop a square (a box or the centre), resize to the generator's size.

Channel rule (the generator has C = 3 or 1 channels): grey (1 channel) and RGB (3) photos are converted to C;
an alpha channel (LA, RGBA) is dropped when every pixel is opaque, and refused otherwise, since any background we
invented would be fitted as if it were part of the photo; any other channel count is refused.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch import Tensor

from ..errors import GansteerError
from ..io.checkpoints import first_line

Box = tuple[int, int, int, int]
ImageSource = str | Path | Image.Image | np.ndarray


def load_image(source: ImageSource, resolution: int, *, channels: int = 3, crop: Box | None = None) -> Tensor:
    """(1, channels, resolution, resolution) float tensor in [-1, 1].

    `source` is a path (EXIF orientation applied), a PIL image or an (H, W[, C]) uint8 / float-in-[0, 1] array.
    `crop` = (x0, y0, x1, y1) in pixels (x1, y1 exclusive) picks the region first; a non-square region (or the whole
    image by default) is then centre-cropped to its largest square, which must be at least `resolution` pixels wide.
    """
    name = str(source) if isinstance(source, (str, Path)) else f"<{type(source).__name__}>"
    image = _open(source, name)
    image = _to_mode(image, name, channels)
    image = _square(image, name, crop)
    if image.width < resolution:
        raise GansteerError(
            f"{name}: the cropped image is {image.width}x{image.height} pixels; "
            f"expected at least {resolution}x{resolution} (the generator's resolution)"
        )
    if image.width != resolution:
        image = image.resize((resolution, resolution), Image.Resampling.LANCZOS)
    array = np.asarray(image, dtype=np.float32).reshape(resolution, resolution, -1)
    return torch.from_numpy(array).permute(2, 0, 1).unsqueeze(0).contiguous() / 127.5 - 1


def _open(source: ImageSource, name: str) -> Image.Image:
    if isinstance(source, Image.Image):
        return source
    if isinstance(source, np.ndarray):
        return _from_array(source, name)
    path = Path(source)
    if not path.is_file():
        raise GansteerError(f"image {name} does not exist")
    try:
        with Image.open(path) as image:
            image.load()
            return ImageOps.exif_transpose(image)  # phone photos: apply the EXIF rotation
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as e:
        raise GansteerError(f"{name}: not a readable image ({first_line(e)})") from None


def _from_array(array: np.ndarray, name: str) -> Image.Image:
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] not in (1, 2, 3, 4):
        raise GansteerError(f"{name}: array of shape {array.shape}; expected (H, W) or (H, W, C) with C in 1..4")
    if array.dtype != np.uint8:
        if not np.issubdtype(array.dtype, np.floating) or not np.isfinite(array).all():
            raise GansteerError(f"{name}: array of dtype {array.dtype}; expected uint8 or finite floats in [0, 1]")
        array = (np.clip(array, 0, 1) * 255).round().astype(np.uint8)
    mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[array.shape[2]]
    return Image.fromarray(np.ascontiguousarray(array.squeeze(2) if mode == "L" else array), mode)


def _to_mode(image: Image.Image, name: str, channels: int) -> Image.Image:
    if image.mode == "P":  # palette: its entries may carry transparency
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):  # 16/32-bit grey: scale to 8 bits
        array = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I") and array.max() > 255 else 255.0
        image = Image.fromarray(np.clip(array / top * 255, 0, 255).round().astype(np.uint8), "L")
    elif image.mode in ("CMYK", "YCbCr", "LAB", "HSV", "1"):
        image = image.convert("RGB" if image.mode != "1" else "L")
    if image.mode in ("LA", "RGBA", "PA", "La", "RGBa"):
        alpha = np.asarray(image.getchannel("A"))
        if alpha.min() < 255:
            raise GansteerError(
                f"{name}: image has {len(image.getbands())} channels with transparent pixels; "
                "expected an opaque grey or RGB image (flatten it onto a background first)"
            )
        image = image.convert("RGB" if image.mode.startswith("RGB") else "L")
    if image.mode not in ("L", "RGB"):
        raise GansteerError(f"{name}: image mode {image.mode!r} is not supported; expected a grey or RGB image")
    if channels not in (1, 3):
        raise GansteerError(f"generator makes {channels}-channel images; photos can only be matched to 1 or 3")
    return image.convert("L" if channels == 1 else "RGB")


def _square(image: Image.Image, name: str, crop: Box | None) -> Image.Image:
    if crop is not None:
        x0, y0, x1, y1 = (int(v) for v in crop)
        if not (0 <= x0 < x1 <= image.width and 0 <= y0 < y1 <= image.height):
            raise GansteerError(
                f"{name}: crop box {x0},{y0},{x1},{y1} is not inside the {image.width}x{image.height} image; "
                "expected x0,y0,x1,y1 with 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height"
            )
        image = image.crop((x0, y0, x1, y1))
    side = min(image.width, image.height)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    return image.crop((left, top, left + side, top + side)) if (image.width, image.height) != (side, side) else image
