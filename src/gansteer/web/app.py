"""`create_app(generator, direction_file)`: the explorer's FastAPI app (JSON API + one static page).

Routes: ``GET /`` the page, ``GET /api/info``, ``POST /api/render`` (image of a seed or latent edited by any number
of sliders at once), ``POST /api/strip`` (one direction across shifts for several seeds), ``POST
/api/directions/{k}`` (label / 1-5 rating, written back to the file). Every body is a pydantic model (extra fields
refused); anything invalid answers 4xx with ``{"error": "<one line>"}``, never a 500. Extend it with your own
`APIRouter`s (``routers=[...]``) that take ``Depends(get_explorer)``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from ..errors import GansteerError
from ..generators.base import Generator
from ..io.checkpoints import first_line
from .explorer import MAX_SEED, Explorer

STATIC = Path(__file__).with_name("static")
MAX_LABEL = 80
MAX_STRIP_SEEDS = 8
MAX_STRIP_STEPS = 15

Seed = Annotated[int, Field(strict=True, ge=0, le=MAX_SEED)]
Shift = Annotated[float, Field(allow_inf_nan=False)]  # size is checked against the file's ranges by the Explorer
Layers = Annotated[list[Annotated[int, Field(strict=True)]], Field(min_length=2, max_length=2)]
ClassIndex = Annotated[int, Field(strict=True, ge=0)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class RenderRequest(Body):
    """The page's state: a seed (or a latent of the set's space), a shift per moved slider, layers, class."""

    seed: Seed = 0
    latent: list[Shift] | None = Field(None, max_length=1 << 16, description="overrides seed")
    shifts: dict[int, Shift] = Field(default_factory=dict, max_length=4096)
    layers: Layers | None = Field(None, description="[start, stop) of edited layers")
    cls: ClassIndex | None = Field(None, alias="class")
    format: Literal["png", "jpeg"] = "png"
    client: str | None = Field(None, max_length=64)
    seq: Annotated[int, Field(strict=True, ge=0)] | None = None


class StripRequest(Body):
    direction: Annotated[int, Field(strict=True)]
    seeds: list[Seed] = Field(default_factory=lambda: [0, 1, 2, 3], min_length=1, max_length=MAX_STRIP_SEEDS)
    steps: Annotated[int, Field(strict=True, ge=2, le=MAX_STRIP_STEPS)] = 7
    low: Shift | None = None  # default: the direction's recommended range
    high: Shift | None = None
    layers: Layers | None = None
    cls: ClassIndex | None = Field(None, alias="class")


class AnnotateRequest(Body):
    """Fields left out stay as they are; a null rating clears it."""

    label: str | None = Field(None, max_length=MAX_LABEL, pattern=r"^[^\x00-\x1f\x7f]*$")
    rating: Annotated[int, Field(strict=True, ge=1, le=5)] | None = None


def get_explorer(request: Request) -> Explorer:
    """FastAPI dependency: the app's Explorer (generator + direction file), for routes added by other modules."""
    return request.app.state.explorer


ExplorerDep = Annotated[Explorer, Depends(get_explorer)]


def create_app(generator: Generator | str, direction_file: str | Path, *, top: int = 8,
               routers: Sequence[APIRouter] = ()) -> FastAPI:
    """The explorer app for `generator` (an instance or a name/path for `load_generator`) and a direction file.

    `top`: sliders shown at first (the page offers the rest on demand). `routers`: extra routes to include.
    """
    app = FastAPI(title="gansteer explorer", docs_url="/api/docs", redoc_url=None, openapi_url="/api/openapi.json")
    app.state.explorer = Explorer(generator, direction_file)
    app.state.top = max(1, int(top))
    install_error_handlers(app)
    app.include_router(api)
    for router in routers:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    return app


api = APIRouter(prefix="/api")


@api.get("/info")
def info(explorer: ExplorerDep, request: Request) -> dict[str, Any]:
    out = explorer.info()
    out["limits"].update(max_strip_seeds=MAX_STRIP_SEEDS, max_steps=MAX_STRIP_STEPS, max_label=MAX_LABEL)
    return {**out, "top": request.app.state.top}


@api.post("/render", responses={200: {"content": {"image/png": {}, "image/jpeg": {}}}})
def render(req: RenderRequest, explorer: ExplorerDep) -> Response:
    """The edited image. With `client` + `seq`, a request older than one already seen from that client is dropped
    (409), also when it is overtaken while waiting for the generator."""
    start = time.perf_counter()
    superseded = None
    if req.client is not None and req.seq is not None:
        client, seq = req.client, req.seq
        if explorer.is_superseded(client, seq, register=True):
            return stale(req)
        superseded = lambda: explorer.is_superseded(client, seq)  # noqa: E731
    if req.latent is not None:
        latent = explorer.latent_from_values(req.latent)
    else:
        latent = explorer.base_latent(req.seed, req.cls)
    image = explorer.render(latent, req.shifts, layers=req.layers, cls=req.cls, superseded=superseded)
    if image is None:
        return stale(req)
    data = explorer.encode(image, req.format)
    headers = {"Cache-Control": "no-store", "X-Seq": str(req.seq if req.seq is not None else ""),
               "Server-Timing": f"render;dur={(time.perf_counter() - start) * 1000:.2f}"}
    return Response(data, media_type=f"image/{req.format}", headers=headers)


def stale(req: RenderRequest) -> JSONResponse:
    return JSONResponse({"error": f"request {req.seq} of client {req.client} was superseded by a newer one"}, 409)


@api.post("/strip", responses={200: {"content": {"image/png": {}}}})
def strip(req: StripRequest, explorer: ExplorerDep) -> Response:
    """PNG grid: one row per seed, one column per shift from `low` to `high` (default: the recommended range)."""
    k = explorer.directions.check_index(req.direction)
    lo, hi = (float(x) for x in explorer.directions.shift_range[k])  # type: ignore[index]
    lo, hi = req.low if req.low is not None else lo, req.high if req.high is not None else hi
    shifts = [lo + (hi - lo) * i / (req.steps - 1) for i in range(req.steps)]
    images = explorer.strip(k, req.seeds, shifts, layers=req.layers, cls=req.cls)
    png = explorer.encode(images.flatten(0, 1), nrow=req.steps)
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})


@api.post("/directions/{k}")
def annotate(k: int, req: AnnotateRequest, explorer: ExplorerDep) -> dict[str, Any]:
    """Name and/or rate direction k; the file is rewritten atomically and its previous version kept as `.bak`."""
    return explorer.annotate(k, **req.model_dump(include=req.model_fields_set))


# ---------------------------------------------------------------------- errors
def install_error_handlers(app: FastAPI) -> None:
    """Every failure answers JSON {"error": one line}: 422 for bad input, the HTTP status for routing errors."""

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": describe_validation(exc.errors())}, 422)

    @app.exception_handler(GansteerError)
    async def bad_input(request: Request, exc: GansteerError) -> JSONResponse:
        return JSONResponse({"error": first_line(exc)}, 422)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"error": first_line(Exception(exc.detail))}, exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"error": f"internal error: {type(exc).__name__}: {first_line(exc)}"}, 500)


def describe_validation(errors: Sequence[Any]) -> str:
    """pydantic's error list -> "shifts.3: Input should be a finite number (+1 more)"."""
    if not errors:
        return "invalid request"
    e = errors[0]
    if e.get("type") == "json_invalid":
        return first_line(Exception(f"body is not valid JSON ({e.get('ctx', {}).get('error', 'decode error')})"))
    where = ".".join(str(part) for part in e.get("loc", ()) if part != "body") or "body"
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return first_line(Exception(f"{where}: {e.get('msg', 'invalid')}{more}"))
