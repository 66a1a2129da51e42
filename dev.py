#!/usr/bin/env python3
"""The two commands of the README, with nothing but Python 3.11 installed.

    python3 dev.py build   # make .venv, install requirements.txt, build the book into _build/html
    python3 dev.py test    # same environment plus test tools, then run every test

and one for developers, not run by CI:

    python3 dev.py mutate [MODULE ...]   # mutation testing of the core models (mutmut), with a score
    python3 dev.py lite-cell [NOTEBOOK ...]  # put the hidden JupyterLite setup cell in chapters
                                             # (default: every chapter; see _ext/lite_site.py)

Standard library only: it creates its own virtual environment in ``.venv``.
"""

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")


def run(*cmd, cwd=ROOT, env=None):
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, check=True)


def ensure_env(test: bool) -> None:
    if not PY.exists():
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp = VENV / (".installed-test" if test else ".installed")
    reqs = [ROOT / "requirements.txt"] + ([ROOT / "tests" / "requirements.txt"] if test else [])
    newest = max(r.stat().st_mtime for r in reqs + [ROOT / "pyproject.toml"])
    if stamp.exists() and stamp.stat().st_mtime >= newest:
        return
    args = []
    for r in reqs:
        args += ["-r", r]
    run(PY, "-m", "pip", "install", "--disable-pip-version-check", "-q", *args)
    stamp.touch()


LITE_DEPS = ROOT / "lite"                      # package.json + lock: the Pyodide core the lite site serves
SITE_DEPS = ROOT / "site"                      # package.json + lock: what the book's pages load (MathJax)


def npm_ci(folder: Path, why: str) -> None:
    """``npm ci`` in folder when its lock is newer than what node_modules holds."""
    lock = folder / "package-lock.json"
    stamp = folder / "node_modules" / ".package-lock.json"
    if stamp.exists() and stamp.stat().st_mtime >= lock.stat().st_mtime:
        return
    npm = shutil.which("npm")
    if npm:
        run(npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error", cwd=folder)
    else:
        print(f"! npm is missing: {why} needs Node.js and npm", flush=True)


def build() -> None:
    ensure_env(test=False)
    npm_ci(LITE_DEPS, "the JupyterLite site (Pyodide core)")
    npm_ci(SITE_DEPS, "the book's pages (MathJax, served by the site itself)")
    run(BIN / "jupyter-book", "build", ROOT, "-W", "-n", "--keep-going")
    print(f"\nThe book is in {ROOT / '_build' / 'html'}: open {ROOT / '_build' / 'html' / 'index.html'}")


CHROMIUM = Path("/usr/bin/chromium")
BROWSER_DEPS = ROOT / "tests" / "browser"      # package.json + package-lock.json (npm ci)


def ensure_browser_tools() -> None:
    """What the browser tests need besides Python: Debian's chromium (Playwright drives it; its
    own browser download is never used), the pinned npm packages the static-site test injects
    (axe-core), and those the book build copies into the site (MathJax, the Pyodide core)."""
    if not CHROMIUM.exists():
        if os.name == "posix" and os.geteuid() == 0 and shutil.which("apt-get"):
            env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
            run("apt-get", "update", "-q", env=env)
            run("apt-get", "install", "-y", "-q", "chromium", env=env)
        else:
            print(f"! {CHROMIUM} is missing: install Debian's chromium (as root: apt-get install chromium);"
                  " the browser tests fail without it", flush=True)
    npm_ci(BROWSER_DEPS, "the static-site browser test (axe-core)")
    npm_ci(LITE_DEPS, "the book build's JupyterLite site (Pyodide core)")
    npm_ci(SITE_DEPS, "the book build's pages (MathJax)")


#: Mutation testing tool, installed into .venv by `dev.py mutate` only (not a test requirement).
MUTMUT = "mutmut==3.8.1"
#: Address space each mutant's process may use: a mutant that allocates without bound fails
#: instead of starving the machine.
MUTANT_MEMORY = 6 << 30


def mutate(args) -> None:
    """Mutation testing of the modules in pyproject.toml's [tool.mutmut] against the unit tests.

    ``MODULE`` (e.g. ``theory``) restricts the run to that module's mutants; mutmut keeps its
    results in mutants/, so a stopped run resumes where it left off. Prints killed / total per
    module and the surviving mutants (``.venv/bin/mutmut show NAME`` prints one's diff).
    """
    ensure_env(test=True)
    if not (BIN / "mutmut").exists():
        run(PY, "-m", "pip", "install", "--disable-pip-version-check", "-q", MUTMUT)
    env = dict(os.environ, MPLBACKEND="Agg", CI="1")          # CI: property tests derandomized

    def limit_memory():
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (MUTANT_MEMORY, MUTANT_MEMORY))

    globs = [f"labsim.{m.removeprefix('labsim.').removesuffix('.py')}.*" for m in args]
    print("+ mutmut run", " ".join(globs), flush=True)
    subprocess.run([str(BIN / "mutmut"), "run", "--max-children", str(os.cpu_count() or 1), *globs],
                   cwd=ROOT, env=env, preexec_fn=limit_memory if os.name == "posix" else None)
    out = subprocess.run([str(BIN / "mutmut"), "results", "--all", "true"], cwd=ROOT, env=env,
                         capture_output=True, text=True).stdout
    print(mutation_summary(out, [g.removesuffix(".*") for g in globs]))


def mutation_summary(results: str, modules=()) -> str:
    """Per module: killed (a test failed, or the mutant timed out) / mutants checked, survivors.

    A mutant no unit test reaches ('no tests') counts as a survivor: that code is untested.
    """
    by_module: dict = {}
    survivors = []
    for line in results.splitlines():
        name, _, status = line.strip().rpartition(": ")
        if "__mutmut_" not in name:
            continue
        module = ".".join(name.split(".")[:2])               # labsim.<module>
        if modules and module not in modules:
            continue
        counts = by_module.setdefault(module, {})
        counts[status] = counts.get(status, 0) + 1
        if status in ("survived", "no tests"):
            survivors.append(name)
    lines = ["", "mutation score (killed / checked; 'no tests' counts as not killed, 'not checked' is left out):"]
    for module, c in sorted(by_module.items()):
        killed = c.get("killed", 0) + c.get("timeout", 0)
        checked = killed + c.get("survived", 0) + c.get("no tests", 0) + c.get("suspicious", 0)
        score = f"{100 * killed / checked:.1f}%" if checked else "-"
        rest = ", ".join(f"{k} {v}" for k, v in sorted(c.items()) if k not in ("killed", "survived"))
        lines.append(f"  {module}: {killed}/{checked} killed ({score}){'; ' + rest if rest else ''}")
    lines += ["survivors:"] + [f"  {s}" for s in survivors]
    return "\n".join(lines)


def test(extra) -> None:
    ensure_env(test=True)
    ensure_browser_tools()
    env = dict(os.environ, MPLBACKEND="Agg")
    print("+ pytest", flush=True)
    subprocess.run([str(PY), "-m", "pytest", *extra], cwd=ROOT, check=True, env=env)


def lite_cell(paths) -> None:
    """Put (or refresh) the hidden setup cell that installs a chapter's packages in JupyterLite."""
    sys.path.insert(0, str(ROOT / "_ext"))
    from lite_site import add_setup_cell, browser_packages  # standard library only
    import json
    for path in [Path(p) for p in paths] or sorted((ROOT / "chapters").glob("*.ipynb")):
        changed = add_setup_cell(path)
        packages = browser_packages(json.loads(path.read_text(encoding="utf-8")))
        print(f"{path.name}: {'updated' if changed else 'unchanged'} (installs {', '.join(packages) or 'nothing'})")


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else ""
    try:
        if what == "build":
            build()
        elif what == "test":
            test(sys.argv[2:])
        elif what == "mutate":
            mutate(sys.argv[2:])
        elif what == "lite-cell":
            lite_cell(sys.argv[2:])
        else:
            sys.exit(__doc__)
    except subprocess.CalledProcessError as e:
        sys.exit(e.returncode)
