"""Explorer add-on: start from an uploaded photo. `POST /api/photo` inverts it into the direction set's space and
answers the latent, which the page then sends with every render (the explorer's `latent` field).

Included by `gansteer explore` (`routers=[photo_router(...)]`); the page shows its file input only when
`GET /api/photo` answers.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, UploadFile
from PIL import Image

from ..errors import GansteerError
from .app import get_explorer
from .explorer import Explorer

MAX_UPLOAD = 20 * 1024 * 1024  # bytes
MAX_PIXELS = 40_000_000  # larger images are refused before decoding (decompression bombs)


def photo_router(encoder: str | Path | None = None, *, steps: int = 200) -> APIRouter:
    """Routes for photo upload; `encoder` (a `gansteer train-encoder` file) makes inversion faster and better."""
    router = APIRouter(prefix="/api")
    loaded: dict[str, Any] = {}

    def get_encoder(explorer: Explorer) -> Any:
        if encoder is not None and "encoder" not in loaded:
            from ..inversion import load_encoder

            loaded["encoder"] = load_encoder(encoder, explorer.generator)
        return loaded.get("encoder")

    @router.get("/photo")
    def photo_info(explorer: Annotated[Explorer, Depends(get_explorer)]) -> dict[str, Any]:
        return {"encoder": encoder is not None, "steps": steps, "space": explorer.directions.space,
                "max_bytes": MAX_UPLOAD}

    @router.post("/photo")
    def upload(photo: Annotated[UploadFile, File()], explorer: Annotated[Explorer, Depends(get_explorer)],
               cls: Annotated[int | None, Form(alias="class")] = None) -> dict[str, Any]:
        """Invert the uploaded image -> {latent, psnr, space, target (PNG data URL), seconds}."""
        from ..inversion import invert
        from ..viz.grid import to_uint8

        name = photo.filename or "upload"
        data = photo.file.read(MAX_UPLOAD + 1)
        if len(data) > MAX_UPLOAD:
            raise GansteerError(f"{name}: upload is larger than {MAX_UPLOAD // 2**20} MB")
        image = _decode(data, name)
        G, space = explorer.generator, explorer.directions.space
        if space.endswith("+"):
            raise GansteerError(f"directions in layered space {space!r}: the explorer starts from one vector only")
        inv = invert(image, G, encoder=get_encoder(explorer), steps=steps, space=space, cond=explorer.check_class(cls))
        buf = io.BytesIO()
        Image.fromarray(to_uint8(inv.target)[0]).save(buf, format="PNG")  # type: ignore[arg-type]
        return {"latent": inv.latent[0].tolist(), "space": space, "psnr": round(float(inv.psnr[0]), 2),  # type: ignore[index]
                "seconds": round(inv.info["seconds"], 2), "name": name,
                "target": "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()}

    return router


def _decode(data: bytes, name: str) -> Image.Image:
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_PIXELS:
                raise GansteerError(f"{name}: {image.width}x{image.height} pixels is too large; expected at most "
                                    f"{MAX_PIXELS:,} pixels")
            image.load()
            return image
    except GansteerError:
        raise
    except Exception as e:  # PIL raises many types for foreign bytes
        raise GansteerError(f"{name}: not a readable image ({type(e).__name__})") from None
