"""Benchmark (not a test): how fast a static lab shows a new state in Chromium.

    PYTHONPATH=. .venv/bin/python tests/bench_static_labs.py [_build/html] [--pause 0.2]

Serves the built site on 127.0.0.1 (every other request blocked), opens every chapter with labs
and, per lab and per control, does what a reader does: points at the control (the page script
then fetches and decodes that control's stops), pauses, then steps through its stops with the
keyboard (Home, then the right arrow), pausing ``--pause`` seconds between changes. The page
script times each change from the change event (its ``timeStamp``) until the new image is
decoded (``img.decode()``), in ``window.labsimTimings``. Prints p50, p95 and the maximum over all
changes, and per page. The target (issue 23): p95 at most 50 ms.
"""

from __future__ import annotations

import argparse
import functools
import sys
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from test_static_labs import _Quiet, lab_pages  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("html", nargs="?", default=str(Path(__file__).resolve().parents[1] / "_build" / "html"))
    ap.add_argument("--pause", type=float, default=0.2, help="seconds between a reader's changes")
    args = ap.parse_args(argv)
    root = Path(args.html)
    pages = lab_pages(root)
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    site = f"http://127.0.0.1:{server.server_address[1]}/"
    from playwright.sync_api import sync_playwright
    every = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            for path, manifests in pages.items():
                page = browser.new_page()
                page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(site) else r.abort())
                page.goto(site + path, wait_until="load")
                page.wait_for_function("() => Array.from(document.querySelectorAll('div.labsim-static'))"
                                       ".every(d => d.getAttribute('data-ready'))")
                labs = page.locator("div.labsim-static")
                for n, m in enumerate(manifests):
                    lab = labs.nth(n)
                    for c in m["controls"]:
                        el = lab.locator(f'[name="{c["name"]}"]')
                        el.scroll_into_view_if_needed()
                        el.hover()
                        el.focus()
                        time.sleep(args.pause)
                        for j in range(len(c["stops"])):
                            if c["kind"] == "slider":
                                page.keyboard.press("Home" if j == 0 else "ArrowRight")
                            elif c["kind"] == "select":
                                el.select_option(index=j)
                            else:
                                el.set_checked(bool(j))
                            time.sleep(args.pause)
                        lab.locator("button.labsim-reset").click()
                        time.sleep(args.pause)
                ms = [t["ms"] for t in page.evaluate("window.labsimTimings")]
                every += ms
                print(f"{path:52s} {len(ms):4d} changes  p50 {np.percentile(ms, 50):5.1f} ms  "
                      f"p95 {np.percentile(ms, 95):5.1f} ms  max {max(ms):6.1f} ms", flush=True)
                page.close()
        finally:
            browser.close()
            server.shutdown()
    print(f"ALL: {len(every)} changes  p50 {np.percentile(every, 50):.1f} ms  p95 {np.percentile(every, 95):.1f} ms"
          f"  max {max(every):.1f} ms  (target: p95 <= 50 ms)")


if __name__ == "__main__":
    main()
