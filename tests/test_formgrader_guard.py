"""formgrader asks before its Autograde replaces grades (autograder.formgrader_guard):
the change to formgrader's own script, and how the extension is switched on.  The
browser test (tests/test_browser_instructor.py) clicks the button."""

import json

import pytest
import tomllib

from autograder import formgrader_guard as guard
from classroom.paths import REPO


def test_the_question_comes_before_the_request():
    script = guard.guarded_script()
    start = script.index("autograde: function () {")
    body = script[start : script.index("autograde_success", start)]
    assert body.index("window.confirm(") < body.index("$.post(")
    assert 'this.model.get("autograded")' in body  # only a graded submission is asked about
    assert body.index("return;") < body.index("$.post(")
    assert script.replace(guard.GUARD, guard.HOOK) == guard.original_script()


def test_an_unknown_script_is_refused_not_half_patched():
    with pytest.raises(ValueError):
        guard.guarded_script("var x = 1;")


def test_the_extension_is_switched_on_where_the_package_installs_it():
    conf = REPO / "jupyter-config" / "jupyter_server_config.d" / "autograder.json"
    enabled = json.loads(conf.read_text())["ServerApp"]["jpserver_extensions"]
    assert enabled == {"autograder.formgrader_guard": True}
    assert guard._jupyter_server_extension_points() == [{"module": "autograder.formgrader_guard"}]
    # loaded before nbgrader's formgrader (jupyter_server sorts by name), so its handler
    # for the script's URL is asked first
    assert "autograder.formgrader_guard" < "nbgrader.server_extensions.formgrader"
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    shared = project["tool"]["hatch"]["build"]["targets"]["wheel"]["shared-data"]
    assert (
        shared[str(conf.relative_to(REPO))] == "etc/jupyter/jupyter_server_config.d/autograder.json"
    )
