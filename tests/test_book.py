"""The book builds with warnings as errors, executing every notebook (one build per session:
see ``built_book`` in conftest.py), and its launch buttons open a chapter in JupyterLab."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))


@pytest.mark.book
def test_book_builds_with_warnings_as_errors(built_book):
    assert built_book.returncode == 0, built_book.log
    html = built_book.html
    pages = ["index.html"] + [f"chapters/{p.stem}.html" for p in CHAPTERS]
    for page in pages:
        assert (html / page).is_file(), page
    body = (html / "chapters/03_concurrency_and_throttling.html").read_text()
    assert "Erlang B" in body
    # The site shows each lab as its static version (controls and precomputed states, with no
    # kernel), not as an embedded widget view that would need a widget manager from a CDN.
    assert 'class="labsim-static" data-lab="concurrency_lab"' in body, "the static lab is on the page"
    assert "application/vnd.jupyter.widget-view+json" not in body, "no embedded widget state"


@pytest.mark.book
@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_every_chapter_offers_its_notebook_for_download(built_book, path):
    page = (built_book.html / "chapters" / f"{path.stem}.html").read_text()
    href = f"../_sources/chapters/{path.name}"
    assert f'href="{href}"' in page, "download (.ipynb) button"
    shipped = built_book.html / "_sources" / "chapters" / path.name
    assert shipped.read_bytes() == path.read_bytes(), "the download is the chapter as committed"


@pytest.mark.book
@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_every_chapter_has_a_run_in_your_browser_button(built_book, path):
    """Beside the download button, whether or not the book is published; the lite site holds the chapter."""
    page = (built_book.html / "chapters" / f"{path.stem}.html").read_text()
    button = page.find(f'href="../_static/run-in-browser.html?path=chapters/{path.name}"')
    download = page.find(f'href="../_sources/chapters/{path.name}"')
    assert button > 0 and "Run this chapter in your browser" in page, "Run in your browser button"
    assert abs(button - download) < 3000, "the button is in the header, beside the download button"
    assert (built_book.html / "lite" / "files" / "chapters" / path.name).is_file(), "the lite site holds the chapter"
    assert (built_book.html / "_static" / "run-in-browser.html").is_file()


def test_published_settings_are_empty_until_published():
    """No launch button may point at a repository that does not exist: the URLs stay empty."""
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert cfg["repository"]["url"] == "" and cfg["launch_buttons"]["binderhub_url"] == ""
    assert cfg["launch_buttons"]["notebook_interface"] == "jupyterlab"


@pytest.mark.book
def test_unpublished_pages_show_no_launch_button(built_book):
    for page in (built_book.html / "chapters").glob("*.html"):
        text = page.read_text()
        assert "mybinder.org" not in text and "/v2/gh/" not in text, page.name


@pytest.mark.book
def test_binder_button_opens_the_chapter_in_jupyterlab(tmp_path):
    """With the repository block filled in (here a placeholder, only in a temp copy of the
    config), every chapter gets a Binder button that opens it in JupyterLab. Notebooks are not
    executed: this checks the buttons only."""
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    cfg["repository"]["url"] = "https://github.com/example-owner/example-repo"
    cfg["launch_buttons"]["binderhub_url"] = "https://mybinder.org"
    cfg["execute"]["execute_notebooks"] = "off"
    # paths in the config are relative to the config file: point them back at the repository
    cfg["sphinx"]["local_extensions"] = {k: str(ROOT / v) for k, v in cfg["sphinx"].get("local_extensions", {}).items()}
    conf = tmp_path / "_config.yml"
    conf.write_text(yaml.safe_dump(cfg))
    jb = Path(sys.executable).with_name("jupyter-book")
    proc = subprocess.run([str(jb), "build", str(ROOT), "--config", str(conf), "--path-output", str(tmp_path)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for path in CHAPTERS:
        page = (tmp_path / "_build" / "html" / "chapters" / f"{path.stem}.html").read_text()
        links = set(re.findall(r'href="(https://mybinder\.org/v2/gh/[^"]+)"', page))
        want = ("https://mybinder.org/v2/gh/example-owner/example-repo/main"
                f"?urlpath=lab/tree/chapters/{path.name}")
        assert links == {want}, (path.name, links)
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_publishing_workflow_does_the_readme_build():
    wf = yaml.safe_load((ROOT / ".github" / "workflows" / "pages.yml").read_text())
    steps = [s for job in wf["jobs"].values() for s in job["steps"]]
    assert any(s.get("run") == "python3 dev.py build" for s in steps), "same build command as the README"
    upload = [s for s in steps if str(s.get("uses", "")).startswith("actions/upload-pages-artifact")]
    assert upload and upload[0]["with"]["path"] == "_build/html"
    assert any(str(s.get("uses", "")).startswith("actions/deploy-pages") for s in steps)
    assert "python3 dev.py build" in (ROOT / "README.md").read_text()
