"""The live slider as a reader meets it: JupyterLab 4 with ipywidgets 8 in headless Chromium.

A JupyterLab server on 127.0.0.1 (free port, a token, a temporary root) opens a small notebook that
calls ``d2lmini.explore``; the test runs it from the Run menu, drags the slider with the mouse from
the first value to the third, and checks the new frame: its text, a new image, shown at its natural
size (not stretched to the cell's width), and no console errors.
"""

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request

import nbformat
import pytest
from test_browser import chromium_path

pytestmark = pytest.mark.browser

NOTEBOOK_CODE = '''\
import matplotlib.pyplot as plt
from d2lmini import explore

def curve(k):
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1], [0, k])
    return fig, f"slope {k}"

explore(curve, "k", [1, 2, 3])'''
TIMEOUT_MS = 120_000  # generous: importing torch in the kernel is slow on a busy machine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A running JupyterLab server: (base URL, token). Stopped at teardown."""
    chromium_path()  # skip (or fail on CI) before starting anything when there is no browser
    root = tmp_path_factory.mktemp("lab")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(NOTEBOOK_CODE)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, root / "explore.ipynb")
    port, token = free_port(), secrets.token_hex(16)
    # Settings, workspaces and runtime files in the temporary root: nothing of the user's is read or written.
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"} | {
        "OMP_NUM_THREADS": "1", "JUPYTER_CONFIG_DIR": str(root / ".config"),
        "JUPYTERLAB_SETTINGS_DIR": str(root / ".settings"), "JUPYTERLAB_WORKSPACES_DIR": str(root / ".workspaces"),
        "JUPYTER_RUNTIME_DIR": str(root / ".runtime")}
    log = open(root / "server.log", "wb")  # noqa: SIM115 - closed at teardown
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
         "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
         "--LabApp.extension_manager=readonly", *(["--allow-root"] if os.geteuid() == 0 else [])],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1 never goes via a proxy
        while True:
            try:
                with direct.open(f"{url}/api/status?token={token}", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"JupyterLab did not start:\n{(root / 'server.log').read_text()[-3000:]}")
            time.sleep(0.5)
        yield url, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def test_live_slider_in_jupyterlab(lab, chromium_browser):
    url, token = lab
    from playwright.sync_api import expect

    page = chromium_browser.new_page(viewport={"width": 1400, "height": 1000}, device_scale_factor=2)
    try:
        page.set_default_timeout(TIMEOUT_MS)
        errors = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{url}/lab/tree/explore.ipynb?token={token}")
        # The kernel is up when the status bar reads "Python 3 (ipykernel) | Idle"; then Run > Run All Cells.
        page.locator(".jp-Notebook .jp-Cell").first.wait_for()
        page.locator(".jp-StatusBar-Widget", has_text="| Idle").first.wait_for()
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()

        widget = page.locator(".jp-OutputArea-output .widget-vbox")
        widget.wait_for()
        text, image = widget.locator(".widget-html pre"), widget.locator("img.widget-image")
        page.wait_for_function("el => el.naturalWidth > 0", arg=image.element_handle())
        expect(text).to_have_text("slope 1")
        first = image_bytes(page, image)

        # Drag the slider's handle with the mouse from the first value to the last (third) one.
        track = widget.locator(".widget-slider .noUi-target, .widget-slider .slider").first
        handle = widget.locator(".widget-slider .noUi-handle, .widget-slider .ui-slider-handle").first
        box, start = track.bounding_box(), handle.bounding_box()
        page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] + 20, start["y"] + start["height"] / 2, steps=12)
        page.mouse.up()
        expect(text).to_have_text("slope 3", timeout=TIMEOUT_MS)  # the HTML widget replaces its <pre>
        page.wait_for_function("([el, src]) => el.currentSrc !== src && el.complete && el.naturalWidth > 0",
                               arg=[image.element_handle(), first["src"]])
        third = image_bytes(page, image)
        assert third["bytes"] != first["bytes"], "the image did not change"

        # The natural size: half the PNG's pixels (it is rendered at twice the dpi), far below the cell width.
        shown = image.bounding_box()
        cell = page.locator(".jp-OutputArea-output").first.bounding_box()
        natural = image.evaluate("el => [el.naturalWidth, el.naturalHeight]")
        assert abs(shown["width"] - natural[0] / 2) <= 1.5 and abs(shown["height"] - natural[1] / 2) <= 1.5
        assert 150 < shown["width"] < 0.5 * cell["width"], (shown, cell)
        assert errors == [], errors
    finally:
        page.close()


def image_bytes(page, image) -> dict:
    """The displayed image's source URL and its bytes, fetched by the page itself."""
    src = image.evaluate("el => el.currentSrc")
    data = page.evaluate("async src => Array.from(new Uint8Array(await (await fetch(src)).arrayBuffer()))", src)
    assert bytes(data[:4]) == b"\x89PNG"
    return {"src": src, "bytes": bytes(data)}
