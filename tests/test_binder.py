"""Binder readiness: a fresh virtual environment made from requirements.txt alone (what Binder
installs) imports labsim and executes every chapter.

labsim goes into that environment as a wheel built from this repository (what ``pip install .``
or a git URL install gives), in place of requirements.txt's ``-e .``: every module of the source
tree must import from the installed wheel, so a subpackage left out of the wheel fails here.
pip's cache makes the install quick when ``python3 dev.py test`` has just installed the same pins.
Notebooks run two at a time (the machine has 2 cores) with nbclient's ``jupyter-execute`` from
the fresh environment, with that environment first on PATH so its kernel is the one used.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time
import venv
from pathlib import Path

import pytest

from conftest import MEASURED

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))
PARALLEL = 2
#: The line of requirements.txt that installs labsim from this repository (Binder uses it as is).
LABSIM_REQ = re.compile(r"^(-e\s+)?\.(\[\w+(,\w+)*\])?$")
#: Left out of the copy the wheel is built from (generated or local-only).
NOT_SOURCE = shutil.ignore_patterns(".git", ".venv*", "_build", "build", "dist", "node_modules", "__pycache__",
                                    "*.egg-info", ".pytest_cache", ".hypothesis", ".ipynb_checkpoints",
                                    ".jupyter_cache", "jupyter_execute")

#: Run in the fresh environment (away from the source tree): walk the installed labsim, import
#: every module of it and every module the source tree has, and build the first lab.
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
print(json.dumps({"file": labsim.__file__, "installed": installed, "errors": errors, "lab": lab}))
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
def test_fresh_environment_from_requirements_runs_every_chapter(tmp_path):
    env_dir = tmp_path / "binder-env"
    t0 = time.perf_counter()
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    bindir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    py = bindir / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    env.update(PATH=f"{bindir}{os.pathsep}{env.get('PATH', '')}", MPLBACKEND="Agg", PIP_DISABLE_PIP_VERSION_CHECK="1")

    # labsim as a wheel, built the way `pip install .` builds it, from a copy of the work tree
    # (the build's own files stay out of the repository).
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=NOT_SOURCE)
    t_wheel = time.perf_counter()
    proc = subprocess.run([str(py), "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path / "wheels"), str(src)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    t_wheel = time.perf_counter() - t_wheel
    (wheel,) = (tmp_path / "wheels").glob("labsim-*.whl")

    # requirements.txt as Binder reads it, with the wheel in place of the line installing this repository.
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    local = [ln for ln in lines if LABSIM_REQ.match(ln.strip())]
    assert len(local) == 1, f"requirements.txt should install labsim from this repository once (`-e .`): {local}"
    reqs = tmp_path / "requirements-wheel.txt"
    reqs.write_text("\n".join([ln for ln in lines if ln not in local] + [str(wheel)]) + "\n")
    proc = subprocess.run([str(py), "-m", "pip", "install", "-q", "-r", str(reqs)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    t_install = time.perf_counter() - t0

    expected = source_modules()
    probe = subprocess.run([str(py), "-c", PROBE, json.dumps(expected)],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert probe.returncode == 0, probe.stderr[-3000:]
    got = json.loads(probe.stdout.strip().splitlines()[-1])
    assert str(env_dir) in got["file"] and not got["file"].startswith(str(ROOT)), \
        f"labsim was not imported from the installed wheel: {got['file']}"
    assert not got["errors"], "modules of the source tree that do not import from the wheel:\n" + "\n".join(
        f"  {name}: {err}" for name, err in got["errors"].items())
    missing = sorted(set(expected) - set(got["installed"]))
    assert not missing, f"modules of the source tree missing from the wheel: {missing}"
    assert got["lab"] and got["lab"]["labs"] >= 1 and got["lab"]["png"] > 1000 and got["lab"]["runs"] >= 1, got["lab"]

    t1 = time.perf_counter()
    pending, running, failures = list(CHAPTERS), [], []
    while pending or running:
        while pending and len(running) < PARALLEL:
            nb = pending.pop(0)
            log = open(tmp_path / f"{nb.stem}.log", "w+")
            running.append((nb, log, subprocess.Popen(
                [str(bindir / "jupyter-execute"), "--timeout=300", "--kernel_name=python3", nb.name],
                cwd=nb.parent, env=env, stdout=log, stderr=subprocess.STDOUT)))
        time.sleep(0.2)
        for item in list(running):
            nb, log, p = item
            if p.poll() is not None:
                running.remove(item)
                log.seek(0)
                if p.returncode != 0:
                    failures.append(f"{nb.name} (exit {p.returncode}):\n{log.read()[-3000:]}")
                log.close()
    t_run = time.perf_counter() - t1
    MEASURED.append(f"binder env: wheel built in {t_wheel:.0f} s, install {t_install:.0f} s (wheel included), "
                    f"{len(expected)} labsim modules imported from it, {len(CHAPTERS)} chapters executed in {t_run:.0f} s")
    assert not failures, "\n".join(failures)
