from __future__ import annotations

import io
import itertools
import json
import threading
import time
from typing import Annotated

import httpx
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient
from PIL import Image
from torch import nn

from gansteer import DirectionSet, GansteerError, Generator, SeFa, load_generator
from gansteer.traversal import apply_direction, apply_shifts, latents_for_seeds, row_label
from gansteer.viz.grid import to_uint8
from gansteer.web import Explorer, create_app, get_explorer
from gansteer.web.server import background_server


class LayeredTiny(Generator):
    """3 edit layers, 2 classes, 8x8 images: each layer's latent has its own projection, so layer ranges matter."""

    name, latent_dim, num_layers, num_classes, resolution, channels = "layered-tiny", 4, 3, 2, 8, 3

    def __init__(self) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.proj = nn.Parameter(torch.randn(3, 4, 3 * 8 * 8, generator=g) * 0.3)  # (L, D, pixels)
        self.embed = nn.Parameter(torch.randn(2, 3 * 8 * 8, generator=g) * 0.5)  # (classes, pixels)
        self.freeze()

    def synthesize(self, latent, *, space, cond):
        lat = self.expand_layers(latent, space)  # (N, L, D)
        return torch.tanh(torch.einsum("nld,ldp->np", lat, self.proj) + cond @ self.embed).reshape(-1, 3, 8, 8)


@pytest.fixture(scope="module")
def tiny_file(tmp_path_factory):
    G = load_generator("dcgan-tiny")
    ds = SeFa(k=5).fit(G).directions()
    ds.shift_range[1] = torch.tensor([-2.0, 5.0])
    path = tmp_path_factory.mktemp("web") / "tiny.safetensors"
    ds.save(path)
    return G, path


@pytest.fixture
def client(tiny_file, tmp_path):
    G, src = tiny_file
    path = tmp_path / "dirs.safetensors"
    path.write_bytes(src.read_bytes())
    return TestClient(create_app(G, path, top=3)), G, path


@pytest.fixture(scope="module")
def layered_client(tmp_path_factory):
    G = LayeredTiny()
    path = tmp_path_factory.mktemp("layered") / "dirs.safetensors"
    DirectionSet(torch.eye(4)[:3], space="z", generator=G.name).save(path)
    return TestClient(create_app(G, path)), G, path


def pixels(response) -> np.ndarray:
    assert response.status_code == 200, response.text
    return np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB"))


def test_info_lists_directions_ranges_and_generator(client):
    c, G, path = client
    info = c.get("/api/info").json()
    assert info["file"] == path.name and info["top"] == 3 and info["method"] == "sefa"
    assert info["generator"]["name"] == "dcgan-tiny" and info["generator"]["latent_dim"] == 8
    assert [d["index"] for d in info["directions"]] == [0, 1, 2, 3, 4]
    assert info["directions"][1]["range"] == [-2.0, 5.0] and info["directions"][0]["range"] == [-3.0, 3.0]
    assert info["layers"] is None and info["warning"] is None
    assert c.get("/").status_code == 200 and "app.js" in c.get("/").text
    assert "requestRender" in c.get("/static/app.js").text


def test_render_applies_every_slider_at_once(client):
    c, G, path = client
    ds = DirectionSet.load(path)
    plain = pixels(c.post("/api/render", json={"seed": 5}))
    edited = pixels(c.post("/api/render", json={"seed": 5, "shifts": {"0": 1.5, "2": -2.0, "3": 0}}))
    z = latents_for_seeds(G, [5])
    with torch.inference_mode():
        want = to_uint8(G(z + 1.5 * ds.vectors[0] - 2.0 * ds.vectors[2]))[0]
        want_plain = to_uint8(G(z))[0]
    assert edited.shape == (16, 16, 3)
    np.testing.assert_array_equal(edited, want)  # PNG is lossless: exactly the library's pixels
    np.testing.assert_array_equal(plain, want_plain)
    assert np.abs(edited.astype(int) - plain).mean() > 5
    again = c.post("/api/render", json={"seed": 5, "shifts": {"0": 1.5, "2": -2.0}})
    np.testing.assert_array_equal(pixels(again), edited)
    with pytest.raises(GansteerError, match="shift nan for direction 0 is out of range; expected a finite number"):
        c.app.state.explorer.render(z, {0: float("nan")})  # the Python API checks too
    jpeg = c.post("/api/render", json={"seed": 5, "format": "jpeg"})
    assert jpeg.headers["content-type"] == "image/jpeg" and Image.open(io.BytesIO(jpeg.content)).size == (16, 16)


def test_render_from_a_supplied_latent(client):
    c, G, path = client
    z = torch.linspace(-1, 1, 8)
    got = pixels(c.post("/api/render", json={"latent": z.tolist(), "shifts": {"1": 2.0}}))
    with torch.inference_mode():
        want = to_uint8(G(z[None] + 2.0 * DirectionSet.load(path).vectors[1]))[0]
    np.testing.assert_array_equal(got, want)


BAD_RENDERS = [
    ({"shifts": {"9": 1.0}}, "direction index 9 is out of range; expected 0..4"),
    ({"shifts": {"-1": 1.0}}, "direction index -1 is out of range"),
    ({"shifts": {"x": 1.0}}, "shifts.x.[key]: Input should be a valid integer"),
    ({"shifts": {"0": 1e9}}, "shift 1000000000.0 for direction 0 is out of range; expected a finite number with "
                             "|shift| <= 100"),
    (b'{"shifts": {"0": NaN}}', "shifts.0: Input should be a finite number"),
    (b'{"shifts": {"0": Infinity}}', "shifts.0: Input should be a finite number"),
    (b'{"shifts": {"0": 1e999}}', "shifts.0: Input should be a finite number"),
    ({"shifts": [1, 2]}, "shifts: Input should be a valid dictionary"),
    ({"seed": -1}, "seed: Input should be greater than or equal to 0"),
    ({"seed": 2**40}, "seed: Input should be less than or equal to 4294967295"),
    ({"seed": "3"}, "seed: Input should be a valid integer"),
    ({"seed": 1.5}, "seed: Input should be a valid integer"),
    ({"layers": [0, 1]}, "generator 'dcgan-tiny' has a single layer: layer ranges do not apply"),
    ({"layers": [0]}, "layers: List should have at least 2 items"),
    ({"class": 1}, "generator 'dcgan-tiny' is unconditional; got class 1"),
    ({"latent": [0.0] * 7}, "latent has 7 values; expected 8 (space 'z')"),
    ({"latent": [1e6] * 8}, "latent values must be finite with |x| <= 1000"),
    ({"format": "gif"}, "format: Input should be 'png' or 'jpeg'"),
    ({"sedd": 3}, "sedd: Extra inputs are not permitted"),
    (b"{not json", "body is not valid JSON"),
    (b"[1, 2]", "Input should be a valid dictionary"),
]


@pytest.mark.parametrize(("body", "message"), BAD_RENDERS, ids=[m[:40] for _, m in BAD_RENDERS])
def test_invalid_render_requests_answer_a_one_line_422(client, body, message):
    c, _, _ = client
    if isinstance(body, bytes):
        r = c.post("/api/render", content=body, headers={"content-type": "application/json"})
    else:
        r = c.post("/api/render", json=body)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert message in error and "\n" not in error, error


def test_layer_range_and_class_of_a_layered_conditional_generator(layered_client):
    c, G, path = layered_client
    info = c.get("/api/info").json()
    assert info["layers"] == [0, 3] and info["generator"]["num_classes"] == 2
    ds = DirectionSet.load(path)
    z = latents_for_seeds(G, [2])
    shifts = {0: 2.0, 2: -1.0}
    for layers in ([0, 3], [1, 3], [2, 3]):
        got = pixels(c.post("/api/render", json={"seed": 2, "shifts": {"0": 2.0, "2": -1.0}, "layers": layers,
                                                 "class": 1}))
        with torch.inference_mode():
            latent, space = apply_shifts(G, z, ds, shifts, layers=tuple(layers))
            np.testing.assert_array_equal(got, to_uint8(G(latent, space=space, cond=1))[0])
    some = pixels(c.post("/api/render", json={"seed": 2, "shifts": {"0": 2.0}, "layers": [2, 3]}))
    every = pixels(c.post("/api/render", json={"seed": 2, "shifts": {"0": 2.0}, "layers": [0, 3]}))
    other_class = pixels(c.post("/api/render", json={"seed": 2, "shifts": {"0": 2.0}, "layers": [0, 3], "class": 1}))
    assert np.abs(some.astype(int) - every).mean() > 1 and np.abs(other_class.astype(int) - every).mean() > 1
    for body, message in [({"layers": [2, 2]}, "layer range 2-1 is invalid; expected within 0-2"),
                          ({"layers": [0, 4]}, "layer range 0-3 is invalid"), ({"layers": [-1, 2]}, "is invalid"),
                          ({"class": 2}, "class 2 is out of range; expected 0..1"),
                          ({"class": -1}, "class: Input should be greater than or equal to 0")]:
        r = c.post("/api/render", json=body)
        assert r.status_code == 422 and message in r.json()["error"], (body, r.text)


def test_conditional_stylegan_maps_each_seed_with_its_class(tmp_path):
    G = load_generator("stylegan2-tiny", num_classes=3)
    path = tmp_path / "w.safetensors"
    ds = SeFa(k=3).fit(G).directions()  # in w
    ds.save(path)
    c = TestClient(create_app(G, path))
    body = {"seed": 4, "shifts": {"1": 2.0}, "layers": [1, 4], "class": 2}
    got = pixels(c.post("/api/render", json=body))
    with torch.inference_mode():
        w = G.map_latent(latents_for_seeds(G, [4]), "w", cond=2)
        latent, space = apply_shifts(G, w, ds, {1: 2.0}, layers=(1, 4))
        np.testing.assert_array_equal(got, to_uint8(G(latent, space=space, cond=2))[0])
    assert space == "w+" and not np.array_equal(got, pixels(c.post("/api/render", json={**body, "class": 0})))
    grid = pixels(c.post("/api/strip", json={"direction": 1, "seeds": [4], "steps": 3, "low": 0.0, "high": 4.0,
                                             "layers": [1, 4], "class": 2}))
    np.testing.assert_array_equal(grid[2:18, 2 + 18 : 2 + 18 + 16], got)  # middle column: shift 2.0
    r = c.post("/api/render", json={"layers": [0, 7]})
    assert r.status_code == 422 and r.json()["error"] == "layer range 0-6 is invalid; expected within 0-5"
    # a w+ latent (what a photo inversion gives) as the starting point, edited on layers 1-3 only
    w_plus = G.expand_layers(w, "w").clone()
    w_plus[:, 5] += 0.5
    got = pixels(c.post("/api/render", json={"latent": w_plus.flatten().tolist(), "shifts": {"1": 2.0},
                                             "layers": [1, 4], "class": 2}))
    with torch.inference_mode():
        latent, space = apply_shifts(G, w_plus, ds, {1: 2.0}, layers=(1, 4))
        np.testing.assert_array_equal(got, to_uint8(G(latent, space=space, cond=2))[0])
    r = c.post("/api/render", json={"latent": [0.0] * 20})
    assert r.status_code == 422 and "expected 16 (space 'w') or 6 x 16 (space 'w+')" in r.json()["error"]


def test_apply_shifts_equals_one_direction_at_a_time(layered_client):
    _, G, path = layered_client
    ds = DirectionSet.load(path)
    z = latents_for_seeds(G, [0, 1])
    one, space = apply_direction(G, z, ds, 1, 1.5, layers=(1, 3))
    both, space2 = apply_shifts(G, z, ds, {1: 1.5}, layers=(1, 3))
    assert space == space2 == "z+" and torch.equal(one, both)
    flat, space3 = apply_shifts(G, z, ds, {0: 1.0, 1: -2.0})
    assert space3 == "z" and torch.allclose(flat, z + ds.vectors[0] - 2.0 * ds.vectors[1])


def test_label_and_rating_written_back_atomically_with_backup(client):
    c, _, path = client
    before = path.read_bytes()
    r = c.post("/api/directions/1", json={"label": "  smile ", "rating": 4})
    assert r.status_code == 200 and r.json() == {"index": 1, "label": "smile", "rating": 4, "range": [-2.0, 5.0],
                                                 "title": "1: smile (4/5)"}
    ds = DirectionSet.load(path)
    assert ds.labels[1] == "smile" and ds.ratings[1] == 4 and ds.ratings[0] is None
    backup = path.with_name(path.name + ".bak")
    assert backup.read_bytes() == before  # the previous version is kept
    assert c.post("/api/directions/1", json={"rating": None}).json()["rating"] is None  # null clears, label stays
    ds, old = DirectionSet.load(path), DirectionSet.load(backup)
    assert (ds.labels[1], ds.ratings[1]) == ("smile", None) and (old.labels[1], old.ratings[1]) == ("smile", 4)
    assert c.get("/api/info").json()["directions"][1]["title"] == "1: smile"
    now = path.read_bytes()
    for k, body, message in [(1, {"rating": 6}, "rating: Input should be less than or equal to 5"),
                             (1, {"rating": 0}, "rating: Input should be greater than or equal to 1"),
                             (1, {"rating": "4"}, "rating: Input should be a valid integer"),
                             (1, {"label": "a\nb"}, "label: String should match pattern"),
                             (1, {"label": "x" * 81}, "label: String should have at most 80 characters"),
                             (1, {"name": "x"}, "name: Extra inputs are not permitted"),
                             (9, {"label": "x"}, "direction index 9 is out of range; expected 0..4")]:
        r = c.post(f"/api/directions/{k}", json=body)
        assert r.status_code == 422 and message in r.json()["error"], (body, r.text)
    assert c.post("/api/directions/one", json={}).status_code == 422
    assert path.read_bytes() == now  # refused edits leave the file alone


def test_traverse_labels_show_name_and_rating(client):
    c, _, path = client
    c.post("/api/directions/2", json={"label": "age", "rating": 3})
    ds = DirectionSet.load(path)
    assert [row_label(ds, k) for k in (0, 2)] == ["0", "2: age (3/5)"]


def test_stale_requests_are_dropped(client):
    c, _, _ = client
    assert c.post("/api/render", json={"client": "a", "seq": 5}).status_code == 200
    r = c.post("/api/render", json={"client": "a", "seq": 3})
    assert r.status_code == 409 and "superseded" in r.json()["error"]
    assert c.post("/api/render", json={"client": "b", "seq": 1}).status_code == 200
    assert c.post("/api/render", json={"client": "a", "seq": 6}).headers["x-seq"] == "6"


def test_a_request_overtaken_while_waiting_for_the_generator_is_dropped(client):
    c, _, _ = client
    explorer = c.app.state.explorer
    results = {}

    def post(seq):
        results[seq] = c.post("/api/render", json={"seed": 0, "client": "w", "seq": seq})

    with explorer._render_lock:  # the generator is busy: both requests queue
        first = threading.Thread(target=post, args=(1,))
        first.start()
        while explorer._latest.get("w") != 1:
            time.sleep(0.005)
        second = threading.Thread(target=post, args=(2,))
        second.start()
        while explorer._latest.get("w") != 2:
            time.sleep(0.005)
    first.join(30)
    second.join(30)
    assert results[1].status_code == 409 and results[2].status_code == 200
    assert float(results[2].headers["server-timing"].split("dur=")[1]) > 0


def test_strip_is_one_direction_across_shifts_for_several_seeds(client):
    c, G, _ = client
    r = c.post("/api/strip", json={"direction": 0, "seeds": [0, 1, 2], "steps": 5})
    grid = pixels(r)
    assert grid.shape == (3 * 18 + 2, 5 * 18 + 2, 3)
    centre = grid[2 + 18 : 2 + 18 + 16, 2 + 2 * 18 : 2 + 2 * 18 + 16]  # seed 1, shift 0 (middle of -3..3)
    np.testing.assert_array_equal(centre, pixels(c.post("/api/render", json={"seed": 1})))
    for body, message in [({"direction": 5}, "direction index 5 is out of range"),
                          ({"direction": 0, "seeds": list(range(9))}, "seeds: List should have at most 8 items"),
                          ({"direction": 0, "steps": 1}, "steps: Input should be greater than or equal to 2"),
                          ({"direction": 0, "high": 1e6}, "is out of range")]:
        r = c.post("/api/strip", json=body)
        assert r.status_code == 422 and message in r.json()["error"], (body, r.text)


def test_extra_routers_reach_the_explorer_and_unknown_routes_are_json(tiny_file, tmp_path):
    G, src = tiny_file
    router = APIRouter()

    @router.get("/api/extra")
    def extra(explorer: Annotated[Explorer, Depends(get_explorer)]) -> dict:
        return {"generator": explorer.generator.name, "k": len(explorer.directions)}

    c = TestClient(create_app(G, src, routers=[router]))
    assert c.get("/api/extra").json() == {"generator": "dcgan-tiny", "k": 5}
    r = c.get("/api/nothing")
    assert r.status_code == 404 and r.json() == {"error": "Not Found"}
    assert c.get("/api/render").status_code == 405


def test_mismatched_direction_file_is_refused_or_flagged(tiny_file, tmp_path):
    G, src = tiny_file
    with pytest.raises(GansteerError, match="directions have dimension 8 but generator 'layered-tiny'"):
        create_app(LayeredTiny(), src)
    ds = DirectionSet.load(src)
    ds.generator_hash = "0123456789abcdef"
    ds.save(tmp_path / "other.safetensors")
    warning = TestClient(create_app(G, tmp_path / "other.safetensors")).get("/api/info").json()["warning"]
    assert "(weights 0123456789abcdef), not on these weights" in warning


def test_load_loop_on_loopback_never_answers_5xx(tiny_file, tmp_path):
    G, src = tiny_file
    path = tmp_path / "dirs.safetensors"
    path.write_bytes(src.read_bytes())
    requests = [
        ("POST", "/api/render", {"seed": 1, "shifts": {"0": 1.0, "1": -2.0}}),
        ("POST", "/api/render", {"seed": 2, "format": "jpeg"}),
        ("POST", "/api/render", {"shifts": {"7": 1.0}}),
        ("POST", "/api/render", b'{"shifts": {"0": NaN}}'),
        ("POST", "/api/render", {"seed": -5}),
        ("POST", "/api/render", b"\xff\xfe garbage"),
        ("POST", "/api/render", {"client": "x", "seq": 10}),
        ("POST", "/api/render", {"client": "x", "seq": 9}),  # older than one already seen: 409
        ("POST", "/api/strip", {"direction": 1, "seeds": [0, 1], "steps": 3}),
        ("POST", "/api/strip", {"direction": 1, "steps": 99}),
        ("POST", "/api/directions/2", {"rating": 3}),
        ("POST", "/api/directions/2", {"rating": 9}),
        ("GET", "/api/info", None),
        ("GET", "/api/missing", None),
    ]
    counts: dict[int, int] = {}
    with background_server(create_app(G, path)) as url, httpx.Client(base_url=url, timeout=30) as http:
        assert url.startswith("http://127.0.0.1:")
        for method, route, body in itertools.islice(itertools.cycle(requests), 1000):
            if isinstance(body, bytes):
                r = http.request(method, route, content=body, headers={"content-type": "application/json"})
            else:
                r = http.request(method, route, json=body)
            counts[r.status_code] = counts.get(r.status_code, 0) + 1
            if r.status_code >= 400:
                assert "\n" not in json.loads(r.content)["error"]
    assert sum(counts.values()) == 1000 and not any(code >= 500 for code in counts), counts
    assert counts[200] > 400 and counts[422] > 300 and counts[404] > 50 and counts[409] > 50, counts
    assert DirectionSet.load(path).ratings[2] == 3


def test_cli_explore_binds_loopback_and_prints_its_url(tiny_file, monkeypatch):
    from gansteer.cli import main
    from gansteer.web import server

    _, src = tiny_file
    served = {}
    monkeypatch.setattr(server, "serve", lambda app, sock: served.update(app=app, addr=sock.getsockname()))
    r = CliRunner().invoke(main, ["explore", str(src), "-g", "dcgan-tiny", "--port", "0"])
    assert r.exit_code == 0, r.output
    host, port = served["addr"]
    assert host == "127.0.0.1" and f"http://127.0.0.1:{port}/" in r.output
    assert served["app"].state.explorer.generator.name == "dcgan-tiny"
    r = CliRunner().invoke(main, ["explore", str(src) + ".missing", "-g", "dcgan-tiny"])
    assert r.exit_code == 1 and r.output.count("Error:") == 1 and "does not exist" in r.output
