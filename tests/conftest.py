"""Shared fixtures: one Binder-like environment and one book build per test session, and one
headless Chromium.

``binder_env`` is a fresh virtual environment made from requirements.txt alone (what Binder and
``python3 dev.py build`` install), with labsim as a wheel built from this repository in place of
``-e .``. ``built_book`` builds the book ONCE per session, in that environment, into a temporary
folder (warnings as errors, every notebook executed by myst-nb): that one execution of each
chapter is the book's (test_book.py), the Binder check's (test_binder.py) and the per-chapter
"runs without error" check's (test_notebooks.py reads myst-nb's execution record of each chapter
from the build). The build test, the static-site browser test and the launch-button test all use
the same build. ``python3 dev.py test`` installs what the browser tests need (Debian's chromium,
the npm packages in tests/browser/); Playwright drives the system Chromium (its own browser
download is never used).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time
import venv
from dataclasses import dataclass, field
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


#: The line of requirements.txt that installs labsim from this repository (Binder uses it as is).
LABSIM_REQ = re.compile(r"^(-e\s+)?\.(\[\w+(,\w+)*\])?$")
#: Left out of the copy the wheel is built from (generated or local-only).
NOT_SOURCE = shutil.ignore_patterns(".git", ".venv*", "_build", "build", "dist", "node_modules", "__pycache__",
                                    "*.egg-info", ".pytest_cache", ".hypothesis", ".ipynb_checkpoints",
                                    ".jupyter_cache", "jupyter_execute")


@dataclass
class BinderEnv:
    """A fresh venv from requirements.txt alone, labsim installed from a wheel of this repository."""
    dir: Path
    bindir: Path
    python: Path
    env: dict           # environment variables for its processes: its bin first on PATH, no PYTHONPATH
    wheel: Path
    seconds_wheel: float
    seconds_install: float   # venv + wheel + pip install


@pytest.fixture(scope="session")
def binder_env(tmp_path_factory) -> BinderEnv:
    """Build it once per session (pip's cache makes the install quick when ``python3 dev.py test``
    has just installed the same pins). A failure here fails every test that needs it, with pip's log."""
    tmp = tmp_path_factory.mktemp("binder")
    env_dir = tmp / "binder-env"
    t0 = time.perf_counter()
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    bindir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    py = bindir / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    env.update(PATH=f"{bindir}{os.pathsep}{env.get('PATH', '')}", MPLBACKEND="Agg", PIP_DISABLE_PIP_VERSION_CHECK="1")

    # labsim as a wheel, built the way `pip install .` builds it, from a copy of the work tree
    # (the build's own files stay out of the repository).
    src = tmp / "src"
    shutil.copytree(ROOT, src, ignore=NOT_SOURCE)
    t_wheel = time.perf_counter()
    proc = subprocess.run([str(py), "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp / "wheels"), str(src)],
                          cwd=tmp, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, "pip wheel (labsim):\n" + proc.stdout[-3000:] + proc.stderr[-3000:]
    t_wheel = time.perf_counter() - t_wheel
    (wheel,) = (tmp / "wheels").glob("labsim-*.whl")

    # requirements.txt as Binder reads it, with the wheel in place of the line installing this repository.
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    local = [ln for ln in lines if LABSIM_REQ.match(ln.strip())]
    assert len(local) == 1, f"requirements.txt should install labsim from this repository once (`-e .`): {local}"
    reqs = tmp / "requirements-wheel.txt"
    reqs.write_text("\n".join([ln for ln in lines if ln not in local] + [str(wheel)]) + "\n")
    proc = subprocess.run([str(py), "-m", "pip", "install", "-q", "-r", str(reqs)],
                          cwd=tmp, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, "pip install -r requirements.txt:\n" + proc.stdout[-3000:] + proc.stderr[-3000:]
    return BinderEnv(env_dir, bindir, py, env, wheel, t_wheel, time.perf_counter() - t0)


@dataclass
class Book:
    html: Path          # the built site (_build/html)
    returncode: int
    log: str
    #: myst-nb's record of each executed notebook, by docname ("chapters/06_sqs"): succeeded,
    #: runtime (s), error, traceback. Empty when the build did not get as far as saving it.
    executed: dict = field(default_factory=dict)
    python: str = sys.executable    # the interpreter of the environment that built (and executed) it
    seconds: float = 0.0            # the build's wall time


#: Run with the building environment's Python: myst-nb keeps each notebook's execution result
#: (NbMetadataCollector's "exec_data") in the Sphinx environment; print them as JSON.
EXEC_DATA = """
import json, pickle, sys
with open(sys.argv[1], "rb") as f:
    env = pickle.load(f)
meta = getattr(env, "nb_metadata", {}) or {}
print(json.dumps({doc: m["exec_data"] for doc, m in meta.items() if m.get("exec_data")}))
"""


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def execution_failure(run: dict) -> str:
    """The failing cell and the kernel's traceback from a myst-nb execution record (without the
    notebook client's own stack above them, and without terminal colours)."""
    text = ANSI.sub("", run.get("traceback") or "")
    start = text.find("An error occurred while executing the following cell")
    return f"{run.get('error')}: " + (text[start:] if start >= 0 else text)


def execution_data(python, doctrees: Path, env=None) -> dict:
    pickled = doctrees / "environment.pickle"
    if not pickled.is_file():
        return {}
    proc = subprocess.run([str(python), "-c", EXEC_DATA, str(pickled)], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, f"could not read the execution record in {pickled}:\n{proc.stderr[-3000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def built_book(request, tmp_path_factory) -> Book:
    """Build the book once, in ``binder_env`` (warnings as errors, every notebook executed) into a
    temp folder: the build `python3 dev.py build` makes, from the same requirements.txt.

    ``LABSIM_BUILT_BOOK=/path/to/_build/html`` reuses an existing build (for working on the
    browser tests only; the build test itself always checks a fresh build).
    """
    given = os.environ.get("LABSIM_BUILT_BOOK")
    if given:
        html = Path(given)
        return Book(html, 0, "(reused build from LABSIM_BUILT_BOOK)", execution_data(sys.executable, html.parent / ".doctrees"))
    binder = request.getfixturevalue("binder_env")
    out = tmp_path_factory.mktemp("book")
    t0 = time.perf_counter()
    proc = subprocess.run([str(binder.bindir / "jupyter-book"), "build", str(ROOT), "--path-output", str(out),
                           "-W", "-n", "--keep-going"],
                          cwd=ROOT, env=binder.env, capture_output=True, text=True, timeout=1200)
    seconds = time.perf_counter() - t0
    executed = execution_data(binder.python, out / "_build" / ".doctrees", binder.env)
    MEASURED.append(f"book build (Binder-like env, {len(executed)} notebooks executed): {seconds:.0f} s; "
                    f"the env took {binder.seconds_install:.0f} s (labsim wheel {binder.seconds_wheel:.0f} s)")
    return Book(out / "_build" / "html", proc.returncode, proc.stdout[-6000:] + proc.stderr[-6000:], executed,
                str(binder.python), seconds)


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
