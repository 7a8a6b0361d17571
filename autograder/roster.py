"""The class roster: who each student is in the gradebook and in the LMS.

A roster is a CSV file (UTF-8, with or without a byte-order mark) with a header row.
Recognised columns, in any order and case: ``id`` (the nbgrader student id), ``name``,
``email``, ``sis_id`` (the student-information-system id: "SIS User ID" in Canvas,
"ID number" in Moodle), ``sis_login`` ("SIS Login ID"), ``username`` (Moodle's
"Username"), ``lms_id`` (the LMS's own numeric user id, "ID" in Canvas) and
``section``.  Only ``id`` is required.

``collect`` uses it to map what an LMS download names a student by (a Canvas user id,
a Moodle full name, a Gradescope SID or e-mail) to the nbgrader id; ``export`` uses it
to fill the identifier columns an LMS gradebook import matches on.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

COLUMNS = ("id", "name", "email", "sis_id", "sis_login", "username", "lms_id", "section")
_ALIASES = {
    "student": "name",
    "student id": "id",
    "student_id": "id",
    "sis user id": "sis_id",
    "sis login id": "sis_login",
    "sid": "sis_id",
    "e-mail": "email",
    "email address": "email",
    "canvas id": "lms_id",
    "id number": "sis_id",
    "idnumber": "sis_id",
    "user name": "username",
    "login": "username",
}


@dataclass
class Person:
    id: str
    name: str = ""
    email: str = ""
    sis_id: str = ""
    sis_login: str = ""
    username: str = ""
    lms_id: str = ""
    section: str = ""

    def split_name(self):
        """(first, last) of :attr:`name`: "Last, First" or "First ... Last"."""
        name = " ".join(self.name.split())
        if "," in name:
            last, _, first = name.partition(",")
            return first.strip(), last.strip()
        first, _, last = name.rpartition(" ")
        return (first, last) if first else ("", last)


def squash(text):
    """A name reduced for matching: NFC, case-folded, letters and digits only.

    Canvas names download files after the sortable name squashed like this
    ("Müller, Jürgen" -> "müllerjürgen"); other LMSs keep spaces.
    """
    text = unicodedata.normalize("NFC", text or "").casefold()
    return "".join(ch for ch in text if ch.isalnum())


@dataclass
class Roster:
    people: list = field(default_factory=list)

    @classmethod
    def read(cls, path):
        """Read a roster CSV; raises ValueError naming what is wrong."""
        with Path(path).open(encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            if not reader.fieldnames:
                raise ValueError(f"{path}: empty roster")
            keys = {}
            for raw in reader.fieldnames:
                k = re.sub(r"\s+", " ", (raw or "").strip().casefold())
                k = _ALIASES.get(k, k.replace(" ", "_"))
                if k in COLUMNS:
                    keys[raw] = k
            if "id" not in keys.values():
                raise ValueError(
                    f"{path}: the roster needs an 'id' column (has {reader.fieldnames})"
                )
            people = []
            for row in reader:
                values = {keys[k]: (v or "").strip() for k, v in row.items() if k in keys}
                if values.get("id"):
                    people.append(Person(**values))
        return cls(people)

    def by_id(self, student_id):
        return next((p for p in self.people if p.id == student_id), None)

    def resolve(self, hints):
        """The roster id for what a download says about a student, or None.

        Parameters
        ----------
        hints : dict
            Any of ``student_id``, ``lms_id``, ``sis_id``, ``email``, ``name``.
        """
        for key, attr in (
            ("student_id", "id"),
            ("lms_id", "lms_id"),
            ("sis_id", "sis_id"),
            ("student_id", "sis_login"),
        ):
            value = hints.get(key)
            if value:
                hit = [p for p in self.people if getattr(p, attr) == value]
                if len(hit) == 1:
                    return hit[0].id
        email = (hints.get("email") or "").casefold()
        if email:
            hit = [p for p in self.people if p.email.casefold() == email]
            if len(hit) == 1:
                return hit[0].id
        for key in ("name", "student_id"):
            name = squash(hints.get(key))
            if name:
                hit = [p for p in self.people if squash(p.name) == name]
                if len(hit) == 1:
                    return hit[0].id
        return None


def gradebook_people(gb):
    """{student id: Person} for what the gradebook holds about each student.

    nbgrader's ``Student`` has ``first_name``, ``last_name``, ``email`` and
    ``lms_user_id`` (filled by ``collect`` from a roster or an LMS download).
    """
    out = {}
    for s in gb.students:
        name = " ".join(x for x in (s.first_name, s.last_name) if x)
        out[s.id] = Person(s.id, name=name, email=s.email or "", lms_id=s.lms_user_id or "")
    return out


def merged(roster, known):
    """{student id: Person}: the roster's people, blanks filled from `known` (the
    gradebook's); students only in `known` keep what it says."""
    out = dict(known)
    for p in roster.people if roster else ():
        g = known.get(p.id)
        if g is not None:
            for attr in ("name", "email", "lms_id"):
                if not getattr(p, attr):
                    setattr(p, attr, getattr(g, attr))
        out[p.id] = p
    return out


def fill_gradebook(course, people):
    """Write names, e-mails and LMS ids into nbgrader's gradebook (what formgrader shows).

    Parameters
    ----------
    course : Course
    people : iterable of Person
        Only non-empty fields are written; a field the gradebook has is replaced.
    """
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url) as gb:
        for p in people:
            first, last = p.split_name()
            fields = {"first_name": first, "last_name": last, "email": p.email}
            fields["lms_user_id"] = p.lms_id
            gb.update_or_create_student(p.id, **{k: v for k, v in fields.items() if v})
