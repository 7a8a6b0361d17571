"""The student's JupyterLab: `make lab`'s configuration, and release notebooks stored the way
JupyterLab saves them (so opening one does not mark it modified).

The browser half (no instructor menus in the running Lab, an untouched notebook not
dirty after its kernel connects) is in tests/test_browser.py.
"""

import json
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

from autograder import release
from classroom.paths import REPO

LAB_CONFIG = REPO / "lab-config"
RELEASE_NOTEBOOKS = sorted((REPO / "notebooks").glob("*/*.ipynb"))
NBGRADER_SERVER = "nbgrader.server_extensions."


def test_make_lab_serves_the_student_edition_with_the_student_configuration():
    out = subprocess.run(
        ["make", "-n", "lab"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    assert f"JUPYTER_CONFIG_PATH={LAB_CONFIG}" in out
    # the student edition in a working folder of its own, never the repository's notebooks/
    assert "-m backprop_hub.edition --workdir" in out
    assert f"PYTHONPATH={REPO / 'lab-work' / 'lib'}" in out
    assert f"--ServerApp.root_dir={REPO / 'lab-work' / 'notebooks'}" in out
    assert "--ServerApp.ip=127.0.0.1" in out


def test_lab_config_keeps_only_nbgraders_validate_extension():
    server = json.loads((LAB_CONFIG / "jupyter_server_config.d" / "nbgrader.json").read_text())
    extensions = server["ServerApp"]["jpserver_extensions"]
    assert {k: v for k, v in extensions.items() if k.startswith(NBGRADER_SERVER)} == {
        NBGRADER_SERVER + "validate_assignment": True,
        NBGRADER_SERVER + "formgrader": False,  # creates gradebook.db where Lab starts
        NBGRADER_SERVER + "assignment_list": False,  # needs an exchange directory
        NBGRADER_SERVER + "course_list": False,
    }
    page = json.loads((LAB_CONFIG / "labconfig" / "page_config.json").read_text())
    disabled = {k for k, v in page["disabledExtensions"].items() if v}
    assert {
        "@jupyter/nbgrader:menu",  # Formgrader, Course List, Assignment List
        "@jupyter/nbgrader:formgrader",
        "@jupyter/nbgrader:create-assignment",
        "@jupyter/nbgrader:assignment-list",
        "@jupyter/nbgrader:course-list",
    } <= disabled
    assert "@jupyter/nbgrader:validate-assignment" not in disabled


def test_lab_config_names_only_plugins_that_exist():
    import nbgrader

    static = Path(nbgrader.__file__).parent / "labextension" / "static"
    bundle = " ".join(p.read_text(errors="ignore") for p in sorted(static.glob("*.js")))
    page = json.loads((LAB_CONFIG / "labconfig" / "page_config.json").read_text())
    for plugin in page["disabledExtensions"]:
        if plugin.startswith("@jupyter/nbgrader:"):
            assert f'"{plugin}"' in bundle, f"no such nbgrader plugin: {plugin}"


@pytest.mark.parametrize("path", RELEASE_NOTEBOOKS, ids=lambda p: p.parent.name)
def test_release_notebook_survives_a_jupyter_save_byte_for_byte(tmp_path, path):
    from jupyter_server.services.contents.filemanager import FileContentsManager

    shutil.copy(path, tmp_path / path.name)
    manager = FileContentsManager(root_dir=str(tmp_path))
    model = manager.get(path.name, content=True, type="notebook")
    manager.save(model, path.name)
    assert (tmp_path / path.name).read_bytes() == path.read_bytes()


@pytest.mark.parametrize("path", RELEASE_NOTEBOOKS, ids=lambda p: p.parent.name)
def test_release_notebook_holds_what_the_kernel_reports(path):
    # JupyterLab writes the kernel's language_info into the notebook when the kernel
    # connects; a notebook that already holds it stays unmodified.
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata["language_info"] == release.kernel_language_info()
    assert nb.metadata["kernelspec"]["name"] == "python3"


def test_kernel_language_info_is_what_a_running_kernel_reports():
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3")
    try:
        reply = kc.kernel_info(reply=True, timeout=30)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    assert reply["content"]["language_info"] == release.kernel_language_info()


def test_to_student_format_rewrites_a_plain_nbformat_notebook(tmp_path):
    from classroom import nbbuild

    path = tmp_path / "nb.ipynb"
    nbbuild.write(nbbuild.notebook([nbbuild.markdown("# hi", "intro")]), path)
    release.to_student_format(path)
    once = path.read_bytes()
    release.to_student_format(path)
    assert path.read_bytes() == once  # idempotent
    assert nbformat.read(path, as_version=4).metadata["language_info"]["version"]
