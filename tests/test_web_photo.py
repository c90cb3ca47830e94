from __future__ import annotations

import io

import numpy as np
import torch
from fastapi.testclient import TestClient
from PIL import Image

from gansteer import SeFa
from gansteer.viz.grid import to_uint8
from gansteer.web import create_app
from gansteer.web.photo import photo_router


def png_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def test_uploaded_photo_becomes_the_starting_latent(tiny, tmp_path):
    path = SeFa(k=3).fit(tiny).directions().save(tmp_path / "d.safetensors")
    client = TestClient(create_app(tiny, path, routers=[photo_router(steps=80)]))
    assert client.get("/api/photo").json() == {"encoder": False, "steps": 80, "space": "z", "max_bytes": 20 << 20}
    z = tiny.sample_latent(1, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        photo = to_uint8(tiny(z))[0]
    r = client.post("/api/photo", files={"photo": ("face.png", png_bytes(photo), "image/png")})
    assert r.status_code == 200, r.text
    out = r.json()
    assert len(out["latent"]) == 8 and out["psnr"] > 30 and out["target"].startswith("data:image/png;base64,")
    assert torch.dist(torch.tensor(out["latent"]), z[0]) < 0.5  # random latents are ~3.7 apart
    render = client.post("/api/render", json={"latent": out["latent"]})
    assert render.status_code == 200
    shown = np.asarray(Image.open(io.BytesIO(render.content)), np.float64)
    assert np.abs(shown - photo).mean() < 3  # the page now shows the photo's reconstruction

    for files, message in [
        ({"photo": ("x.png", b"not an image", "image/png")}, "x.png: not a readable image"),
        ({"photo": ("s.png", png_bytes(np.zeros((8, 8, 3), np.uint8)), "image/png")}, "expected at least 16x16"),
    ]:
        r = client.post("/api/photo", files=files)
        assert r.status_code == 422 and message in r.json()["error"], r.text
        assert "\n" not in r.json()["error"]
    assert client.post("/api/photo").status_code == 422  # no file
    assert TestClient(create_app(tiny, path)).get("/api/photo").status_code == 404  # page hides the input


def test_page_has_the_photo_input():
    from gansteer.web.app import STATIC

    html = (STATIC / "index.html").read_text()
    assert 'id="photo"' in html and "/static/photo.js" in html
    assert "body.latent = state.latent" in (STATIC / "app.js").read_text()
    assert 'fetch("/api/photo", { method: "POST"' in (STATIC / "photo.js").read_text()


def test_uploading_in_the_browser_shows_the_photo_and_a_seed_leaves_it(tiny, tmp_path):
    import shutil

    import pytest

    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not shutil.which(chromium):
        pytest.skip("chromium is not installed")
    from gansteer.web.server import background_server

    path = SeFa(k=3).fit(tiny).directions().save(tmp_path / "d.safetensors")
    with torch.no_grad():
        photo = to_uint8(tiny(tiny.sample_latent(1, generator=torch.Generator().manual_seed(7))))[0]
    Image.fromarray(photo).save(tmp_path / "face.png")
    app = create_app(tiny, path, top=3, routers=[photo_router(steps=40)])
    with background_server(app) as url, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        page.goto(url)
        seq = "Number(document.getElementById('image').dataset.seq)"
        page.wait_for_function(f"{seq} >= 1")
        seed_image, before = page.locator("#image").screenshot(), page.evaluate(seq)
        assert page.locator("#photo-row").is_visible()
        page.set_input_files("#photo", str(tmp_path / "face.png"))
        page.wait_for_function(f"{seq} > {before} && !document.getElementById('photo-target').hidden")
        assert "PSNR" in page.inner_text("#photo-status")
        assert page.locator("#image").screenshot() != seed_image
        before = page.evaluate(seq)
        page.fill("#seed", "0")
        page.dispatch_event("#seed", "change")
        page.wait_for_function(f"{seq} > {before}")
        assert page.locator("#image").screenshot() == seed_image  # choosing a seed leaves the photo
        browser.close()
