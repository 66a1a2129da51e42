"""Shared fixtures: one book build per test session, and one headless Chromium.

The book is built ONCE per session (``built_book``) into a temporary folder; the build test,
the static-site browser test and the launch-button test all use it. ``python3 dev.py test``
installs what the browser tests need (Debian's chromium, the npm packages in tests/browser/);
Playwright drives the system Chromium (its own browser download is never used).
"""

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import pytest
from hypothesis import settings

matplotlib.use("Agg")

# Property tests draw new random examples on every local run (to keep finding new cases); in CI
# (CI=true) they draw the same examples every time, so a landing never depends on luck.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
NODE_MODULES = ROOT / "tests" / "browser" / "node_modules"
SCREENSHOTS = ROOT / "_build" / "screenshots"


#: Lines the tests measured (timings); printed at the end of the run, even when tests pass.
MEASURED: list = []


def pytest_terminal_summary(terminalreporter):
    if MEASURED:
        terminalreporter.section("measured")
        for line in MEASURED:
            terminalreporter.write_line(line)


@dataclass
class Book:
    html: Path          # the built site (_build/html)
    returncode: int
    log: str


@pytest.fixture(scope="session")
def built_book(tmp_path_factory) -> Book:
    """Build the book once (warnings as errors, every notebook executed) into a temp folder.

    ``LABSIM_BUILT_BOOK=/path/to/_build/html`` reuses an existing build (for working on the
    browser tests only; the build test itself always checks a fresh build).
    """
    given = os.environ.get("LABSIM_BUILT_BOOK")
    if given:
        return Book(Path(given), 0, "(reused build from LABSIM_BUILT_BOOK)")
    out = tmp_path_factory.mktemp("book")
    jb = Path(sys.executable).with_name("jupyter-book")
    proc = subprocess.run([str(jb), "build", str(ROOT), "--path-output", str(out), "-W", "-n", "--keep-going"],
                          capture_output=True, text=True, timeout=1200)
    return Book(out / "_build" / "html", proc.returncode, proc.stdout[-6000:] + proc.stderr[-6000:])


def _require(path: Path, what: str):
    if not path.exists():
        pytest.fail(f"browser tests need {what} ({path}): `python3 dev.py test` installs it")


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Playwright, one for the whole session."""
    _require(CHROMIUM, "Debian's chromium")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="session")
def npm_packages() -> dict:
    """name -> (version, folder) of every package installed by ``npm ci`` in tests/browser."""
    _require(NODE_MODULES / ".package-lock.json", "the npm packages of tests/browser/package.json (npm ci)")
    lock = json.loads((NODE_MODULES / ".package-lock.json").read_text())
    out = {}
    for key, meta in lock["packages"].items():
        name = key.split("node_modules/")[-1]
        if key.count("node_modules/") == 1:      # top-level packages only
            out[name] = (meta["version"], NODE_MODULES / name)
    return out


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """_build/screenshots/: one full-page PNG per built page (overwritten on every run)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
