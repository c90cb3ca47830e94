"""Explorer latency: slider change -> new image shown, measured inside headless Chromium (Debian's `chromium`).

    .venv/bin/python bench/explorer.py --generator dcgan-face --changes 200

Prints JSON lines:
- ``render``: the server's own work per frame (shift + forward + PNG encode), in-process, no HTTP;
- ``sequential``: one slider change at a time, each waiting for its image (input event -> decoded <img>);
  ``server_*``: the part spent in the server's handler (its Server-Timing header);
- ``drag``: a change every 16 ms (a 60 Hz drag); latency from each change to the first image that includes it,
  and how many positions were skipped as stale.
Goal: sequential p95 < 50 ms on dcgan-face.
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import resource
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gansteer import SeFa, load_generator
from gansteer.web import create_app
from gansteer.web.server import background_server

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]

# Runs in the page: `changes` slider moves on directions 0..3, sequentially or every `interval` ms.
MEASURE_JS = """
async ([changes, interval]) => {
  const sliders = [...document.querySelectorAll('.direction .shift')].slice(0, 4);
  const pending = [];  // [seq, t0] of changes not shown yet
  const latencies = [];
  let resolveShown = null;
  document.addEventListener('explorer:shown', (e) => {
    const now = performance.now();
    while (pending.length && pending[0][0] <= e.detail.seq) latencies.push(now - pending.shift()[1]);
    if (resolveShown && !pending.length) { resolveShown(); resolveShown = null; }
  });
  const idle = () => new Promise((r) => { if (!pending.length) r(); else resolveShown = r; });
  let shown = 0;
  performance.clearResourceTimings();
  performance.setResourceTimingBufferSize(10 * changes);
  document.addEventListener('explorer:shown', () => { shown += 1; });
  for (let i = 0; i < changes; i++) {
    const s = sliders[i % sliders.length];
    const lo = Number(s.min), hi = Number(s.max);
    s.value = String(lo + (hi - lo) * ((i * 37) % 100) / 100);
    pending.push([window.explorer.render.seq + 1, performance.now()]);
    s.dispatchEvent(new Event('input', { bubbles: true }));
    if (interval > 0) await new Promise((r) => setTimeout(r, interval)); else await idle();
  }
  await idle();
  const server = performance.getEntriesByType('resource').filter((e) => e.name.endsWith('/api/render'))
    .map((e) => e.serverTiming.length ? e.serverTiming[0].duration : null).filter((d) => d !== null);
  return { latencies, shown, server };
}
"""


def percentiles(ms: list[float]) -> dict[str, float]:
    a = np.asarray(ms)
    return {"p50_ms": round(float(np.percentile(a, 50)), 2), "p95_ms": round(float(np.percentile(a, 95)), 2),
            "max_ms": round(float(a.max()), 2), "mean_ms": round(float(a.mean()), 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--generator", default="dcgan-face")
    ap.add_argument("--directions", type=Path, default=None, help="direction file (default: SeFa k=10, temporary)")
    ap.add_argument("--changes", type=int, default=200)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    ap.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    ap.add_argument("--screenshot", type=Path, default=None, help="also save a screenshot of the page here")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from playwright.sync_api import sync_playwright

    G = load_generator(args.generator)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / (args.directions.name if args.directions else "sefa.safetensors")
        if args.directions:
            shutil.copy(args.directions, path)
        else:
            SeFa(k=10).fit(G).directions().save(path)
        app = create_app(G, path)
        common = {"bench": "explorer", "generator": G.name, "threads": torch.get_num_threads(),
                  "cpu": platform.processor() or platform.machine()}

        def render_only() -> list[float]:
            explorer, latent, times = app.state.explorer, app.state.explorer.base_latent(0), []
            for i in range(args.changes):
                t0 = time.perf_counter()
                explorer.encode(explorer.render(latent, {i % 4: -2 + 4 * ((i * 37) % 100) / 100}))
                times.append((time.perf_counter() - t0) * 1000)
            return times

        with ThreadPoolExecutor(1) as pool:  # a worker thread, as in the server (torch threads behave per thread)
            times = pool.submit(render_only).result()
        print(json.dumps({**common, "mode": "render", "changes": args.changes, **percentiles(times)}), flush=True)

        with background_server(app) as url, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=args.chromium, args=ARGS)
            page = browser.new_page(viewport={"width": 1200, "height": 820})
            page.goto(url)
            page.wait_for_function("Number(document.getElementById('image').dataset.seq) >= 1")
            page.evaluate(MEASURE_JS, [20, 0])  # warm-up
            for mode, interval in (("sequential", 0), ("drag", 16)):
                out = page.evaluate(MEASURE_JS, [args.changes, interval])
                server = percentiles(out["server"])
                print(json.dumps({**common, "mode": mode, "changes": args.changes, "images_shown": out["shown"],
                                  **percentiles(out["latencies"]), "server_p50_ms": server["p50_ms"],
                                  "server_p95_ms": server["p95_ms"]}), flush=True)
            if args.screenshot:
                take_screenshot(page, args.screenshot)
            browser.close()
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps({**common, "mode": "memory", "server_peak_rss_mb": round(rss, 1)}), flush=True)


def take_screenshot(page, path: Path) -> None:
    """The page after a few edits, with the strip of direction 0 open."""
    page.click("#reset")
    for k, value in ((0, "1.8"), (4, "-1.2")):
        page.locator(f".direction[data-k='{k}'] .shift").fill(value)
    page.locator(".direction[data-k='0'] .strip-button").click()
    page.wait_for_selector("#strip-view:not([hidden])")
    time.sleep(0.5)
    path.parent.mkdir(parents=True, exist_ok=True)
    shot = Image.open(io.BytesIO(page.screenshot(full_page=True))).convert("RGB")
    shot.quantize(256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)  # ~3x smaller for the README
    print(json.dumps({"bench": "explorer", "screenshot": str(path)}), flush=True)


if __name__ == "__main__":
    main()
