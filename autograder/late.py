"""Deadlines: due dates in nbgrader's gradebook and the course's late-penalty plugin.

nbgrader keeps one due date per assignment (``Assignment.duedate``, UTC) and reads each
submission's time from ``timestamp.txt`` (written by ``collect``); its autograde step
``AssignLatePenalties`` then asks the configured ``LateSubmissionPlugin`` for each
notebook's penalty and stores it in the gradebook, where ``nbgrader export``,
formgrader, and this course's feedback, export and report all read it.

:class:`PercentPerDay` is the course's policy (``nbgrader_config.py``): a share of the
notebook's score per started day late.  nbgrader's own methods ("none", "zero") or any
other plugin can replace it there.
"""

from __future__ import annotations

import datetime as dt
import math

from nbgrader.plugins import LateSubmissionPlugin
from traitlets import Float


class PercentPerDay(LateSubmissionPlugin):
    """Lose `percent` % of the notebook's score per started day late (all of it at most)."""

    percent = Float(10.0, help="share of the score lost per started day late, in %").tag(
        config=True
    )
    grace_minutes = Float(0.0, help="minutes after the due date that are not late").tag(config=True)

    def late_submission_penalty(self, student_id, score, total_seconds_late):
        late = float(total_seconds_late) - 60.0 * self.grace_minutes
        if late <= 0 or not score:
            return None
        days = math.ceil(late / 86400.0)
        return min(float(score), float(score) * self.percent / 100.0 * days)


def parse_when(text, tz=None):
    """An aware datetime for '2026-12-01 23:59' (or ISO 8601) read in `tz`.

    `tz` is an IANA name; None means the machine's zone.  A time with its own offset
    ('2026-12-01T23:59+01:00') keeps it.
    """
    from dateutil import parser

    from .collect import aware, zone

    when = parser.isoparse(text) if "T" in text else parser.parse(text)
    return aware(when, zone(tz)[0])


def due_dates(specs, assignments, tz=None):
    """{assignment: aware datetime} from ``[ASSIGNMENT=]WHEN`` options.

    A spec without an assignment applies to every assignment in `assignments`.
    """
    out = {}
    for spec in specs or ():
        name, sep, when = spec.partition("=")
        if sep:
            out[name.strip()] = parse_when(when.strip(), tz)
        else:
            for a in assignments:
                out[a] = parse_when(spec, tz)
    return out


def set_due(course, assignment, when):
    """Store the due date of `assignment` in the gradebook (creating the assignment)."""
    from nbgrader.api import Gradebook

    utc = when.astimezone(dt.timezone.utc).replace(tzinfo=None)
    with Gradebook(course.db_url) as gb:
        gb.update_or_create_assignment(assignment, duedate=utc)
    return utc
