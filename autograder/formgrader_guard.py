"""formgrader asks before its Autograde button replaces a submission's grades.

nbgrader's "Manage Submissions" page autogrades on one click, also a submission that
was graded already (its scores replaced by a fresh run).  This Jupyter server extension
serves formgrader's own ``manage_submissions.js`` with one change: for a submission
that is already autograded, the button first asks (``window.confirm``) and does
nothing unless the instructor says yes.  The grading itself is the course's either way
(``nbgrader_config.py``: sandboxed kernel, test cells run by the grader, review flags
kept by ``SaveTrustedGrades``).

The handler is registered for the script's exact URL before formgrader's static files:
jupyter_server loads extensions in alphabetical order (``autograder...`` before
``nbgrader...``) and tornado asks earlier handlers first.  Enabled by
``jupyter-config/jupyter_server_config.d/autograder.json`` (installed into
``<prefix>/etc/jupyter``); if nbgrader's script changes so that the change cannot be
made, the original is served and the server log says so.
"""

from __future__ import annotations

from pathlib import Path

#: Where formgrader's script starts the autograde request (nbgrader 0.9).
HOOK = "    autograde: function () {\n"
GUARD = """    autograde: function () {
        // autograder.formgrader_guard: ask before replacing existing grades
        if (this.model.get("autograded") && !window.confirm(
                "Autograde " + this.model.get("name") + " for " + this.model.get("student") +
                " again?\\n\\nIts autograded scores are replaced by a fresh run of the " +
                "course's grader (review flags stay).")) {
            return;
        }
"""
SCRIPT = "/formgrader/static/js/manage_submissions.js"


def original_script():
    """formgrader's own ``manage_submissions.js`` (text)."""
    from nbgrader.server_extensions.formgrader import handlers

    return (Path(handlers.static_path) / "js" / "manage_submissions.js").read_text("utf-8")


def guarded_script(source=None):
    """`source` (default: formgrader's script) with the question before autograding.

    Raises
    ------
    ValueError
        When the place to change is not in the script (another nbgrader version).
    """
    source = original_script() if source is None else source
    if source.count(HOOK) != 1:
        raise ValueError("formgrader's manage_submissions.js has no single autograde function")
    return source.replace(HOOK, GUARD, 1)


def _handler():
    from jupyter_server.base.handlers import JupyterHandler
    from tornado import web

    class GuardedScript(JupyterHandler):
        """formgrader's script, with the question (the original if that cannot be)."""

        @web.authenticated
        def get(self):
            try:
                text = guarded_script()
            except ValueError as exc:
                self.log.warning("autograder.formgrader_guard: %s; serving it unchanged", exc)
                text = original_script()
            self.set_header("Content-Type", "application/javascript; charset=UTF-8")
            self.set_header("Cache-Control", "no-cache")
            self.finish(text)

    return GuardedScript


def _jupyter_server_extension_points():
    return [{"module": "autograder.formgrader_guard"}]


def _load_jupyter_server_extension(serverapp):
    from jupyter_server.utils import url_path_join

    web_app = serverapp.web_app
    route = url_path_join(web_app.settings["base_url"], SCRIPT)
    web_app.add_handlers(".*$", [(route, _handler())])
    serverapp.log.info("autograder.formgrader_guard: formgrader asks before regrading")
