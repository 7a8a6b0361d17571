"""JupyterLab in a real browser for the tests: a private Lab server and Debian's Chromium.

The server runs on 127.0.0.1 on a free port without a token, in a temporary root, with
its own Jupyter config, settings and workspace directories (so the news pop-up is
switched off there and nothing is written to the user's Jupyter state).  Chromium is
Debian's (/usr/bin/chromium), driven by Playwright's sync API with a fresh profile; no
browser is ever downloaded.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from classroom.paths import REPO

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = REPO / "artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    # a CHECK that fails at start-up (Chromium then dies of SIGTRAP) says which, on stderr
    "--enable-logging=stderr",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ANNOUNCEMENTS = "@jupyterlab/apputils-extension:announcements"
LAB_CONFIG = REPO / "lab-config"
#: The course's Jupyter server configuration (formgrader asks before regrading).
SERVER_CONFIG = REPO / "jupyter-config" / "jupyter_server_config.d"


def require_chromium():
    """Fail (never skip) the calling test when Debian's Chromium is missing, saying what to do."""
    import pytest

    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's Chromium. Run "
            "`bash scripts/setup_system.sh` (what `make test` does on first use), or "
            "`apt-get install chromium`."
        )


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _jupyter(*args):
    return [str(Path(sys.executable).parent / "jupyter"), *args]


@contextlib.contextmanager
def jupyter_lab(root, state_dir, timeout=60, student=True):
    """Start JupyterLab serving `root`; yield its base URL; stop it afterwards.

    Parameters
    ----------
    root : Path
        The server's root directory (notebooks are opened relative to it).
    state_dir : Path
        A private directory for Jupyter's config, data, runtime, settings and log.
    timeout : float
        Seconds to wait for the server to answer.
    student : bool
        The student's Lab, as `make lab` starts it (nbgrader's Validate button only);
        False: the instructor's, with nbgrader's formgrader.
    """
    state_dir = Path(state_dir)
    env = dict(os.environ)
    if student:
        env["JUPYTER_CONFIG_PATH"] = str(LAB_CONFIG)
    else:
        env.pop("JUPYTER_CONFIG_PATH", None)
    env.update(
        JUPYTER_CONFIG_DIR=str(state_dir / "config"),
        JUPYTER_RUNTIME_DIR=str(state_dir / "runtime"),
        IPYTHONDIR=str(state_dir / "ipython"),
        MPLBACKEND="module://matplotlib_inline.backend_inline",
        PATH=str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", ""),
    )
    env.pop("NBGRADER_EXECUTION", None)
    # The news pop-up would cover the notebook: disable it in the private config only
    # (what `jupyter labextension disable` writes, without another 3 s CLI start).
    labconfig = state_dir / "config" / "labconfig"
    labconfig.mkdir(parents=True, exist_ok=True)
    (labconfig / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {ANNOUNCEMENTS: True}})
    )
    if not student:
        # the course's server extensions, as the package installs them into
        # <prefix>/etc/jupyter (pyproject.toml's shared-data)
        confd = state_dir / "config" / "jupyter_server_config.d"
        confd.mkdir(parents=True, exist_ok=True)
        for conf in sorted(SERVER_CONFIG.glob("*.json")):
            (confd / conf.name).write_text(conf.read_text())
    # Render every cell (no windowing), so the tests find widgets below the fold too.
    tracker = state_dir / "settings" / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True, exist_ok=True)
    (tracker / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    port = free_port()
    log = open(state_dir / "lab.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        _jupyter(
            "lab",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            "--IdentityProvider.token=",
            "--ServerApp.password=",
            "--ServerApp.disable_check_xsrf=True",
            "--allow-root",
            "--no-browser",
            f"--ServerApp.root_dir={root}",
            f"--LabApp.user_settings_dir={state_dir / 'settings'}",
            f"--LabApp.workspaces_dir={state_dir / 'workspaces'}",
            # window.jupyterapp lets the tests ask whether the kernel is ready
            "--LabApp.expose_app_in_browser=True",
        ),
        env=env,
        cwd=root,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        # JupyterLab is a process of its own, not a page yet: no browser event says it is
        # up, so ask its status URL until it answers (or the process ends, or the deadline)
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"JupyterLab exited early:\n{(state_dir / 'lab.log').read_text()}"
                )
            try:
                with urllib.request.urlopen(url + "/api/status", timeout=2) as r:
                    if r.status == 200:
                        break
            except (OSError, http.client.HTTPException):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"JupyterLab did not start:\n{(state_dir / 'lab.log').read_text()}"
                )
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _process_state():
    """What a process passes on to the browser it starts: control group, seccomp,
    no_new_privs, resource limits (a test that left one behind shows up here)."""
    import resource

    status = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("Seccomp", "NoNewPrivs", "Threads"):
                status[key] = value.strip()
    limits = {}
    for name in ("RLIMIT_AS", "RLIMIT_NOFILE", "RLIMIT_NPROC", "RLIMIT_FSIZE", "RLIMIT_CORE"):
        limits[name] = resource.getrlimit(getattr(resource, name))
    cgroup = ""
    with contextlib.suppress(OSError):
        cgroup = Path("/proc/self/cgroup").read_text().strip()
    return f"cgroup {cgroup!r}, {status}, limits {limits}"


@contextlib.contextmanager
def chromium_page(profile_dir, width=1400, height=1000):
    """A Playwright page in headless Debian Chromium with a fresh profile."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        # Chromium now and then dies at start-up on a loaded machine (SIGTRAP before its
        # first page): a fresh profile and another try at once, three in all
        for attempt in range(3):
            try:
                context = p.chromium.launch_persistent_context(
                    f"{profile_dir}-{attempt}" if attempt else str(profile_dir),
                    executable_path=str(CHROMIUM),
                    headless=True,
                    args=CHROMIUM_ARGS,
                    viewport={"width": width, "height": height},
                )
                break
            except PlaywrightError as exc:
                if attempt == 2:
                    raise RuntimeError(
                        f"Chromium did not start three times; this process: {_process_state()}"
                    ) from exc
        try:
            page = context.pages[0] if context.pages else context.new_page()
            yield page
        finally:
            context.close()


def screenshot(page, name, locator=None):
    """Save a PNG to artifacts/screenshots/<name>.png (kept by CI) and return its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    (locator or page).screenshot(path=str(path))
    return path


def wait_for_kernel(page, timeout_ms=90_000):
    """Wait until the current notebook's kernel is connected and idle.

    Run All sent before that is silently lost, so the tests wait like a student who
    sees the kernel indicator turn idle.
    """
    page.wait_for_function(
        """() => {
            const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
            const k = w && w.sessionContext && w.sessionContext.session
                && w.sessionContext.session.kernel;
            return !!k && w.sessionContext.isReady && k.connectionStatus === 'connected'
                && k.status === 'idle';
        }""",
        timeout=timeout_ms,
    )


def run_all_cells(page):
    """Run > Run All Cells through JupyterLab's menu."""
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()


def wait_until_all_ran(page, timeout_ms=120_000):
    """Wait until every code cell shows an execution count ([n]), none busy ([*])."""
    page.wait_for_function(
        """() => {
            const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')];
            return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
        }""",
        timeout=timeout_ms,
    )


#: JavaScript: ``digest(img)``, the bytes behind an <img> (a blob: or data: URL) as
#: "png:<length>:<hash>".
_DIGEST_FN = """
    async function digest(img) {
        const r = await fetch(img.src);
        const b = new Uint8Array(await r.arrayBuffer());
        let h = 2166136261;
        for (let i = 0; i < b.length; i++) { h ^= b[i]; h = Math.imul(h, 16777619) >>> 0; }
        const png = b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47;
        return (png ? 'png' : 'other') + ':' + b.length + ':' + h;
    }"""

IMAGE_DIGEST_JS = "async (img) => {" + _DIGEST_FN + "\n    return digest(img);\n}"

#: JavaScript: resolves with the image's digest once it differs from `old`: checked now
#: and on every change of the element's src (ipywidgets' Image sets a new one per
#: redraw), rejected after `timeout` ms.
_CHANGED_JS = (
    "async (img, [old, timeout]) => {"
    + _DIGEST_FN
    + """
    return await new Promise((resolve, reject) => {
        const check = async () => {
            const d = await digest(img);
            if (d !== old) { observer.disconnect(); clearTimeout(limit); resolve(d); }
        };
        const observer = new MutationObserver(check);
        observer.observe(img, {attributes: true, attributeFilter: ['src']});
        const limit = setTimeout(() => {
            observer.disconnect();
            reject(new Error('the image did not change in ' + timeout + ' ms'));
        }, timeout);
        check();
    });
}"""
)

#: JavaScript: resolves once the element's src has not changed for `quiet` ms (each
#: change restarts the count), rejected after `timeout` ms.
_SETTLED_JS = """(img, [quiet, timeout]) => new Promise((resolve, reject) => {
    let count;
    const observer = new MutationObserver(() => {
        clearTimeout(count);
        count = setTimeout(done, quiet);
    });
    const done = () => { observer.disconnect(); clearTimeout(limit); resolve(); };
    const limit = setTimeout(() => {
        observer.disconnect();
        clearTimeout(count);
        reject(new Error('the image kept changing for ' + timeout + ' ms'));
    }, timeout);
    observer.observe(img, {attributes: true, attributeFilter: ['src']});
    count = setTimeout(done, quiet);
})"""


def image_digest(img_locator):
    """'png:<length>:<hash>' of the image an <img> element currently shows."""
    return img_locator.evaluate(IMAGE_DIGEST_JS)


def wait_for_new_image(page, img_locator, old, timeout_s=30.0):
    """The digest of the image once it differs from `old` and has settled.

    A control move may queue several callbacks (two key presses, two redraws): wait in
    the page for a first new image (its src changes), then for the kernel to go idle
    (its replies come before its idle status), then until the src has stayed the same
    for half a second.
    """
    timeout_ms = int(timeout_s * 1000)
    img_locator.evaluate(_CHANGED_JS, [old, timeout_ms])
    wait_for_kernel(page, timeout_ms=timeout_ms)
    img_locator.evaluate(_SETTLED_JS, [500, timeout_ms])
    return image_digest(img_locator)


def change_theme(page, theme):
    """Switch JupyterLab's theme ("JupyterLab Dark", "JupyterLab Light") and wait for it."""
    page.evaluate(
        "(theme) => window.jupyterapp.commands.execute('apputils:change-theme', {theme})", theme
    )
    light = "false" if "Dark" in theme else "true"
    page.wait_for_function(
        "(light) => document.body.dataset.jpThemeLight === light", arg=light, timeout=30_000
    )
    # the theme's stylesheet applies after the attribute changes: wait until its colours
    # are the ones in effect (the layout colour is light or dark like the theme)
    page.wait_for_function(_THEME_APPLIED_JS, arg=light == "true", timeout=30_000)


#: JavaScript: whether JupyterLab's layout colour in effect is light (`light`) or dark.
_THEME_APPLIED_JS = """(light) => {
    const probe = document.createElement('div');
    probe.style.color = 'var(--jp-layout-color0)';
    document.body.appendChild(probe);
    const rgb = (getComputedStyle(probe).color.match(/[\\d.]+/g) || []).map(Number);
    probe.remove();
    return rgb.length >= 3 && (rgb[0] + rgb[1] + rgb[2]) / 3 > 128 === light;
}"""


def notebook_dirty(page):
    """Whether the current notebook is marked modified (unsaved changes)."""
    return page.evaluate("() => window.jupyterapp.shell.currentWidget.context.model.dirty")
