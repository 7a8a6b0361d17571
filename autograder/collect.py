"""Import submissions into nbgrader's ``submitted/<student>/<assignment>/`` layout.

The source is a folder or a zip: a folder per student, or a learning-management
system's download (Canvas, Moodle, Blackboard, Gradescope; see :mod:`autograder.lms`),
recognised from its file names, or read with the instructor's own ``--pattern``.  A
roster (:mod:`autograder.roster`) maps the LMS's names and ids to the gradebook's.

Nothing hostile gets in and nothing is dropped silently:

- *refused* (named, not imported): absolute names, ``..``, symbolic links, devices and
  pipes, files over :data:`MAX_BYTES`, unsafe student ids, and notebooks nested deeper
  than nbformat reads (JSON parsing would stop with a RecursionError);
- *unknown*: files that match no student or no notebook of the assignment, each with a
  ``--pattern`` suggestion where one can be guessed;
- *unreadable*: files that are not notebooks are still imported, so grading records a
  zero and names the reason;
- *duplicates*: when a student has several files for one notebook (LMS resubmissions,
  ``-1`` suffixes, Blackboard attempts) the newest wins and the choice is reported.

Zip entry times carry no time zone: they are read in the instructor's (``--tz``,
default the machine's), unless the entry has the extended-timestamp field (UTC).  Each
submission gets nbgrader's ``timestamp.txt`` in UTC, which autograde reads for late
penalties.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import os
import re
import shutil
import stat
import struct
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from . import lms

#: Largest file imported (a notebook with many figures is a few MB).
MAX_BYTES = 64 * 1024 * 1024

#: Kept for callers of the old API: the Canvas layout's expression.
DEFAULT_PATTERN = lms.CanvasLayout.named_regexp


@dataclass
class Entry:
    """A file of the source: its relative name, kind, size, time and contents."""

    name: str
    kind: str  # "file", "dir", "symlink" or "special"
    size: int
    mtime: dt.datetime | None
    read: object  # () -> bytes


@dataclass
class Candidate:
    student: str
    notebook: str
    origin: str
    when: dt.datetime
    resubmission: int
    data: bytes
    sender: str = ""
    hints: dict = field(default_factory=dict)


#: In a collected submission's folder: who sent it (the download's own name for them).
SENDER_FILE = ".collected-from.json"


@dataclass
class CollectReport:
    assignment: str
    layout: str = ""
    zone: str = ""
    imported: list = field(default_factory=list)  # (student, notebook, origin)
    unknown: list = field(default_factory=list)  # (origin, why)
    refused: list = field(default_factory=list)  # (origin, why)
    unreadable: list = field(default_factory=list)  # (student, notebook, origin, why)
    duplicates: list = field(default_factory=list)  # (student, notebook, chosen, [rejected])
    replaced: list = field(default_factory=list)  # students whose earlier import was replaced
    conflicts: list = field(default_factory=list)  # (student, earlier sender, new sender)
    seen: set = field(default_factory=set)  # every student id met, even without a notebook
    suggestions: dict = field(default_factory=dict)  # origin -> suggested --pattern

    @property
    def students(self):
        return sorted({s for s, _, _ in self.imported})

    def lines(self):
        if self.conflicts:
            out = [f"collect stopped: nothing of {self.assignment} was written"]
            for student, before, now in self.conflicts:
                out.append(
                    f"conflict: {student} holds the work of {before!r}, collected earlier; "
                    f"this download's {now!r} would replace it. Map them apart with --roster "
                    "or --pattern, or remove that folder first if it is a mistake."
                )
            return out
        out = [
            f"collected {len(self.imported)} notebooks from {len(self.students)} students "
            f"for {self.assignment}" + (f" (layout: {self.layout})" if self.layout else "")
        ]
        if self.zone:
            out.append(f"times without a zone read as {self.zone}")
        if self.replaced:
            out.append(f"replaced earlier imports of: {', '.join(self.replaced)}")
        for student, nb, chosen, rejected in self.duplicates:
            out.append(
                f"resubmission: {student}/{nb}: kept the newest {chosen}; "
                f"ignored {', '.join(rejected)}"
            )
        for origin, why in self.refused:
            out.append(f"refused: {origin}: {why} - not imported")
        for student, nb, origin, why in self.unreadable:
            out.append(f"unreadable: {origin} ({student}/{nb}): {why} - imported, will score 0")
        for origin, why in self.unknown:
            out.append(f"unknown: {origin}: {why} - not imported")
            if origin in self.suggestions:
                out.append(f"  try: --pattern '{self.suggestions[origin]}'")
        for student in sorted(self.seen - set(self.students)):
            out.append(f"no notebook: {student} submitted none of the assignment's notebooks")
        return out


# -- time zones -------------------------------------------------------------------------


def zone(name=None):
    """(tzinfo or None for the machine's zone, a label naming it)."""
    if name:
        from zoneinfo import ZoneInfo

        return ZoneInfo(name), name
    now = dt.datetime.now().astimezone()
    offset = now.strftime("%z")
    return None, f"the machine's time zone ({now.tzname()}, UTC{offset[:3]}:{offset[3:]})"


def aware(naive, tz):
    """A naive local time read in `tz` (None: the machine's zone)."""
    if naive.tzinfo is not None:
        return naive
    return naive.replace(tzinfo=tz) if tz is not None else naive.astimezone()


def _extended_mtime(extra):
    """The UTC modification time of a zip entry's extended-timestamp field, or None."""
    i = 0
    while i + 4 <= len(extra):
        tag, size = struct.unpack("<HH", extra[i : i + 4])
        body = extra[i + 4 : i + 4 + size]
        if tag == 0x5455 and len(body) >= 5 and body[0] & 1:
            return struct.unpack("<i", body[1:5])[0]
        i += 4 + size
    return None


# -- sources ----------------------------------------------------------------------------


def member_name(info):
    """A zip member's name: UTF-8 with or without the zip's flag, else cp437; NFC."""
    name = info.filename
    if not info.flag_bits & 0x800:
        try:
            name = name.encode("cp437").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
    return unicodedata.normalize("NFC", name.replace("\\", "/"))


def _zip_kind(info):
    mode = info.external_attr >> 16
    if info.is_dir():
        return "dir"
    if info.create_system != 3 or stat.S_IFMT(mode) == 0:
        return "file"  # no Unix file type recorded
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISDIR(mode):
        return "dir"
    return "file" if stat.S_ISREG(mode) else "special"


def _zip_entries(zf, tz):
    for info in zf.infolist():
        ut = _extended_mtime(info.extra)
        if ut is not None:
            mtime = dt.datetime.fromtimestamp(ut, dt.timezone.utc)
        else:
            mtime = aware(dt.datetime(*info.date_time), tz)

        def read(info=info):
            with zf.open(info) as f:
                return f.read(MAX_BYTES + 1)

        yield Entry(member_name(info), _zip_kind(info), info.file_size, mtime, read)


def _read_regular(path):
    """A file's bytes, refusing to follow a link swapped in since it was listed."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path} is not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read(MAX_BYTES + 1)
    finally:
        os.close(fd)


def _folder_entries(root):
    root = Path(root)
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in sorted(dirnames + filenames):
            path = Path(dirpath, name)
            rel = unicodedata.normalize("NFC", path.relative_to(root).as_posix())
            st = path.lstat()
            if stat.S_ISDIR(st.st_mode):
                yield Entry(rel, "dir", 0, None, None)
                continue
            if stat.S_ISLNK(st.st_mode):
                kind = "symlink"
                if name in dirnames:
                    dirnames.remove(name)
            else:
                kind = "file" if stat.S_ISREG(st.st_mode) else "special"
            mtime = dt.datetime.fromtimestamp(st.st_mtime, dt.timezone.utc)
            yield Entry(rel, kind, st.st_size, mtime, lambda p=path: _read_regular(p))


# -- checks -----------------------------------------------------------------------------


def unsafe_name(name):
    """Why a member name must not be used as a path, or None."""
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "absolute path"
    if ".." in name.split("/"):
        return "'..' in the path"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        return "control characters in the name"
    return None


def unsafe_student(student):
    """Why a student id cannot name a folder under submitted/, or None."""
    if not student or not student.strip():
        return "empty student id"
    if student.startswith(".") or "/" in student or "\\" in student:
        return f"unsafe student id {student!r}"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in student):
        return "control characters in the student id"
    return None


def check_json(data):
    """(refuse, unreadable): why a file must not be imported / will not grade."""
    if len(data) > MAX_BYTES:
        return f"larger than {MAX_BYTES // 2**20} MB", None
    try:
        nb = json.loads(data.decode("utf-8"))
    except RecursionError:
        return "JSON nested deeper than nbformat reads", None
    except (UnicodeDecodeError, ValueError) as exc:
        return None, f"not valid JSON ({type(exc).__name__})"
    if not isinstance(nb, dict) or "cells" not in nb:
        return None, "JSON but not a notebook"
    return None, None


_RESUB = re.compile(r"^(?P<base>.+?)(?:-(?P<n>\d+)| ?\((?P<m>\d+)\))?$")


def notebook_for(file_id, notebooks, renames_files):
    """(notebook, resubmission number, why not) for a submitted file name."""
    stem, ext = os.path.splitext(file_id)
    if ext.lower() != ".ipynb":
        return None, 0, f"a {ext or 'extension-less'} file, not a notebook"
    if stem in notebooks:
        return stem, 0, None
    m = _RESUB.match(stem)
    n = int(m.group("n") or m.group("m") or 0)
    if m.group("base") in notebooks:
        return m.group("base"), n, None
    if renames_files and len(notebooks) == 1:
        return notebooks[0], n, None  # LMSs rename files; one notebook leaves no doubt
    return None, 0, f"no notebook {stem!r} in the assignment"


# -- the run ----------------------------------------------------------------------------


def _layout_for(entries, assignment, pattern, layout):
    if pattern:
        return lms.CustomLayout(pattern)
    if layout:
        cls = lms.LAYOUTS[layout]
        return cls(assignment=assignment) if cls is lms.FolderLayout else cls()
    names = [e.name for e in entries if e.kind == "file"]
    return lms.detect(names, assignment)


def _screen(entries, report):
    """Regular files with safe names; everything else refused by name."""
    for e in entries:
        if lms.JUNK.search(e.name) or e.kind == "dir":
            continue
        why = unsafe_name(e.name)
        if why is None and e.kind != "file":
            why = {"symlink": "a symbolic link", "special": "not a regular file"}[e.kind]
        if why is None and e.size > MAX_BYTES:
            why = f"larger than {MAX_BYTES // 2**20} MB"
        if why:
            report.refused.append((e.name, why))
            continue
        yield e


def _student(hints, roster):
    if roster is not None:
        found = roster.resolve(hints)
        if found:
            return found
    return unicodedata.normalize("NFC", (hints.get("student_id") or hints.get("name") or ""))


def _candidates(files, layout, notebooks, roster, tz, report):
    for e in files:
        if layout.is_metadata(e.name):
            continue
        hints = layout.hints(e.name)
        if not hints:
            report.unknown.append((e.name, f"does not match the {layout.label} layout"))
            suggestion = lms.suggest_pattern(e.name, notebooks)
            if suggestion:
                report.suggestions[e.name] = suggestion
            continue
        student = _student(hints, roster)
        why = unsafe_student(student)
        if why:
            report.refused.append((e.name, why))
            continue
        report.seen.add(student)
        name, n, why = notebook_for(hints["file_id"], notebooks, layout.renames_files)
        if why:
            report.unknown.append((e.name, f"{student} sent {why}"))
            continue
        when = layout.timestamp(hints)
        when = aware(when, tz) if when is not None else e.mtime
        try:
            data = e.read()
        except (OSError, EOFError, RuntimeError, ValueError, zipfile.BadZipFile, zlib.error) as exc:
            # a damaged or encrypted member: named, and the others still collected
            report.refused.append((e.name, f"could not be read ({type(exc).__name__}: {exc})"))
            continue
        refuse, _ = check_json(data)
        if refuse:
            report.refused.append((e.name, refuse))
            continue
        sender = str(hints.get("lms_id") or hints.get("student_id") or hints.get("name") or "")
        yield Candidate(student, name, e.name, when, n, data, sender, hints)


def _choose(found, report):
    by_key = {}
    for c in found:
        by_key.setdefault((c.student, c.notebook), []).append(c)
    chosen = {}
    for key, cands in sorted(by_key.items()):
        cands.sort(key=lambda c: (c.when, c.resubmission, c.origin))
        chosen[key] = cands[-1]
        if len(cands) > 1:
            report.duplicates.append((*key, cands[-1].origin, [c.origin for c in cands[:-1]]))
    return chosen


def _previous_sender(dest):
    try:
        return json.loads((dest / SENDER_FILE).read_text(encoding="utf-8")).get("sender")
    except (OSError, ValueError, AttributeError):
        return None


def _conflicts(course, assignment, chosen):
    """(student, earlier sender, new sender) where this collect would file one sender's
    work over another's."""
    found = []
    senders = {}
    for (student, _), c in sorted(chosen.items()):
        senders.setdefault(student, set()).add(c.sender)
    for student, names in sorted(senders.items()):
        if len(names) > 1:  # two senders of this download map to one student
            a, b = sorted(names)[:2]
            found.append((student, a, b))
            continue
        before = _previous_sender(course.submitted / student / assignment)
        (now,) = names
        if before and now and before != now:
            found.append((student, before, now))
    return found


def _write(course, assignment, chosen, report):
    report.conflicts = _conflicts(course, assignment, chosen)
    if report.conflicts:
        return
    for student in sorted({s for s, _ in chosen} | report.seen):
        dest = course.submitted / student / assignment
        if dest.exists():
            report.replaced.append(student)
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        newest, sender = None, None
        for (s, name), c in sorted(chosen.items()):
            if s != student:
                continue
            (dest / f"{name}.ipynb").write_bytes(c.data)
            report.imported.append((student, name, c.origin))
            _, why = check_json(c.data)
            if why:
                report.unreadable.append((student, name, c.origin, why))
            newest = c.when if newest is None or c.when > newest else newest
            sender = c.sender or sender
        if newest is not None:
            # nbgrader's own format, in UTC: autograde reads it for late penalties
            stamp = newest.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f UTC")
            (dest / "timestamp.txt").write_text(stamp, encoding="utf-8")
        if sender:
            (dest / SENDER_FILE).write_text(json.dumps({"sender": sender}), encoding="utf-8")


def _folder_students(path, layout):
    """Student folders of a source folder (seen even when they hold no notebook)."""
    if not isinstance(layout, lms.FolderLayout):
        return set()
    return {
        d.name
        for d in Path(path).iterdir()
        if d.is_dir() and not d.is_symlink() and not unsafe_student(d.name)
    }


def collect(course, assignment, path, pattern=None, tz=None, layout=None, roster=None):
    """Import the submissions at `path` (a folder or a .zip) for `assignment`.

    Parameters
    ----------
    course : Course
    assignment : str
    path : path
        A folder or a zip file.
    pattern : str, optional
        A regular expression with groups ``student`` and (optionally) ``notebook``
        instead of the recognised layouts.
    tz : str, optional
        IANA time zone for zip times (default: the machine's).
    layout : str, optional
        One of :data:`autograder.lms.LAYOUTS` instead of recognising it.
    roster : autograder.roster.Roster, optional

    Returns
    -------
    CollectReport
    """
    path = Path(path)
    notebooks = course.notebook_names(assignment)
    report = CollectReport(assignment)
    zinfo, report.zone = zone(tz)
    if path.is_dir():
        entries = list(_folder_entries(path))
        return _run(
            course, assignment, entries, notebooks, report, pattern, layout, roster, zinfo, path
        )
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is neither a folder nor a zip file")
    with zipfile.ZipFile(path) as zf:
        entries = list(_zip_entries(zf, zinfo))
        return _run(
            course, assignment, entries, notebooks, report, pattern, layout, roster, zinfo, None
        )


def _run(course, assignment, entries, notebooks, report, pattern, layout, roster, tz, folder):
    chosen_layout = _layout_for(entries, assignment, pattern, layout)
    report.layout = chosen_layout.label
    files = list(_screen(sorted(entries, key=lambda e: e.name), report))
    chosen_layout.prepare({e.name: e for e in files})
    if folder is not None:
        report.seen.update(_folder_students(folder, chosen_layout))
    found = list(_candidates(files, chosen_layout, notebooks, roster, tz, report))
    chosen = _choose(found, report)
    _write(course, assignment, chosen, report)
    if not report.conflicts:
        _fill_people(course, chosen, roster, chosen_layout, report.seen)
    return report


def _fill_people(course, chosen, roster, layout, seen):
    """Names, e-mails and Canvas user ids into the gradebook (formgrader shows the names;
    the Canvas export matches on the ids): the roster's, else what the download says.
    Only a Canvas download's number is a user id (Moodle's is a participant number)."""
    from .roster import Person, fill_gradebook

    people = {}
    for (student, _), c in sorted(chosen.items()):
        h = c.hints
        canvas_id = h.get("lms_id", "") if isinstance(layout, lms.CanvasLayout) else ""
        # Canvas squashes names in its file names: only Moodle's and Gradescope's are names
        name = h.get("name", "") if not isinstance(layout, lms.CanvasLayout) else ""
        people[student] = Person(student, name=name, email=h.get("email", ""), lms_id=canvas_id)
    # a user id the download gives several students is nobody's (a made-up download)
    ids = collections.Counter(p.lms_id for p in people.values() if p.lms_id)
    for p in people.values():
        if ids[p.lms_id] > 1:
            p.lms_id = ""
    for student in seen:
        p = roster.by_id(student) if roster is not None else None
        if p is not None:
            mine = people.get(student)
            for attr in ("name", "email", "lms_id"):
                if mine is not None and not getattr(p, attr):
                    setattr(p, attr, getattr(mine, attr))
            people[student] = p
    fill_gradebook(course, people.values())
