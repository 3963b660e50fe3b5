"""The HTML pages in a real browser (headless Chromium over the DevTools protocol).

`max`, `busy`, a diff of them, a migration diff and a page full of hostile provenance
render with no console error, no blocked or attempted load beyond the page itself, and
the DOM the browser built says what the page means. Screenshots (and a printed PDF) go
to $GICMIG_ARTIFACTS, else artifacts/screenshots; CI prints that folder.
Without chromium these tests skip, except under CI=true, where they fail.
`GICMIG_UPDATE_DOCS=1 pytest tests/test_html_browser.py` rewrites docs/img/*.png.
"""

from __future__ import annotations

import base64
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from html_cases import HOSTILE, ROOT, hostile, load, migrated_busy

from gicmig.html import diff_page, state_page

sys.path.insert(0, str(ROOT / "tools"))
from headless import Browser, Load, find_chromium

ARTIFACTS = Path(os.environ.get("GICMIG_ARTIFACTS") or ROOT / "artifacts" / "screenshots")
DOCS_IMG = ROOT / "docs" / "img"
SHOT_HEIGHT = 6000  # CSS pixels from the top: the matrix and panels of `max`, not all 5922
# change lines of the busy -> max diff (a 38 MB picture)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if find_chromium() is None:
        why = "chromium is not installed (apt-get install chromium, or set GICMIG_CHROMIUM)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{why}: CI=true needs the browser test")
        pytest.skip(why)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with Browser(width=1600, height=1000) as b:
        yield b


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("pages")
    busy, mx = load("busy.gicmig"), load("max.gicmig")
    html = {
        "state-busy": state_page(busy, "fixtures/v1/busy.gicmig"),
        "state-max": state_page(mx, "fixtures/v1/max.gicmig"),
        "diff-busy-max": diff_page(busy, mx, names=("busy.gicmig", "max.gicmig")),
        "diff-migration": diff_page(busy, migrated_busy(),
                                    names=("source: busy.gicmig", "destination: restored")),
        "state-hostile": state_page(hostile(busy), "<script>alert(3)</script>"),
    }
    out = {}
    for name, text in html.items():
        out[name] = tmp / f"{name}.html"
        out[name].write_text(text, encoding="utf-8")
    return out


def render(browser: Browser, page: Path, name: str) -> Load:
    result = browser.load(page)
    browser.screenshot(ARTIFACTS / f"{name}.png", height=SHOT_HEIGHT)
    assert result.errors == [], result.errors
    assert result.requests == [page.resolve().as_uri()]  # nothing else, not even blocked
    assert result.size[0] <= browser.width, "rows of 32 IDs must fit a 1600-pixel screen"
    return result


@pytest.mark.parametrize("name", ["state-busy", "state-max"])
def test_state_pages_render_cleanly(browser: Browser, pages: dict[str, Path], name: str) -> None:
    render(browser, pages[name], name)
    # the browser built the matrix we wrote: every ID of every CPU, hover texts intact
    st = load(f"{name.removeprefix('state-')}.gicmig")
    cells = browser.evaluate("document.querySelectorAll('table.m td[id]').length")
    assert cells == 32 * st.config.num_cpus + st.config.num_spis
    title = browser.evaluate("document.getElementById('i32').title")
    assert title.splitlines()[0] == "irq 32 (SPI 0)"
    assert "enabled: 1  [GICD_ISENABLER1 bit 0]" in title.splitlines()
    color = browser.evaluate("getComputedStyle(document.querySelector('td.p')).backgroundColor")
    assert color == "rgb(255, 215, 128)"  # our style sheet applied (pending)


@pytest.mark.parametrize("name", ["diff-busy-max", "diff-migration"])
def test_diff_pages_render_cleanly(browser: Browser, pages: dict[str, Path], name: str) -> None:
    render(browser, pages[name], name)
    changed = browser.evaluate("document.querySelectorAll('table.m td.x[id]').length")
    lines = browser.evaluate("document.querySelectorAll('ol.changes li').length")
    assert changed > 0 and lines > 0
    # following a change's link lands on its cell, which the page outlines
    href = browser.evaluate("document.querySelector('ol.changes li a[href^=\"#i\"]').hash")
    browser.evaluate(f"location.hash = '{href}'")
    outline = browser.evaluate("getComputedStyle(document.querySelector(':target')).outlineStyle")
    assert outline == "solid"


def test_migration_diff_marks_exactly_its_cells(browser: Browser,
                                                pages: dict[str, Path]) -> None:
    browser.load(pages["diff-migration"])
    ids = browser.evaluate("[...document.querySelectorAll('table.m td.x[id]')].map(e => e.id)")
    assert sorted(ids) == ["c0i2", "c1i27", "i100", "i287", "i64"]


def test_hostile_input_stays_text(browser: Browser, pages: dict[str, Path]) -> None:
    render(browser, pages["state-hostile"], "state-hostile")
    count = browser.evaluate("document.querySelectorAll('script,img,svg,link,iframe').length")
    assert count == 0
    for key, value in HOSTILE.items():
        shown = browser.evaluate(f"document.getElementById('provenance.{key}').cells[1]"
                                 ".textContent")
        assert shown == value
    assert browser.evaluate("document.querySelector('h1 code').textContent") == \
        "<script>alert(3)</script>"


def test_pages_without_colour(browser: Browser, pages: dict[str, Path]) -> None:
    """Seen with no colour vision the symbols still tell the states apart (a screenshot
    to look at; the glyphs themselves are pinned by tests/test_html.py)."""
    browser.call("Emulation.setEmulatedVisionDeficiency", session=True, type="achromatopsia")
    try:
        result = browser.load(pages["diff-migration"])
        browser.screenshot(ARTIFACTS / "diff-migration-no-colour.png", height=1300)
    finally:
        browser.call("Emulation.setEmulatedVisionDeficiency", session=True, type="none")
    assert result.errors == []
    # every changed cell carries the Δ line, which needs no colour
    texts = browser.evaluate("[...document.querySelectorAll('table.m td.x[id]')]"
                             ".map(e => e.textContent)")
    assert texts and all("Δ" in t for t in texts)


def test_pages_print(browser: Browser, pages: dict[str, Path]) -> None:
    browser.load(pages["state-busy"])
    pdf = base64.b64decode(browser.call("Page.printToPDF", session=True, landscape=True,
                                        printBackground=True)["data"])
    assert pdf.startswith(b"%PDF")
    (ARTIFACTS / "state-busy.pdf").write_bytes(pdf)


def test_readme_pictures(browser: Browser, pages: dict[str, Path]) -> None:
    """The README's two pictures: the top of the busy page and of the migration diff."""
    targets = {"state-busy": ("state.png", 0, 760), "diff-migration": ("diff.png", 0, 980)}
    for name, (png, top, height) in targets.items():
        browser.load(pages[name])
        data = browser.call("Page.captureScreenshot", session=True, format="png",
                            captureBeyondViewport=True,
                            clip={"x": 0, "y": top, "width": 1600, "height": height,
                                  "scale": 0.75})["data"]
        raw = base64.b64decode(data)
        (ARTIFACTS / f"readme-{png}").write_bytes(raw)
        if os.environ.get("GICMIG_UPDATE_DOCS") == "1":
            DOCS_IMG.mkdir(parents=True, exist_ok=True)
            (DOCS_IMG / png).write_bytes(raw)
        assert (DOCS_IMG / png).exists(), f"docs/img/{png}: run GICMIG_UPDATE_DOCS=1 pytest"
