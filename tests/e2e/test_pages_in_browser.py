"""Every HTML page the pipeline writes, rendered in a real browser (headless Chromium).

One small synthetic world goes through `demo`, `compare`, `drift`, two earlier scoring dates and
`monitor`; each page it leaves in the workdir (validation reports, portfolio, comparison, drift,
live accuracy) is opened at 1024 px and 1400 px
wide. A page passes when nothing sticks out to the right (the document is no wider than the
window, and no table needs its scroll box), no text reads NaN/None/nan, and every image has
loaded. Screenshots go to
``$HEALTHSCORE_SCREENSHOTS`` when it is set, so a person can look at them.

Chromium comes from the machine's Debian package (`.ci/run` installs it when absent); the test
skips, saying so, when no browser is found outside CI.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from healthscore.pipeline.cli import cli

pytestmark = pytest.mark.slow

WIDTHS = (1024, 1400)
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
BAD_TEXT = re.compile(r"\b(NaN|None|nan)\b")
PROBE = """<script>
window.addEventListener('load', () => {
  const root = document.documentElement;
  const wide = [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
    .slice(0, 5).map(e => e.tagName + (e.className ? '.' + e.className : ''));
  const scrolled = [...document.querySelectorAll('.scroll')]
    .filter(e => e.scrollWidth > e.clientWidth + 1)
    .map(e => (e.previousElementSibling ? e.previousElementSibling.textContent : '').slice(0, 60));
  const result = {scrollWidth: root.scrollWidth, innerWidth: window.innerWidth, wide: wide,
    scrolled: scrolled,
    images: document.images.length,
    broken: [...document.images].filter(i => !(i.complete && i.naturalWidth > 0))
      .map(i => (i.alt || i.src).slice(0, 60)),
    text: document.body.innerText};
  const out = document.createElement('pre');
  out.id = 'hs-probe';
  out.textContent = JSON.stringify(result);
  document.body.appendChild(out);
});
</script>"""


def find_browser() -> str | None:
    """The path of a Chromium-like browser on this machine, or None."""
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


def browser_command(browser: str, width: int, *extra: str) -> list[str]:
    """Headless Chromium flags that work as root on a machine without a network."""
    return [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--hide-scrollbars", f"--window-size={width},900",
            "--virtual-time-budget=5000", *extra]


def probe_page(browser: str, page: Path, width: int, scratch: Path) -> dict:
    """Render ``page`` at ``width`` px and return what the in-page probe measured."""
    probed = scratch / f"{page.parent.name}-{page.stem}-{width}.html"
    text = page.read_text(encoding="utf-8")
    probed.write_text(text.replace("</body>", PROBE + "</body>", 1) if "</body>" in text
                      else text + PROBE, encoding="utf-8")
    profile = scratch / f"profile-{page.stem}-{width}"
    done = subprocess.run(
        browser_command(browser, width, f"--user-data-dir={profile}", "--dump-dom",
                        probed.as_uri()),
        capture_output=True, text=True, timeout=120, check=False)
    found = re.search(r'<pre id="hs-probe">(.*?)</pre>', done.stdout, re.S)
    assert found, f"{page.name}: the browser printed no probe result ({done.stderr[-500:]})"
    return json.loads(html.unescape(found.group(1)))


def screenshot(browser: str, page: Path, width: int, folder: Path, scratch: Path) -> None:
    """Save a full-window screenshot of ``page`` at ``width`` px into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    shot = folder / f"{page.parent.name}-{page.stem}-{width}.png"
    subprocess.run(
        browser_command(browser, width, f"--user-data-dir={scratch / 'shots'}",
                        f"--screenshot={shot}", page.as_uri()),
        capture_output=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> list[Path]:
    """The HTML pages of one demo run on a small world, one comparison and one drift check."""
    root = tmp_path_factory.mktemp("pages")
    config = {"workdir": str(root / "work"), "seed": 5, "data": {"dir": str(root / "data")},
              "synth": {"accounts": 1200, "months": 24, "seed": 5},
              "training": {"models": ["scorecard", "logistic", "lightgbm"], "bootstrap": 30,
                           "backtest": {"folds": 1}}}
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    runner = CliRunner()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        patch.chdir(root)
        demo = runner.invoke(cli, ["-c", str(path), "demo"])
        assert demo.exit_code == 0, demo.output
        # the demo ends with monitor: its three month starts have no outcome yet
        assert "6/6 live accuracy" in demo.output and "No scoring date has matured" in \
            demo.output
        runs = sorted(p.stem.removeprefix("validation-")
                      for p in (root / "work" / "reports").glob("validation-*.html"))
        assert len(runs) == 3, runs
        for args in (["compare", *runs], ["drift"]):  # three runs: the widest comparison
            result = runner.invoke(cli, ["-c", str(path), *args])
            assert result.exit_code == 0, f"healthscore {' '.join(args)}: {result.output}"
        # two earlier scoring dates whose outcomes are known by the data's end: a monitor page
        for day in ("2025-06-01", "2025-07-01"):
            result = runner.invoke(cli, ["-c", str(path), "score", "--as-of", day])
            assert result.exit_code == 0, f"healthscore score --as-of {day}: {result.output}"
        result = runner.invoke(cli, ["-c", str(path), "monitor"])
        assert result.exit_code in (0, 6), f"healthscore monitor: {result.output}"
    found, seen = [], set()
    pages = sorted((root / "work").rglob("*.html"), key=lambda p: ("mlartifacts" in p.parts, p))
    for page in pages:  # MLflow keeps copies of the pages as artifacts: each page once
        if page.read_bytes() not in seen:
            seen.add(page.read_bytes())
            found.append(page)
    kinds = {p.parent.name for p in found}
    assert {"reports", "scores", "drift", "monitor"} <= kinds, f"pages found: {found}"
    return found


def test_every_page_renders_cleanly_in_a_browser(pages, tmp_path):
    browser = find_browser()
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("CI needs Chromium: .ci/run installs the Debian package 'chromium'")
        pytest.skip("no Chromium on this machine (apt-get install chromium)")
    shots = os.environ.get("HEALTHSCORE_SCREENSHOTS")
    problems = []
    for page in pages:
        for width in WIDTHS:
            seen = probe_page(browser, page, width, tmp_path)
            where = f"{page.parent.name}/{page.name} at {width}px"
            if seen["scrollWidth"] > seen["innerWidth"]:
                problems.append(f"{where}: {seen['scrollWidth']}px wide, overflowing "
                                f"elements {seen['wide']}")
            if seen["scrolled"]:
                problems.append(f"{where}: tables wider than the page (they scroll) after "
                                f"{seen['scrolled']}")
            if seen["broken"]:
                problems.append(f"{where}: images not loaded {seen['broken']}")
            bad = sorted(set(BAD_TEXT.findall(seen["text"])))
            if bad:
                problems.append(f"{where}: text shows {bad}")
            if shots:
                screenshot(browser, page, width, Path(shots), tmp_path)
    assert not problems, "\n".join(problems)


def test_the_probe_catches_an_overflowing_page(tmp_path):
    """The check itself can fail: a 3000 px table, a broken image and a NaN are all caught."""
    browser = find_browser()
    if browser is None:
        pytest.skip("no Chromium on this machine (apt-get install chromium)")
    page = tmp_path / "bad.html"
    page.write_text("<html><body><table style='width:3000px'><tr><td>NaN</td></tr></table>"
                    "<img src='missing.png' alt='gone'></body></html>")
    seen = probe_page(browser, page, 1024, tmp_path)
    assert seen["scrollWidth"] > seen["innerWidth"]
    assert seen["broken"] == ["gone"]
    assert BAD_TEXT.search(seen["text"])
