"""The explorer in JupyterLab 4 (ipywidgets 8), used as a reader uses it: headless Chromium opens lesson 40, runs
every cell, drags the sliders with the keyboard and clicks a row of the ablation; each move must redraw the figure
in the page. Needs Debian's Chromium (`.ci/run` installs it) and skips without it.

DFM_SCREENSHOTS=out/screenshots pytest tests/test_jupyterlab.py -s   # also saves what the page showed
"""
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'docs'))
from check_site import launch   # Debian's Chromium with the flags this machine's closed network needs

CHROMIUM = shutil.which('chromium')
EXPLORERS = ('40_explorer', '40a_cam_explorer')   # the DFM explorer, the CAM explorer
TOKEN = 'dfm-tutorial-test'
SHOWN = '.jp-NotebookPanel:not(.lm-mod-hidden)'           # the notebook in front: the other keeps its DOM
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium; .ci/run installs it)"
)


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(tmp_path):
    """JupyterLab on 127.0.0.1 over copies of lessons 40 and 40a in a folder laid out like the repository (nbs/ beside
    data/, out/); data/ and out/ are the repository's, so the lessons read the toy runs `make demo` (or an earlier
    lesson) left there. Yields `notebook name -> its URL`."""
    (tmp_path / 'nbs').mkdir()
    for lesson in EXPLORERS: shutil.copy(ROOT / 'nbs' / f'{lesson}.ipynb', tmp_path / 'nbs')
    for shared in ('data', 'out'):
        (ROOT / shared).mkdir(exist_ok=True)
        (tmp_path / shared).symlink_to(ROOT / shared)
    port, home = free_port(), tmp_path / 'home'
    env = {**os.environ, 'JUPYTER_CONFIG_DIR': str(home / 'config'), 'JUPYTER_RUNTIME_DIR': str(home / 'runtime'),
           'MPLBACKEND': 'Agg',
           # the other test worker runs torch on the same two cores: a kernel whose OpenMP threads spin-wait beside it
           # can take minutes per redraw (a CI run once saw no new figure for a minute); one thread each shares fairly
           'OMP_NUM_THREADS': '1'}
    server = subprocess.Popen(
        [sys.executable, '-m', 'jupyter', 'lab', '--no-browser', '--allow-root', f'--port={port}', '--ip=127.0.0.1',
         f'--IdentityProvider.token={TOKEN}', f'--ServerApp.root_dir={tmp_path}',
         f'--LabApp.workspaces_dir={home / "workspaces"}', '--LabApp.expose_app_in_browser=True'],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    base = f'http://127.0.0.1:{port}'
    try:
        for _ in range(120):                                 # the server is up when its API answers
            try:
                urllib.request.urlopen(f'{base}/api/status?token={TOKEN}', timeout=2)
                break
            except OSError: time.sleep(0.5)
        else: pytest.fail("JupyterLab did not start in 60 s")
        yield lambda lesson: f'{base}/lab/tree/nbs/{lesson}.ipynb?token={TOKEN}'
    finally:
        server.terminate()
        server.wait(timeout=30)


def slider(page, label):
    """The ipywidgets slider whose description is `label`: (its handle, its track); the value is the handle's
    aria-valuetext."""
    box = page.locator('.widget-slider').filter(has=page.locator('.widget-label', has_text=label)).first
    return box.locator('.noUi-handle').first, box.locator('.noUi-target').first


def value(handle): return float(handle.get_attribute('aria-valuetext'))


def settle(image, handle, quiet=1.5, timeout=60):
    "Wait until figure and slider stay unchanged for `quiet` s: on a busy machine the kernel's last updates come late."
    last, end = None, time.perf_counter() + timeout
    while time.perf_counter() < end:
        now = (image.get_attribute('src'), handle.get_attribute('aria-valuetext'))
        if now == last: return
        last = now
        time.sleep(quiet)
    raise AssertionError(f"the explorer was still changing after {timeout} s")


def moved(page, image, keys, handle):
    """Press `keys` on a slider `handle`; seconds until the explorer `image` shows a new figure (three minutes at most:
    on a CI machine whose other core runs another test worker, the kernel's redraw can take many seconds)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    before, was = image.get_attribute('src'), value(handle)
    start = time.perf_counter()
    for _ in range(3):                # a busy page can drop the focus, and the keys with it: press them again
        handle.focus()
        for key in keys: handle.press(key)
        end = time.perf_counter() + 10
        while value(handle) == was and time.perf_counter() < end: time.sleep(0.2)
        if value(handle) != was: break
    try:
        page.wait_for_function('([img, old]) => img.src !== old', arg=[image.element_handle(), before], timeout=180_000)
    except PlaywrightTimeout:
        kernel = page.evaluate('() => jupyterapp.shell.currentWidget.sessionContext.session.kernel.status')
        raise AssertionError(f"no new figure three minutes after {len(keys)} key presses; the slider went from {was} "
                             f"to {value(handle)}; the kernel is {kernel}") from None
    return time.perf_counter() - start


def slide(page, image, label, keys):
    "Press `keys` on slider `label` once the explorer `image` is still; (its value before, after) the new figure."
    handle = slider(page, label)[0]
    settle(image, handle)
    before = value(handle)
    seconds = moved(page, image, keys, handle)
    print(f"\n{label} {before:.2f} -> {value(handle):.2f}: new figure after {1000 * seconds:.0f} ms")
    return before, value(handle)


def greyed_out(page, track, timeout=60_000):
    "Whether the slider `track` is (or within `timeout` ms becomes) disabled: the figure and the sliders update apart."
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    try:
        page.wait_for_function('track => track.hasAttribute("disabled")', arg=track.element_handle(), timeout=timeout)
    except PlaywrightTimeout: return False
    return True


def run_all(page, lab, lesson):
    "Open `lesson`'s notebook (`lab` gives its URL) and run every cell; fails on a traceback in any of its outputs."
    page.goto(lab(lesson))
    page.wait_for_selector('.jp-NotebookPanel .jp-Notebook', timeout=60_000)
    page.wait_for_function(                    # the page may restore the other notebook first: wait for this one
        f"""() => window.jupyterapp && jupyterapp.shell.currentWidget
                  && jupyterapp.shell.currentWidget.context.path.endsWith('{lesson}.ipynb')
                  && jupyterapp.shell.currentWidget.sessionContext.session""",
        timeout=60_000,
    )
    page.evaluate("() => jupyterapp.commands.execute('notebook:run-all-cells')")
    # every code cell of the notebook in front has run when every prompt shows a number ("[*]" while running, "[ ]"
    # before); the other notebook, restored beside it, keeps its DOM and its prompts
    prompts = f'{SHOWN} .jp-CodeCell .jp-InputPrompt'
    page.wait_for_function(f"""() => {{ const p = [...document.querySelectorAll('{prompts}')];
                                       return p.length > 0 && p.every(e => /\\[\\d+\\]/.test(e.textContent)); }}""",
                           timeout=420_000)
    errors = page.locator(f'{SHOWN} .jp-OutputArea-output').filter(has_text='Traceback (most recent call last)')
    assert errors.count() == 0, errors.first.inner_text()


def test_explorers_in_jupyterlab(lab):
    "Lesson 40's DFM explorer and lesson 40a's CAM explorer, each run in its own notebook, redraw when a slider moves."
    from playwright.sync_api import sync_playwright
    shots = os.environ.get('DFM_SCREENSHOTS')
    with sync_playwright() as p:
        browser = launch(p, CHROMIUM)
        page = browser.new_page(viewport={'width': 1500, 'height': 1000})
        run_all(page, lab, '40_explorer')
        dfm_image = page.locator(f'{SHOWN} img.widget-image').nth(0)
        before, after = slide(page, dfm_image, 'β', ['ArrowLeft'] * 35)   # 0.95 -> 0.60: some steps may not move
        assert after < before
        beta_handle, beta_track = slider(page, 'β')
        # the key presses' last redraws can come after the first new figure: a CI run once took one of them for the
        # click's redraw and read β's slider before the click had reached it
        settle(dfm_image, beta_handle)

        old = dfm_image.get_attribute('src')
        page.locator('button', has_text='+ channel').first.click()
        page.wait_for_function('([img, old]) => img.src !== old', arg=[dfm_image.element_handle(), old], timeout=60_000)
        assert greyed_out(page, beta_track), "the channel row has no β: its slider is greyed out"
        if shots:
            Path(shots).mkdir(parents=True, exist_ok=True)
            page.locator('button', has_text='DFM').first.click()
            dfm_image.scroll_into_view_if_needed()
            time.sleep(1)
            dfm_image.locator('xpath=../..').screenshot(path=f'{shots}/jupyterlab_dfm_explorer.png')

        run_all(page, lab, '40a_cam_explorer')
        cam_image = page.locator(f'{SHOWN} img.widget-image').nth(0)
        before, after = slide(page, cam_image, 'threshold t', ['ArrowRight'] * 10)
        assert after > before

        if shots:
            cam_image.scroll_into_view_if_needed()
            time.sleep(1)
            cam_image.locator('xpath=..').screenshot(path=f'{shots}/jupyterlab_cam_explorer.png')
        browser.close()
