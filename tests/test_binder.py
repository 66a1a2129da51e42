"""Binder readiness: a fresh virtual environment made from requirements.txt alone (what Binder
installs) imports labsim and executes every chapter.

labsim goes into that environment as a wheel built from this repository (what ``pip install .``
or a git URL install gives), in place of requirements.txt's ``-e .``: every module of the source
tree must import from the installed wheel, so a subpackage left out of the wheel fails here.
The environment is the session fixture ``binder_env`` (conftest.py; pip's cache makes the install
quick when ``python3 dev.py test`` has just installed the same pins), and the session's book build
(``built_book``) runs in it: myst-nb executes every chapter there, with that environment's
kernel, once, and that one execution is both the book's and Binder's. Here: the wheel, the kernel
that environment starts, and every chapter's result in that build.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import MEASURED, execution_failure

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))

#: Run in the fresh environment (away from the source tree): walk the installed labsim, import
#: every module of it and every module the source tree has, and build the first lab; and name the
#: command of the kernel a notebook client (jupyter-book's, JupyterLab's) starts from it.
PROBE = """
import importlib, json, pkgutil, sys
import labsim
installed = ["labsim"] + [m.name for m in pkgutil.walk_packages(labsim.__path__, "labsim.", onerror=lambda n: None)]
errors = {}
for name in sorted(set(installed) | set(json.loads(sys.argv[1]))):
    try:
        importlib.import_module(name)
    except Exception as exc:
        errors[name] = f"{type(exc).__name__}: {exc}"
lab = None
if not errors:
    from labsim.labs import LABS
    name, factory = next(iter(LABS.items()))
    built = factory()
    lab = {"name": name, "labs": len(LABS), "png": len(built.png), "runs": built.runs}
from jupyter_client.manager import KernelManager
kernel = KernelManager(kernel_name="python3").format_kernel_cmd()
print(json.dumps({"file": labsim.__file__, "installed": installed, "errors": errors, "lab": lab,
                  "kernel": kernel, "python": sys.executable}))
"""


def source_modules() -> list[str]:
    """Every module of labsim in the source tree (what the wheel must contain)."""
    pkg = ROOT / "labsim"
    out = []
    for f in sorted(pkg.rglob("*.py")):
        parts = ("labsim",) + f.relative_to(pkg).with_suffix("").parts
        out.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return out


def test_source_modules_sees_the_subpackages():
    mods = source_modules()
    assert {"labsim", "labsim.labs", "labsim.plots", "labsim.labs.base"} <= set(mods), mods


def test_runtime_txt_pins_the_python_this_test_uses():
    """Binder (repo2docker) reads the Python version from runtime.txt; the pins in
    requirements.txt are tested here with that same major.minor version."""
    text = (ROOT / "runtime.txt").read_text().strip()
    assert re.fullmatch(r"python-3\.\d+", text), text
    assert text == f"python-{sys.version_info.major}.{sys.version_info.minor}", \
        f"runtime.txt says {text}, but the tests run Python {sys.version.split()[0]}"


@pytest.mark.book
def test_fresh_environment_imports_every_module_from_the_wheel(binder_env, tmp_path):
    expected = source_modules()
    probe = subprocess.run([str(binder_env.python), "-c", PROBE, json.dumps(expected)],
                           cwd=tmp_path, env=binder_env.env, capture_output=True, text=True, timeout=300)
    assert probe.returncode == 0, probe.stderr[-3000:]
    got = json.loads(probe.stdout.strip().splitlines()[-1])
    assert str(binder_env.dir) in got["file"] and not got["file"].startswith(str(ROOT)), \
        f"labsim was not imported from the installed wheel: {got['file']}"
    assert not got["errors"], "modules of the source tree that do not import from the wheel:\n" + "\n".join(
        f"  {name}: {err}" for name, err in got["errors"].items())
    missing = sorted(set(expected) - set(got["installed"]))
    assert not missing, f"modules of the source tree missing from the wheel: {missing}"
    assert got["lab"] and got["lab"]["labs"] >= 1 and got["lab"]["png"] > 1000 and got["lab"]["runs"] >= 1, got["lab"]
    # The notebooks' kernel is this environment's Python, not one that a kernelspec elsewhere names.
    assert got["kernel"][0] == got["python"] == str(binder_env.python), got["kernel"]
    MEASURED.append(f"binder env: wheel built in {binder_env.seconds_wheel:.0f} s, install {binder_env.seconds_install:.0f} s "
                    f"(wheel included), {len(expected)} labsim modules imported from it")


@pytest.mark.book
def test_fresh_environment_runs_every_chapter(built_book, binder_env):
    """The session's book build ran in the Binder-like environment and executed every chapter
    there without an error (test_notebooks.py reports each chapter's result on its own too)."""
    assert built_book.python == str(binder_env.python), f"the book was built with {built_book.python}"
    runs = {p.name: built_book.executed.get(f"chapters/{p.stem}") for p in CHAPTERS}
    missing = [name for name, run in runs.items() if run is None]
    assert not missing, f"not executed in the Binder-like environment: {missing}\n{built_book.log}"
    failures = [f"{name}: {execution_failure(run)}" for name, run in runs.items() if not run["succeeded"]]
    assert not failures, "chapters that fail in the Binder-like environment:\n" + "\n".join(failures)
