"""labsim's widget tests against the versions the reader's browser runs (JupyterLite, Pyodide).

Pyodide 314.0.6 (the core the lite site serves, lite/package.json) ships its own builds of
numpy, matplotlib and their dependencies, at versions that differ from requirements.txt's pins
(matplotlib 3.10.8, not 3.11.2). This test reads those versions from the npm package's
``pyodide-lock.json`` and runs tests/test_labs.py (every lab, every control: a new figure and
summary) and tests/test_render.py (the labs' text drawing) in ONE extra environment on this machine's CPython: a virtual environment that holds just
the packages whose Pyodide version differs (PyPI's wheels of the same versions) and sees the
project's .venv behind them for everything else (pytest, ipywidgets, labsim itself).

Not covered: Python 3.14 itself (Pyodide's interpreter; the tests run on CPython 3.11, the
pinned one) and the WebAssembly builds of these packages, which exist only on Pyodide's CDN.
"""

import json
import os
import resource
import subprocess
import sys
import sysconfig
import time
import venv
from importlib import metadata
from pathlib import Path

import pytest

from conftest import MEASURED

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "_ext"))
from lite_site import PYODIDE_NPM, lock_closure  # noqa: E402

#: What labsim imports at run time from Pyodide's lock (with their dependencies).
ROOTS = ["numpy", "matplotlib"]
#: The widget tests, and labsim.plots.render's (it hooks matplotlib's Agg text drawing, the part
#: most likely to differ between matplotlib 3.10 and 3.11).
WIDGET_TESTS = ["tests/test_labs.py", "tests/test_render.py"]


def pyodide_versions() -> dict:
    """name -> version of Pyodide's packages that labsim runs on (its lock, not the CDN)."""
    lock = PYODIDE_NPM / "pyodide-lock.json"
    if not lock.is_file():
        pytest.fail(f"{lock} is missing: run `npm ci` in lite/ (python3 dev.py test does)")
    packages = json.loads(lock.read_text())["packages"]
    return {packages[n]["name"]: packages[n]["version"] for n in lock_closure(packages, ROOTS)}


def _installed(name):
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def test_pyodide_ships_a_matplotlib_other_than_the_pin():
    """What this file is for; if Pyodide moves to the pinned version, the extra run is redundant."""
    pins = dict(ln.split("==") for ln in (ROOT / "requirements.txt").read_text().splitlines() if "==" in ln)
    assert pyodide_versions()["matplotlib"] == "3.10.8" != pins["matplotlib"]


@pytest.mark.book
def test_widget_tests_pass_with_pyodides_versions(tmp_path):
    wanted = pyodide_versions()
    differ = {n: v for n, v in wanted.items() if _installed(n) != v}
    assert "matplotlib" in differ, differ
    env_dir = tmp_path / "pyodide-versions"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    env.update(MPLBACKEND="Agg", PIP_DISABLE_PIP_VERSION_CHECK="1")
    t0 = time.perf_counter()
    proc = subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--only-binary=:all:",
                           *[f"{n}=={v}" for n, v in sorted(differ.items())]],
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # The project's .venv behind the new site-packages (its .pth files too: labsim's editable install).
    own = Path(subprocess.check_output([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                       text=True).strip())
    (own / "zz_project_venv.pth").write_text(f"import site; site.addsitedir({sysconfig.get_paths()['purelib']!r})\n")
    probe = subprocess.run([str(py), "-c", "import json, sys; from importlib import metadata as m; import labsim;"
                            "print(json.dumps({n: m.version(n) for n in sys.argv[1:]}))", *wanted],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert probe.returncode == 0, probe.stderr[-3000:]
    assert json.loads(probe.stdout) == wanted, "the extra environment runs Pyodide's versions"
    t_env = time.perf_counter() - t0

    t0, cpu0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run([str(py), "-m", "pytest", *WIDGET_TESTS, "-q", "-n", "2", "-p", "no:cacheprovider",
                           "-o", "addopts=", "--durations=0", "--durations-min=1000"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    took = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime
    tail = proc.stdout[-4000:] + proc.stderr[-2000:]
    assert proc.returncode == 0, tail
    summary = [ln for ln in proc.stdout.splitlines() if " passed" in ln][-1]
    MEASURED.append(f"widget tests with Pyodide's versions ({', '.join(f'{n} {v}' for n, v in sorted(differ.items()))}):"
                    f" {summary.strip('= ')}; environment {t_env:.0f} s, tests {took:.0f} s wall, {cpu:.0f} s CPU (2 workers)")
