"""Shared option types and decorators: index ranges ("0-7", "0,3,5"), shift ranges ("-3:3:7"), generators."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import click


class IndexList(click.ParamType):
    """ "0-7", "0,2,5", "3" or "0-3,8" -> a list of non-negative ints (ranges inclusive)."""

    name = "RANGE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> list[int]:
        if isinstance(value, list):
            return value
        out: list[int] = []
        try:
            for part in str(value).split(","):
                lo, sep, hi = part.strip().partition("-")
                start, stop = int(lo), int(hi) if sep else int(lo)
                if start < 0 or stop < start:
                    raise ValueError
                out.extend(range(start, stop + 1))
        except ValueError:
            self.fail(f"{value!r} is not an index list; expected e.g. 0-7, 0,2,5 or 3", param, ctx)
        return out


class LayerRange(click.ParamType):
    """ "2-5" (inclusive) -> (2, 6), the half-open range the API uses."""

    name = "START-END"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[int, int]:
        if isinstance(value, tuple):
            return value
        lo, sep, hi = str(value).partition("-")
        try:
            start, end = int(lo), int(hi) if sep else int(lo)
        except ValueError:
            self.fail(f"{value!r} is not a layer range; expected START-END, e.g. 0-5", param, ctx)
        if start < 0 or end < start:
            self.fail(f"{value!r} is not a layer range; expected 0 <= START <= END", param, ctx)
        return (start, end + 1)


class Shifts(click.ParamType):
    """ "-3:3:7" (start:stop:count, inclusive) or "-2,0,2" -> a list of finite floats."""

    name = "SHIFTS"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> list[float]:
        if isinstance(value, list):
            return value
        text = str(value)
        try:
            if ":" in text:
                lo, hi, n = text.split(":")
                count = int(n)
                if count < 1:
                    raise ValueError
                shifts = [float(lo) + (float(hi) - float(lo)) * i / max(count - 1, 1) for i in range(count)]
            else:
                shifts = [float(x) for x in text.split(",")]
        except ValueError:
            self.fail(f"{value!r} is not a shift list; expected START:STOP:COUNT (e.g. -3:3:7) or -2,0,2", param, ctx)
        if not all(math.isfinite(s) for s in shifts):
            self.fail(f"{value!r} contains a non-finite shift", param, ctx)
        return shifts


def generator_option(default: str | None = "dcgan-face") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """--generator and --format (passed to the command), and --truncation (kept for `open_generator`)."""

    def keep_truncation(ctx: click.Context, param: click.Parameter, value: float | None) -> None:
        ctx.meta["gansteer.truncation"] = value

    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        f = click.option("--truncation", type=click.FloatRange(0, 1, min_open=True), default=None, expose_value=False,
                         callback=keep_truncation, metavar="PSI",
                         help="Truncation psi of generators that have one (BigGAN, StyleGAN2; 1 = none) "
                              "[default: the generator's own].")(f)
        f = click.option("--format", "generator_format", default=None, metavar="NAME",
                         help="Force the checkpoint format instead of detecting it (see `gansteer generators`).")(f)
        return click.option(
            "--generator", "-g", default=default, show_default=True, required=default is None, metavar="NAME|PATH",
            help="A registered generator name, a checkpoint path, or package.module:factory.")(f)
    return decorate


def open_generator(spec: str, fmt: str | None) -> Any:
    from ..generators import load_generator

    ctx = click.get_current_context(silent=True)
    truncation = ctx.meta.get("gansteer.truncation") if ctx is not None else None
    return load_generator(spec, format=fmt, **({"truncation": truncation} if truncation is not None else {}))


def threads_option(f: Callable[..., Any]) -> Callable[..., Any]:
    def set_threads(ctx: click.Context, param: click.Parameter, value: int | None) -> int | None:
        if value is not None:
            import torch

            torch.set_num_threads(value)
        return value

    return click.option("--threads", type=click.IntRange(min=1), default=None, expose_value=False, callback=set_threads,
                        help="CPU threads for torch (default: torch's choice).")(f)
