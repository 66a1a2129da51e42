"""Binder readiness: a fresh virtual environment made from requirements.txt alone (what Binder
installs) imports labsim and executes every chapter.

pip's cache makes the install quick when ``python3 dev.py test`` has just installed the same pins.
Notebooks run two at a time (the machine has 2 cores) with nbclient's ``jupyter-execute`` from
the fresh environment, with that environment first on PATH so its kernel is the one used.
"""

import os
import re
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
    proc = subprocess.run([str(py), "-m", "pip", "install", "-q", "-r", "requirements.txt"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    t_install = time.perf_counter() - t0

    probe = subprocess.run([str(py), "-c", "import labsim, labsim.labs as l; print(labsim.__file__, len(l.LABS))"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.startswith(str(ROOT / "labsim")), probe.stdout
    assert int(probe.stdout.split()[-1]) >= 1, "no lab registered"

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
    MEASURED.append(f"binder env: install {t_install:.0f} s, {len(CHAPTERS)} chapters executed in {t_run:.0f} s")
    assert not failures, "\n".join(failures)
