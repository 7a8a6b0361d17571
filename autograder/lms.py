"""How learning-management systems name the files of a submissions download.

Each layout is an nbgrader ``FileNameCollectorPlugin`` (what ``nbgrader zip_collect
--collector=...`` takes), so the same regular expression serves both tools; its named
groups follow nbgrader's (``student_id``, ``file_id``, ``timestamp``) plus ``name``,
``email``, ``lms_id`` and ``late`` where the LMS provides them.  Names are matched
after ``collect`` has made them relative, ``/``-separated and NFC-normalised.

- **folders**: ``[<top>/]<student>/[<assignment>/]<notebook>.ipynb`` (a zipped class
  folder, or one unzipped);
- **Canvas** ("Download Submissions"): ``<name>_[late_]<user id>_<submission id>_<file>``,
  the name squashed to lower-case letters (non-ASCII letters kept), a resubmitted file
  getting ``-1``, ``-2``... before its extension;
- **Moodle** ("Download all submissions"): ``<Full Name>_<participant id>_assignsubmission_file_/<file>``
  (or the same without the folder's ``/``, older versions);
- **Blackboard** ("Assignment File Download"): ``<Assignment>_<username>_attempt_<YYYY-MM-DD-HH-MM-SS>_<file>``
  plus one ``..._attempt_<time>.txt`` receipt per attempt;
- **Gradescope** ("Export Submissions"): ``assignment_<id>_export/submission_<id>/<file>``
  with ``submission_metadata.yml`` naming each submission's submitters (name, SID,
  e-mail) and its time.
"""

from __future__ import annotations

import datetime as dt
import re

from nbgrader.plugins import FileNameCollectorPlugin

#: Folders and files an archive tool or a desktop adds, never a submission.
JUNK = re.compile(r"(^|/)(__MACOSX|\.ipynb_checkpoints|\.DS_Store|Thumbs\.db|desktop\.ini)(/|$)")


class Layout(FileNameCollectorPlugin):
    """A download layout: a name, a regular expression, and how to read its groups."""

    key = "custom"
    label = "custom pattern"
    #: An LMS renames files; with one notebook in the assignment, any .ipynb is it.
    renames_files = True

    def hints(self, name):
        """What the file name says: a dict with ``file_id`` and student hints, or None."""
        m = re.match(self.named_regexp, name)
        if not m:
            return None
        return {k: v for k, v in m.groupdict().items() if v is not None}

    def prepare(self, entries):
        """Read any metadata the download carries (entries: name -> Entry)."""

    def is_metadata(self, name):
        return False

    def timestamp(self, hints):
        """The submission time the name carries (aware or naive datetime), or None."""
        return None


class CustomLayout(Layout):
    """An instructor's regular expression with groups ``student`` and ``notebook``."""

    def __init__(self, pattern, **kw):
        super().__init__(**kw)
        self.named_regexp = pattern

    def hints(self, name):
        m = re.match(self.named_regexp, name)
        if not m:
            return None
        gd = {k: v for k, v in m.groupdict().items() if v is not None}
        out = {"student_id": gd.get("student") or gd.get("student_id")}
        nb = gd.get("notebook") or gd.get("file_id")
        out["file_id"] = (nb + gd.get("ext", ".ipynb")) if nb else name.rsplit("/", 1)[-1]
        if "ext" in gd and nb:
            out["file_id"] = nb + gd["ext"]
        return out if out["student_id"] else None


class FolderLayout(Layout):
    key = "folders"
    label = "a folder per student"
    renames_files = False
    named_regexp = r"^(?:.*/)?(?P<student_id>[^/]+)/(?P<file_id>[^/]+)$"

    def __init__(self, assignment="", **kw):
        super().__init__(**kw)
        self.assignment = assignment

    def hints(self, name):
        parts = name.split("/")
        if len(parts) >= 3 and parts[-2] == self.assignment:
            parts = [*parts[:-2], parts[-1]]
        if len(parts) < 2:
            return None
        return {"student_id": parts[-2], "file_id": parts[-1]}


#: A file name as Canvas writes it into a download: the student's name, "late" perhaps, and
#: at least one numeric id (the user's, the submission's) before the file's own name.
CANVAS_IDS = re.compile(r"^[^_/]+_(?:(?:late|LATE)_)?\d+_(?:\d+_)*[^/]+$")


class CanvasLayout(Layout):
    key = "canvas"
    label = "Canvas"
    named_regexp = (
        r"^(?:.*/)?(?P<student_id>[^_/]+)_(?:(?P<late>late|LATE)_)?(?:(?P<lms_id>\d+)_)?"
        r"(?:\d+_)*(?P<file_id>[^/]+)$"
    )


class MoodleLayout(Layout):
    key = "moodle"
    label = "Moodle"
    named_regexp = (
        r"^(?:.*/)?(?P<name>[^/]+?)_(?P<lms_id>\d+)_assignsubmission_(?:file|onlinetext)_"
        r"/?(?:.*/)?(?P<file_id>[^/]+)$"
    )


class BlackboardLayout(Layout):
    key = "blackboard"
    label = "Blackboard"
    named_regexp = (
        r"^(?:.*/)?(?P<assignment_name>[^/]*?)_(?P<student_id>[^_/]+)_attempt_"
        r"(?P<timestamp>\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d)(?:_(?P<file_id>[^/]+)|\.txt)$"
    )

    def is_metadata(self, name):
        return bool(re.search(r"_attempt_\d{4}(?:-\d\d){5}\.txt$", name))

    def timestamp(self, hints):
        ts = hints.get("timestamp")
        return dt.datetime.strptime(ts, "%Y-%m-%d-%H-%M-%S") if ts else None


class GradescopeLayout(Layout):
    key = "gradescope"
    label = "Gradescope"
    named_regexp = r"^(?:.*/)?(?P<submission>submission_\d+)/(?:.*/)?(?P<file_id>[^/]+)$"
    metadata = {}

    def is_metadata(self, name):
        return name.rsplit("/", 1)[-1] == "submission_metadata.yml"

    def prepare(self, entries):
        import yaml

        self.metadata = {}
        for name, entry in entries.items():
            if self.is_metadata(name):
                data = yaml.safe_load(entry.read().decode("utf-8", "replace")) or {}
                self.metadata.update(data if isinstance(data, dict) else {})

    def hints(self, name):
        out = super().hints(name)
        if out is None:
            return None
        key = out.pop("submission")
        info = self.metadata.get(f":{key}") or self.metadata.get(key) or {}
        people = info.get(":submitters") or info.get("submitters") or [{}]
        first = people[0] if isinstance(people, list) and people else {}
        for key, src in (("sis_id", "sid"), ("email", "email"), ("name", "name")):
            value = first.get(f":{src}") or first.get(src)
            if value:
                out[key] = str(value)
        out["student_id"] = out.get("sis_id") or (out.get("email") or "").split("@")[0]
        created = info.get(":created_at") or info.get("created_at")
        if created:
            out["timestamp"] = str(created)
        return out if out["student_id"] or out.get("name") else None

    def timestamp(self, hints):
        from dateutil import parser

        ts = hints.get("timestamp")
        return parser.parse(ts) if ts else None


LAYOUTS = {
    c.key: c for c in (FolderLayout, CanvasLayout, MoodleLayout, BlackboardLayout, GradescopeLayout)
}


def detect(names, assignment):
    """The layout of a download from its file names (the most specific sign wins)."""
    names = [n for n in names if not JUNK.search(n)]
    if any(n.rsplit("/", 1)[-1] == "submission_metadata.yml" for n in names):
        return GradescopeLayout()
    if any("_assignsubmission_" in n for n in names):
        return MoodleLayout()
    if any(re.search(r"_attempt_\d{4}(?:-\d\d){5}", n) for n in names):
        return BlackboardLayout()
    nested = [n for n in names if "/" in n]
    canvas = [n for n in names if CANVAS_IDS.match(n.rsplit("/", 1)[-1])]
    if nested and len(nested) * 2 >= len(names):
        parents = {n.rsplit("/", 1)[0] for n in nested}
        # a folder per student wins, one folder included; a Canvas download unpacked
        # into one folder is Canvas only when its names carry Canvas's numeric ids
        if len(parents) > 1 or len(canvas) * 2 < len(nested):
            return FolderLayout(assignment=assignment)
    return CanvasLayout()


def suggest_pattern(name, notebooks):
    """A ``--pattern`` that would read `name` (student from its first word), or None."""
    stem = name.rsplit("/", 1)[-1]
    for nb in sorted(notebooks, key=len, reverse=True):
        i = stem.find(nb)
        if i <= 0:
            continue
        prefix = stem[:i]
        m = re.match(r"^(.+?)([ _\-.]+.*)?$", prefix)
        rest = re.sub(r"\d+", r"\\d+", re.escape(m.group(2) or ""))
        after = re.sub(r"\d+", r"\\d+", re.escape(stem[i + len(nb) :]))
        pattern = rf"^(?:.*/)?(?P<student>[^/]+?){rest}(?P<notebook>{re.escape(nb)}){after}$"
        if re.match(pattern, name):
            return pattern
    return None
