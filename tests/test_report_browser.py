"""The summary report as a user sees it: rendered by headless Chromium (Debian's `chromium`, installed by
scripts/setup-browser.sh), checked on the screenshot's pixels and on the rendered page's text, not on the HTML
source. Skips only when Chromium is missing and cannot be installed."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, run_tool
from test_summary import _metrics, three_rbp_inputs

FAIL_RED = (198, 40, 40)  # .banner.fail background (#c62828)
GOOD_GREEN = (232, 245, 233)  # .banner.good background (#e8f5e9)
MAIN_BLUE = (21, 101, 192)  # the main model's curves (#1565c0)
WINDOW = (1280, 1400)


def _find_browser() -> str | None:
    for name in (os.environ.get("BERTRBP_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


@pytest.fixture(scope="session")
def chromium() -> str:
    browser = _find_browser()
    if browser is None:
        setup = subprocess.run(
            ["bash", str(REPO / "scripts" / "setup-browser.sh")], capture_output=True, text=True, timeout=1200
        )
        browser = _find_browser()
        if browser is None:
            pytest.skip(
                "Chromium is not installed and scripts/setup-browser.sh could not install it: "
                + (setup.stderr.strip().splitlines() or ["(no message)"])[-1]
            )
    return browser


def _browser(chromium: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180)


def screenshot(chromium: str, page: Path, tmp_path: Path, window: tuple[int, int] = WINDOW) -> np.ndarray:
    """RGB pixels of the page as rendered in a browser window of the given size (the top of the page)."""
    from PIL import Image

    png = tmp_path / f"{page.stem}-{window[1]}.png"
    result = _browser(
        chromium, tmp_path, f"--screenshot={png}", f"--window-size={window[0]},{window[1]}", page.as_uri()
    )
    assert png.exists(), f"chromium wrote no screenshot: {result.stderr[-2000:]}"
    return np.asarray(Image.open(png).convert("RGB")).astype(int)


class _Text(HTMLParser):
    """Text of a DOM, without <script>/<style>, and the ids of <details> elements that are open."""

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self.open_details: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "style"):
            self._skip += 1
        if tag == "details" and "open" in attrs:
            self.open_details.append(attrs.get("id", ""))

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def rendered(chromium: str, page: Path, tmp_path: Path, fragment: str = "") -> _Text:
    """The DOM after Chromium loaded the page and ran its script, as text."""
    result = _browser(chromium, tmp_path, "--dump-dom", page.as_uri() + (f"#{fragment}" if fragment else ""))
    assert result.returncode == 0 and "<body" in result.stdout, result.stderr[-2000:]
    parser = _Text()
    parser.feed(result.stdout)
    parser.text = re.sub(r"\s+", " ", "".join(parser.parts))
    return parser


def pixels_like(image: np.ndarray, color: tuple[int, int, int], tolerance: int = 6) -> np.ndarray:
    return np.abs(image - np.array(color)).max(axis=2) <= tolerance


def test_stalled_model_is_the_first_thing_a_user_sees(chromium, tmp_path):
    out = tmp_path / "out"
    run_tool("summary", *three_rbp_inputs(tmp_path), "--output-dir", out, "--title", "Three RBPs")
    report = out / "report.html"

    dom = rendered(chromium, report, tmp_path)
    text = dom.text
    top = text.split("Overview")[0]  # what comes before the overview table: title, tally and banners
    assert "STALLED: RBFOX2_HepG2 — main model · test AUROC" in top
    assert "k-mer floor" in top and "Do not trust its probabilities" in top
    assert "BELOW K-MER FLOOR: HNRNPK_K562 — baseline model" in top
    assert "1 stalled" in top and "1 below the k-mer floor" in top
    for rbp in ("RBFOX2_HepG2", "HNRNPK_K562", "QKI_K562"):
        assert rbp in text.split("Overview", 1)[1]
    assert "Each model vs its RBP's k-mer floor" in text and "Test AUROC per model" in text
    assert dom.open_details == []  # the per-RBP sections start collapsed

    image = screenshot(chromium, report, tmp_path)
    assert image.shape[:2] == (WINDOW[1], WINDOW[0])
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 200, "blank or nearly blank screenshot"
    red = pixels_like(image, FAIL_RED)
    assert red.sum() > 40_000, f"red stall banner not rendered ({red.sum()} red pixels)"
    rows = np.nonzero(red.any(axis=1))[0]
    assert rows.min() < 400, f"the red banner starts at y={rows.min()}, below the first screen's top part"
    assert red[:, : WINDOW[0] // 2].sum() > 0.3 * red.sum()  # a full-width banner, not a stray badge
    assert pixels_like(image, GOOD_GREEN, tolerance=3).sum() < 2_000  # no all-clear banner

    # a link to an RBP (the banners' "details") opens its section; its curves are drawn
    dom = rendered(chromium, report, tmp_path, fragment="rbp-RBFOX2_HepG2")
    assert dom.open_details == ["rbp-RBFOX2_HepG2"]
    assert "ROC (test set)" in dom.text and "Loss per epoch" in dom.text and "class prior" in dom.text
    # the opened section's charts are drawn (headless screenshots at a #fragment are unreliable, so open the
    # section in a copy of the page and take a tall screenshot instead)
    copy = out / "opened.html"
    copy.write_text(report.read_text().replace('id="rbp-RBFOX2_HepG2">', 'id="rbp-RBFOX2_HepG2" open>'))
    opened = screenshot(chromium, copy, tmp_path, window=(1280, 3200))
    blue = pixels_like(opened, MAIN_BLUE, tolerance=20)
    assert blue.sum() > 1500, f"the main model's curves are not drawn ({blue.sum()} blue pixels)"
    assert pixels_like(opened, FAIL_RED).sum() > 2 * red.sum() * 0.8  # the banner again, inside the section


def test_healthy_run_shows_no_red(chromium, tmp_path):
    """The negative control: when every model learned, no red banner pixels, and a green all-clear banner."""
    out = tmp_path / "out"
    run_tool(
        "summary",
        _metrics(tmp_path, "HNRNPK_K562", 0.88),
        _metrics(tmp_path, "HNRNPK_K562.kmer", 0.80),
        "--output-dir",
        out,
    )
    report = out / "report.html"
    text = rendered(chromium, report, tmp_path).text
    assert "No model stalled or collapsed" in text and "STALLED:" not in text and "+0.080" in text
    image = screenshot(chromium, report, tmp_path)
    assert pixels_like(image, FAIL_RED).sum() < 50
    assert pixels_like(image, GOOD_GREEN, tolerance=3).sum() > 20_000
