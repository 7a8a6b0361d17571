"""Import submissions into nbgrader's ``submitted/<student>/<assignment>/`` layout.

Two sources:

- a folder ``PATH/<student>/<notebook>.ipynb`` (or ``PATH/<student>/<assignment>/...``);
- an LMS zip download whose file names carry the student id.  The default pattern
  reads Canvas-style names, ``<student>_[late_][<digits>_]*<notebook>[-<n>].ipynb``;
  any regular expression with the named groups ``student`` and (optionally)
  ``notebook`` can replace it.

Nothing is dropped silently: files that match no student or no notebook of the
assignment are listed as *unknown*, files that are not notebooks as *unreadable* (they
are still imported, so grading records a zero and names the reason), and when a student
has several files for one notebook the newest wins and the choice is reported.  Each
submission gets nbgrader's ``timestamp.txt`` (the file's time) for late penalties.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_PATTERN = (
    r"^(?:.*/)?(?P<student>[A-Za-z0-9.\-]+)_(?:late_)?(?:\d+_)*(?P<notebook>[^/]+?)(?:-\d+)?"
    r"(?P<ext>\.[A-Za-z0-9]+)$"
)


@dataclass
class Candidate:
    student: str
    notebook: str
    origin: str
    mtime: dt.datetime
    data: bytes


@dataclass
class CollectReport:
    assignment: str
    imported: list = field(default_factory=list)  # (student, notebook, origin)
    unknown: list = field(default_factory=list)  # (origin, why)
    unreadable: list = field(default_factory=list)  # (student, notebook, origin, why)
    duplicates: list = field(default_factory=list)  # (student, notebook, chosen, [rejected])
    replaced: list = field(default_factory=list)  # students whose earlier import was replaced
    seen: set = field(default_factory=set)  # every student id met, even without a notebook

    @property
    def students(self):
        return sorted({s for s, _, _ in self.imported})

    def lines(self):
        out = [
            f"collected {len(self.imported)} notebooks from {len(self.students)} students "
            f"for {self.assignment}"
        ]
        if self.replaced:
            out.append(f"replaced earlier imports of: {', '.join(self.replaced)}")
        for student, nb, chosen, rejected in self.duplicates:
            out.append(
                f"duplicate: {student}/{nb}: kept the newest {chosen}; ignored {', '.join(rejected)}"
            )
        for student, nb, origin, why in self.unreadable:
            out.append(f"unreadable: {origin} ({student}/{nb}): {why} - imported, will score 0")
        for origin, why in self.unknown:
            out.append(f"unknown: {origin}: {why} - not imported")
        for student in sorted(self.seen - set(self.students)):
            out.append(f"no notebook: {student} submitted none of the assignment's notebooks")
        return out


def _readable(data):
    try:
        nb = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        return f"not valid JSON ({type(exc).__name__})"
    if not isinstance(nb, dict) or "cells" not in nb:
        return "JSON but not a notebook"
    return None


def _from_folder(path, assignment, notebooks, report):
    report.seen.update(d.name for d in Path(path).iterdir() if d.is_dir() and d.name[0] != ".")
    for f in sorted(Path(path).rglob("*")):
        if not f.is_file() or ".ipynb_checkpoints" in f.parts:
            continue
        rel = f.relative_to(path)
        parts = rel.parts
        if len(parts) >= 3 and parts[1] == assignment:
            parts = (parts[0], *parts[2:])
        if len(parts) != 2 or f.suffix != ".ipynb":
            report.unknown.append((str(rel), "expected <student>/<notebook>.ipynb"))
            continue
        student, name = parts[0], f.stem
        report.seen.add(student)
        if name not in notebooks:
            report.unknown.append((str(rel), f"no notebook {name!r} in {assignment}"))
            continue
        mtime = dt.datetime.fromtimestamp(f.stat().st_mtime, tz=dt.timezone.utc)
        yield Candidate(student, name, str(rel), mtime, f.read_bytes())


def _from_zip(path, assignment, notebooks, report, pattern):
    regex = re.compile(pattern)
    with zipfile.ZipFile(path) as zf:
        for info in sorted(zf.infolist(), key=lambda i: i.filename):
            if info.is_dir():
                continue
            m = regex.match(info.filename)
            if not m:
                report.unknown.append((info.filename, "file name does not match the pattern"))
                continue
            student = m.group("student")
            report.seen.add(student)
            ext = m.groupdict().get("ext")
            if ext is not None and ext != ".ipynb":
                report.unknown.append(
                    (info.filename, f"{student} sent a {ext} file, not a notebook")
                )
                continue
            name = m.groupdict().get("notebook") or (notebooks[0] if len(notebooks) == 1 else None)
            if name not in notebooks and len(notebooks) == 1:
                name = notebooks[0]  # LMSs rename files; one notebook leaves no doubt
            if name not in notebooks:
                report.unknown.append((info.filename, f"no notebook {name!r} in {assignment}"))
                continue
            mtime = dt.datetime(*info.date_time, tzinfo=dt.timezone.utc)
            yield Candidate(student, name, info.filename, mtime, zf.read(info))


def collect(course, assignment, path, pattern=None):
    """Import the submissions at `path` (a folder or a .zip) for `assignment`.

    Returns
    -------
    CollectReport
    """
    path = Path(path)
    notebooks = course.notebook_names(assignment)
    report = CollectReport(assignment)
    if path.is_dir():
        found = list(_from_folder(path, assignment, notebooks, report))
    elif zipfile.is_zipfile(path):
        found = list(_from_zip(path, assignment, notebooks, report, pattern or DEFAULT_PATTERN))
    else:
        raise ValueError(f"{path} is neither a folder nor a zip file")

    by_key = {}
    for c in found:
        by_key.setdefault((c.student, c.notebook), []).append(c)
    chosen = {}
    for key, cands in sorted(by_key.items()):
        cands.sort(key=lambda c: (c.mtime, c.origin))
        chosen[key] = cands[-1]
        if len(cands) > 1:
            report.duplicates.append((*key, cands[-1].origin, [c.origin for c in cands[:-1]]))

    for student in sorted({s for s, _ in chosen} | report.seen):
        dest = course.submitted / student / assignment
        if dest.exists():
            report.replaced.append(student)
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        newest = None
        for (s, name), c in sorted(chosen.items()):
            if s != student:
                continue
            (dest / f"{name}.ipynb").write_bytes(c.data)
            report.imported.append((student, name, c.origin))
            why = _readable(c.data)
            if why:
                report.unreadable.append((student, name, c.origin, why))
            newest = c.mtime if newest is None or c.mtime > newest else newest
        if newest is not None:
            # nbgrader's own timestamp format, read by autograde for late penalties
            (dest / "timestamp.txt").write_text(newest.strftime("%Y-%m-%d %H:%M:%S.%f %Z"))
    return report
