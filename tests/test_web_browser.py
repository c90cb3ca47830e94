"""The explorer page in a real headless Chromium (Debian's `chromium` package, driven by Playwright for Python).

`make test` installs chromium with apt when it is missing; without it (or without Playwright) these tests skip.
"""

from __future__ import annotations

import shutil

import pytest
import torch

from gansteer import DirectionSet, SeFa, load_generator
from gansteer.web import create_app
from gansteer.web.server import background_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")
if not shutil.which(CHROMIUM):
    pytest.skip("chromium is not installed (`make test` installs it with apt as root: apt-get install -y chromium)",
                allow_module_level=True)


@pytest.fixture(scope="module")
def explorer(tmp_path_factory):
    G = load_generator("dcgan-tiny")
    ds = SeFa(k=5).fit(G).directions()
    ds.shift_range[0] = torch.tensor([-4.0, 4.0])
    path = tmp_path_factory.mktemp("browser") / "tiny.safetensors"
    ds.save(path)
    with background_server(create_app(G, path, top=3)) as url, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser, url, path
        browser.close()


@pytest.fixture
def page(explorer):
    browser, url, path = explorer
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    page.wait_for_function("Number(document.getElementById('image').dataset.seq) >= 1")
    yield page, path
    assert not errors, errors
    page.close()


def shown_seq(page) -> int:
    return int(page.get_attribute("#image", "data-seq"))


def test_moving_a_slider_changes_the_image(page):
    page, _ = page
    assert page.locator(".direction").count() == 3  # top 3 of 5
    slider = page.locator(".direction[data-k='0'] .shift")
    assert (slider.get_attribute("min"), slider.get_attribute("max")) == ("-4", "4")  # the file's range
    before, seq = page.locator("#image").screenshot(), shown_seq(page)
    slider.fill("3.2")
    page.wait_for_function(f"Number(document.getElementById('image').dataset.seq) > {seq}")
    assert page.inner_text(".direction[data-k='0'] .value") == "3.20"
    after = page.locator("#image").screenshot()
    assert after != before
    seq = shown_seq(page)
    page.click("#reset")  # every slider back to 0: the original image again
    page.wait_for_function(f"Number(document.getElementById('image').dataset.seq) > {seq}")
    assert page.locator("#image").screenshot() == before and slider.input_value() == "0"
    assert "error" not in (page.get_attribute("#status", "class") or "")
    page.click("#more")
    assert page.locator(".direction").count() == 5 and page.locator("#more").is_hidden()
    page.locator(".direction[data-k='4'] .strip-button").click()
    page.wait_for_selector("#strip-view:not([hidden])")
    assert page.evaluate("document.getElementById('strip').naturalWidth") == 7 * 18 + 2
    assert page.get_attribute("#download", "href").startswith("blob:")


def test_a_label_typed_in_the_page_lands_in_the_file(page):
    page, path = page
    row = page.locator(".direction[data-k='1']")
    row.locator(".label").fill("hair colour")
    row.locator(".label").press("Enter")
    page.wait_for_function("document.querySelector(\".direction[data-k='1']\").dataset.saved === '1'")
    assert DirectionSet.load(path).labels[1] == "hair colour"
    row.locator(".rating button[data-rating='4']").click()
    page.wait_for_function("document.querySelector(\".direction[data-k='1']\").dataset.saved === '2'")
    ds = DirectionSet.load(path)
    assert (ds.labels[1], ds.ratings[1]) == ("hair colour", 4)
    assert row.locator(".rating button[aria-pressed=true]").inner_text() == "4"
    assert DirectionSet.load(path.with_name(path.name + ".bak")).ratings[1] is None  # previous version kept
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    assert page.locator(".direction[data-k='1'] .label").input_value() == "hair colour"


def test_layer_range_and_class_controls_of_a_conditional_stylegan(explorer, tmp_path):
    browser, _, _ = explorer
    G = load_generator("stylegan2-tiny", num_classes=3)
    path = tmp_path / "w.safetensors"
    SeFa(k=3).fit(G).directions().save(path)
    with background_server(create_app(G, path)) as url:
        page = browser.new_page()
        page.goto(url)
        page.wait_for_function("Number(document.getElementById('image').dataset.seq) >= 1")
        assert page.is_visible("#layers-row") and page.is_visible("#class-row")
        assert page.input_value("#layer-start") == "0" and page.input_value("#layer-end") == "5"
        page.locator(".direction[data-k='0'] .shift").fill("2")
        page.wait_for_function("Number(document.getElementById('image').dataset.seq) >= 2")
        shots = {"all layers": page.locator("#image").screenshot()}
        for name, selector, value in [("layers 4-5", "#layer-start", "4"), ("class 2", "#class", "2")]:
            seq = shown_seq(page)
            page.fill(selector, value)
            page.dispatch_event(selector, "change")
            page.wait_for_function(f"Number(document.getElementById('image').dataset.seq) > {seq}")
            shots[name] = page.locator("#image").screenshot()
        assert len(set(shots.values())) == 3, "layer range and class must each change the image"
        assert page.evaluate("[window.explorer.state.layers, window.explorer.state.cls]") == [[4, 6], 2]
        seq = page.evaluate("window.explorer.render.seq")
        page.evaluate("[$('layer-start').value, $('layer-end').value] = ['5', '3']")
        page.dispatch_event("#layer-end", "change")
        assert "layers must satisfy" in page.inner_text("#status")  # refused in the page, nothing sent
        assert "invalid" in page.get_attribute("#layers-row", "class")
        assert page.evaluate("window.explorer.render.seq") == seq
        page.close()
