"""The course as nbgrader sees it: its root, its nbgrader_config.py and its gradebook."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from .limits import CELL_TIMEOUT


class CourseNotFound(FileNotFoundError):
    """No course root: no nbgrader_config.py in the folder asked about or above it."""


def default_root(start=None):
    """The course root: the folder `start` (default: the current directory) or the
    nearest one above it that holds ``nbgrader_config.py``, as ``git`` finds its
    repository.

    Raises
    ------
    CourseNotFound
        When none of them holds one (run in a course root, or name it with ``--root``).
    """
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "nbgrader_config.py").is_file():
            return folder
    raise CourseNotFound(
        f"no nbgrader_config.py in {here} or above it: run in a course root or name one with --root"
    )


def load_config(root, db_url=None, cell_timeout=None):
    """Read ``<root>/nbgrader_config.py`` into a traitlets Config, with overrides.

    Parameters
    ----------
    root : path
        The course root (the folder holding nbgrader_config.py).
    db_url : str, optional
        Any database URL nbgrader accepts (default: the config's, else
        ``sqlite:///<root>/gradebook.db``).
    cell_timeout : int, optional
        Per-cell limit in seconds (``Execute.timeout``).
    """
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    root = Path(root).resolve()
    config = Config()
    if (root / "nbgrader_config.py").exists():
        config.merge(PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config())
    config.CourseDirectory.root = str(root)
    if db_url:
        config.CourseDirectory.db_url = db_url
    elif "db_url" not in config.CourseDirectory:
        config.CourseDirectory.db_url = "sqlite:///" + str(root / "gradebook.db")
    if cell_timeout:
        config.Execute.timeout = int(cell_timeout)
    config.OverwriteCells.add_missing_cells = True
    return config


def prepare_environment():
    """nbgrader needs `alembic` on PATH; its SQLAlchemy warnings say nothing about grades."""
    import warnings

    bindir = str(Path(sys.executable).parent)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    try:
        from nbformat.validator import MissingIDFieldWarning

        warnings.filterwarnings("ignore", category=MissingIDFieldWarning)
    except ImportError:
        pass
    try:
        from sqlalchemy.exc import SAWarning

        warnings.filterwarnings("ignore", category=SAWarning)
    except ImportError:
        pass


@dataclass
class Course:
    """Paths and settings of one nbgrader course."""

    root: Path
    config: object

    @classmethod
    def load(cls, root=None, db_url=None, cell_timeout=None):
        prepare_environment()
        root = Path(root or default_root()).resolve()
        return cls(root, load_config(root, db_url, cell_timeout))

    @property
    def db_url(self):
        return self.config.CourseDirectory.db_url

    def _dir(self, name, default):
        value = self.config.CourseDirectory.get(name, default)
        return self.root / value

    @property
    def source(self):
        return self._dir("source_directory", "source")

    @property
    def release(self):
        return self._dir("release_directory", "release")

    @property
    def submitted(self):
        return self._dir("submitted_directory", "submitted")

    @property
    def autograded(self):
        return self._dir("autograded_directory", "autograded")

    @property
    def feedback(self):
        return self._dir("feedback_directory", "feedback")

    @property
    def records(self):
        """Where `grade` keeps per-submission run records (status, time, flags)."""
        return self.root / "grading-records"

    @property
    def cell_timeout(self):
        return int(self.config.Execute.get("timeout", CELL_TIMEOUT) or CELL_TIMEOUT)

    def gradebook_path(self):
        """The SQLite file of the gradebook, or None for another database."""
        url = self.db_url
        return Path(url[len("sqlite:///") :]) if url.startswith("sqlite:///") else None

    def assignments(self):
        return sorted(
            p.name for p in self.source.iterdir() if p.is_dir() and not p.name.startswith(".")
        )

    def notebook_names(self, assignment):
        return sorted(p.stem for p in (self.source / assignment).glob("*.ipynb"))

    def resources(self, assignment, student, notebook, **extra):
        """The ``resources`` nbgrader's converters hand their preprocessors for one
        notebook (``unique_key`` and the ``nbgrader`` entry: ids, gradebook URL and any
        `extra` keys such as ``notes``)."""
        info = {
            "student": student,
            "assignment": assignment,
            "notebook": notebook,
            "db_url": self.db_url,
            **extra,
        }
        return {"unique_key": notebook, "nbgrader": info}

    def coursedir(self, **settings):
        from nbgrader.coursedir import CourseDirectory

        cd = CourseDirectory(config=self.config)
        for k, v in settings.items():
            setattr(cd, k, v)
        return cd
