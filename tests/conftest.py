import os
import sys
from pathlib import Path

import pytest

# nbgrader runs `alembic` from the virtualenv's bin/.
_bin = str(Path(sys.executable).parent)
if _bin not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _bin + os.pathsep + os.environ.get("PATH", "")


_SANDBOXES = {}


@pytest.fixture(scope="session")
def course_sandbox(tmp_path_factory):
    """``course_sandbox(assignment)`` -> a CourseSandbox with that assignment generated,
    made once per test worker and assignment."""
    from classroom.harness import CourseSandbox

    def get(assignment):
        if assignment not in _SANDBOXES:
            _SANDBOXES[assignment] = CourseSandbox(
                tmp_path_factory.mktemp(assignment), [assignment]
            )
        return _SANDBOXES[assignment]

    return get
