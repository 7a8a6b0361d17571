"""Start an IPython kernel with resource limits and the integrity guard.

Usage (by :class:`autograder.sandbox.LimitedKernelManager`, not by hand)::

    python -m autograder.kernel_launch SETTINGS.json -f CONNECTION_FILE [ipykernel args]

SETTINGS.json holds ``memory_mb`` (RLIMIT_AS of the kernel process), ``cpu_seconds``
(RLIMIT_CPU, a backstop for the per-notebook wall-clock limit the grader enforces),
``env`` (extra environment variables) and the :func:`autograder.guard.install`
configuration.  The limits are set in the kernel process itself, then ipykernel runs in
that same process, so the audit hook and the limits cover every cell.
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import resource
import sys


def _set_limits(settings):
    mem = settings.get("memory_mb")
    if mem:
        limit = int(mem) * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    cpu = settings.get("cpu_seconds")
    if cpu:
        resource.setrlimit(resource.RLIMIT_CPU, (int(cpu), int(cpu) + 5))
    # No core dumps of student processes in the grading directory.
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _preload():
    # Import what the test cells rely on before the guard snapshots it, so tampering
    # with any of it can be undone.
    for name in ("numpy", "numpy.testing", "numpy.linalg", "math"):
        importlib.import_module(name)
    try:
        import course

        for info in pkgutil.walk_packages(course.__path__, "course."):
            if info.name.endswith("widgets"):
                continue  # widgets only draw; ipywidgets is heavy to import
            try:
                importlib.import_module(info.name)
            except Exception:  # noqa: BLE001 - a broken optional module must not stop grading
                pass
    except ImportError:
        pass


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    with open(argv[0]) as f:
        settings = json.load(f)
    os.environ.update(settings.get("env", {}))
    _set_limits(settings)
    _preload()
    from ipykernel.kernelapp import IPKernelApp

    # What `python -m ipykernel_launcher` does, with the guard installed between the
    # kernel's own start-up (connection file, IPython profile) and the first cell.
    app = IPKernelApp.instance()
    app.initialize(argv[1:])
    if settings.get("guard"):
        from autograder import guard

        guard.install(settings["guard"])
    app.start()


if __name__ == "__main__":
    main()
