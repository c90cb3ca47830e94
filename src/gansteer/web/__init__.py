"""The local web explorer: live sliders over a direction file, layer ranges, strips, naming and rating directions.

`create_app(generator, direction_file)` builds the FastAPI app; `gansteer explore` serves it on 127.0.0.1.
"""

from __future__ import annotations

from .app import create_app, get_explorer
from .explorer import Explorer

__all__ = ["Explorer", "create_app", "get_explorer"]
