"""The book builds with warnings as errors, executing every notebook."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.book
def test_book_builds_with_warnings_as_errors(tmp_path):
    out = tmp_path / "book"
    jb = Path(sys.executable).with_name("jupyter-book")
    proc = subprocess.run([str(jb), "build", str(ROOT), "--path-output", str(out), "-W", "-n", "--keep-going"],
                          capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    html = out / "_build" / "html"
    pages = ["index.html"] + [f"chapters/{p.stem}.html" for p in sorted((ROOT / "chapters").glob("*.ipynb"))]
    for page in pages:
        assert (html / page).is_file(), page
    body = (html / "chapters/03_concurrency_and_throttling.html").read_text()
    assert "Erlang B" in body
    assert "application/vnd.jupyter.widget-view+json" in body, "lab widgets are embedded"
    shutil.rmtree(out, ignore_errors=True)
