"""nbgrader's folder exchange, private: each student reads only the course's releases and
their own submissions and feedback, and writes only their own submissions.

nbgrader 0.9's default exchange needs a world-writable root, leaves every submission
world-readable (``0644`` files, a ``0777`` folder "hidden by the timestamp") and only
warns when a submission's folder name claims another student (nbgrader #978, #1225,
#1174).  These subclasses, plugged in through nbgrader's ``ExchangeFactory``
(:func:`nbgrader_config_lines`), keep its layout and its clients (the Lab's assignment
list, ``nbgrader fetch_assignment``/``submit``/``collect``...) and enforce privacy with
the permissions of folders that :func:`backprop_hub.setup.make_course_exchange` creates
(root creates them; nothing here needs privileges):

==================  ===========================  =======  =================================
path                owner:group                  mode     who can do what
==================  ===========================  =======  =================================
``ROOT``            root:root                    0755     everyone lists the course ids
``ROOT/C``          instructor:``C-class``       0750     only the course's people enter
``ROOT/C/outbound`` instructor:``C-class``       0755     students read releases
``ROOT/C/inbound``  instructor:``C-graders``     3753     students create entries but
                                                          cannot list them; sticky: no one
                                                          removes or renames another's;
                                                          setgid: entries belong to graders
``ROOT/C/feedback`` instructor:``C-class``       0711     students open a file by its name
==================  ===========================  =======  =================================

A submission is a folder owned by its student, group ``C-graders``, ``0750`` with
``0640`` files: the graders read it, other students cannot even open it.  Collect takes a
submission only from the folder its named student owns (a student can submit with
``--student someone-else``, or plant a folder with links by hand; those are refused and
reported).  A feedback page is
``0600`` for the instructor plus a POSIX ACL entry letting its one student read it (its
name is also nbgrader's secret hash of the submission, which only that student and the
graders can read).
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import secrets
import shutil
import stat
import struct
from collections import defaultdict

from nbgrader.exchange.default import (
    Exchange,
    ExchangeCollect,
    ExchangeFetchAssignment,
    ExchangeFetchFeedback,
    ExchangeList,
    ExchangeReleaseAssignment,
    ExchangeReleaseFeedback,
    ExchangeSubmit,
)
from nbgrader.utils import ignore_patterns, notebook_hash

SUBMISSION_DIR_MODE = 0o750
SUBMISSION_FILE_MODE = 0o640
FEEDBACK_FILE_MODE = 0o600

# Linux's POSIX ACL xattr layout (acl/include/acl_ea.h): a version word, then entries of
# (tag u16, permissions u16, id u32), sorted by tag and id.
_ACL_VERSION = 2
_ACL_USER_OBJ, _ACL_USER, _ACL_GROUP_OBJ, _ACL_MASK, _ACL_OTHER = 0x01, 0x02, 0x04, 0x10, 0x20
_ACL_UNDEFINED = 0xFFFFFFFF
_READ, _WRITE = 4, 2


def grant_read(path, uid):
    """Give one user read access to a file that is otherwise its owner's (``0600``).

    Sets the file's access ACL to ``u::rw-, u:<uid>:r--, g::---, m::r--, o::---``
    (what ``setfacl -m u:<uid>:r`` on a ``0600`` file gives), through the
    ``system.posix_acl_access`` extended attribute, so no ``acl`` package is needed.

    Parameters
    ----------
    path : str or path
        A regular file owned by the caller.
    uid : int
        The user to let read it.

    Raises
    ------
    OSError
        When the file system does not support ACLs (``EOPNOTSUPP``) or the caller
        does not own the file (``EPERM``).
    """
    entries = [
        (_ACL_USER_OBJ, _READ | _WRITE, _ACL_UNDEFINED),
        (_ACL_USER, _READ, uid),
        (_ACL_GROUP_OBJ, 0, _ACL_UNDEFINED),
        (_ACL_MASK, _READ, _ACL_UNDEFINED),
        (_ACL_OTHER, 0, _ACL_UNDEFINED),
    ]
    data = struct.pack("<I", _ACL_VERSION) + b"".join(struct.pack("<HHI", *e) for e in entries)
    os.setxattr(path, "system.posix_acl_access", data)


def owner_name(path):
    """The user name owning ``path`` ("uid N" when it has no passwd entry)."""
    uid = os.stat(path).st_uid
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def tampering(path, student):
    """Why a folder in inbound is not ``student``'s own submission (None when it is).

    Collect copies as the instructor: a symbolic link (to the instructor's solutions, to
    another student's work) or a file someone else owns would hand the grader, and the
    student's feedback page, what the student could not read.
    """
    if os.path.islink(path) or not os.path.isdir(path):
        return "not a folder"
    try:
        uid = pwd.getpwnam(student).pw_uid
    except KeyError:
        return f"no user {student} on this machine"
    for folder, dirs, names in os.walk(path):
        for name in [None, *dirs, *names]:
            entry = folder if name is None else os.path.join(folder, name)
            st = os.lstat(entry)
            if stat.S_ISLNK(st.st_mode):
                return f"holds a symbolic link ({os.path.relpath(entry, path)})"
            if not (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode)):
                return f"holds a special file ({os.path.relpath(entry, path)})"
            if st.st_uid != uid:
                return f"it claims {student} but {owner_name(entry)} made it"
    return None


class PrivateExchange(Exchange):
    """The exchange's root need only be enterable: the course folders are made by root."""

    def ensure_root(self):
        if not (os.path.isdir(self.root) and os.access(self.root, os.X_OK)):
            self.fail(f"No exchange at {self.root}: ask your instructor")

    def ensure_course(self, *parts):
        """Fail unless the course's exchange folder (made by the class set-up) exists."""
        path = os.path.join(self.root, self.coursedir.course_id, *parts)
        if not os.path.isdir(path):
            self.fail(
                f"The exchange has no {path}: run `backprop-grade hub setup` for course "
                f"{self.coursedir.course_id!r} first"
            )
        return path


class PrivateReleaseAssignment(PrivateExchange, ExchangeReleaseAssignment):
    """Release into the course's ``outbound`` folder (files ``0644``: the course's readers)."""

    def init_dest(self):
        if self.coursedir.course_id == "":
            self.fail("No course id specified. Re-run with --course flag.")
        self.course_path = self.ensure_course()
        self.outbound_path = self.ensure_course("outbound")
        self.inbound_path = self.ensure_course("inbound")
        self.dest_path = os.path.join(self.outbound_path, self.coursedir.assignment_id)


class PrivateFetchAssignment(PrivateExchange, ExchangeFetchAssignment):
    """nbgrader's fetch, with the root check of :class:`PrivateExchange`."""


class PrivateList(PrivateExchange, ExchangeList):
    """nbgrader's list: a course whose folder the user cannot enter lists nothing."""


class PrivateFetchFeedback(PrivateExchange, ExchangeFetchFeedback):
    """nbgrader's fetch_feedback: the student's own pages, found by their secret hash."""


class PrivateSubmit(PrivateExchange, ExchangeSubmit):
    """nbgrader 0.9's submit, leaving the submission readable by the graders only."""

    def copy_files(self):
        self.init_release()
        secret = secrets.token_hex(64)
        dest_path = os.path.join(self.inbound_path, self.assignment_filename)
        cache_name = self.assignment_filename
        if self.add_random_string:
            cache_name = cache_name.rsplit("+", 1)[0]
        cache_path = os.path.join(self.cache_path, cache_name)
        self.log.info(f"Source: {self.src_path}")
        self.log.info(f"Destination: {dest_path}")
        self.check_filename_diff()
        old_umask = os.umask(0o077)  # private from the first byte written
        try:
            # mkdir in the setgid inbound: the folder and all written into it before its
            # mode is set belong to the graders' group (a student cannot chgrp to it)
            os.mkdir(dest_path)
            self._write_stamp(dest_path, secret)
            self._copy_into(self.src_path, dest_path)
            self.set_perms(dest_path, SUBMISSION_FILE_MODE, SUBMISSION_DIR_MODE)
            os.makedirs(self.cache_path, exist_ok=True)
            self.do_copy(self.src_path, cache_path)
            self._write_stamp(cache_path, secret)
        finally:
            os.umask(old_umask)
        self.log.info(
            f"Submitted as: {self.coursedir.course_id} {self.coursedir.assignment_id} "
            f"{self.timestamp}"
        )

    def _copy_into(self, src, dest):
        """nbgrader's do_copy (size limit, include/ignore patterns) into an existing folder."""
        if self.get_size(src) > 1000 * self.coursedir.max_dir_size:
            raise RuntimeError(f"Directory size is too big: {src}")
        ignore = ignore_patterns(
            exclude=self.coursedir.ignore,
            include=self.coursedir.include,
            max_file_size=self.coursedir.max_file_size,
            log=self.log,
        )
        shutil.copytree(src, dest, ignore=ignore, dirs_exist_ok=True)

    def _write_stamp(self, folder, secret):
        for name, text in (("timestamp.txt", self.timestamp), ("submission_secret.txt", secret)):
            with open(os.path.join(folder, name), "w") as fh:
                fh.write(text)


class PrivateCollect(PrivateExchange, ExchangeCollect):
    """nbgrader's collect, taking a submission only from the folder its student owns.

    ``refused`` lists ``(folder name, reason)`` of every submission that is not wholly
    its named student's (:func:`tampering`); they are logged as errors, never collected.
    """

    refused: list

    def init_src(self):
        if self.coursedir.course_id == "":
            self.fail("No course id specified. Re-run with --course flag.")
        self.course_path = self.ensure_course()
        self.inbound_path = self.ensure_course("inbound")
        if not os.access(self.inbound_path, os.R_OK | os.X_OK):
            self.fail(f"You don't have read permissions for the directory: {self.inbound_path}")
        student_id = self.coursedir.student_id or "*"
        pattern = os.path.join(self.inbound_path, f"{student_id}+{self.coursedir.assignment_id}+*")
        by_student = defaultdict(list)
        self.refused = []
        for path in sorted(glob.glob(pattern)):
            record = self._path_to_record(path)
            problem = tampering(path, record["username"])
            if problem:
                self.refused.append((record["filename"], problem))
                self.log.error("Refused %s: %s", record["filename"], problem)
                continue
            by_student[record["username"]].append(record)
        self.duedate = self._duedate()
        self.src_records = [self._pick(v) for v in by_student.values()]

    def _duedate(self):
        from nbgrader.api import Gradebook, MissingEntry

        with Gradebook(self.coursedir.db_url, self.coursedir.course_id) as gb:
            try:
                return gb.find_assignment(self.coursedir.assignment_id).duedate
            except MissingEntry:
                return None

    def _pick(self, records):
        """The newest submission (the newest before the due date with --before-duedate)."""
        records = self._sort_by_timestamp(records)
        if self.duedate is not None and self.before_duedate:
            on_time = [r for r in records if r["timestamp"] <= self.duedate]
            if on_time:
                return on_time[0]
        return records[0]


class PrivateReleaseFeedback(PrivateExchange, ExchangeReleaseFeedback):
    """nbgrader's release_feedback; each page readable by its own student only."""

    def init_dest(self):
        if self.coursedir.course_id == "":
            self.fail("No course id specified. Re-run with --course flag.")
        self.course_path = self.ensure_course()
        self.outbound_feedback_path = self.dest_path = self.ensure_course("feedback")

    def copy_files(self):
        exclude = set(filter(None, (self.coursedir.student_id_exclude or "").split(",")))
        regexp = re.escape(os.path.sep).join(
            [
                self.coursedir.format_path(
                    self.coursedir.feedback_directory,
                    "(?P<student_id>.*)",
                    self.coursedir.assignment_id,
                    escape=True,
                ),
                "(?P<notebook_id>.*).html",
            ]
        )
        for html_file in sorted(glob.glob(os.path.join(self.src_path, "*.html"))):
            m = re.match(regexp, html_file)
            if m is None:
                self.log.error("Could not match '%s' with regexp '%s'", html_file, regexp)
                continue
            student_id, notebook_id = m.group("student_id"), m.group("notebook_id")
            if student_id not in exclude:
                self._release_one(html_file, student_id, notebook_id)

    def _release_one(self, html_file, student_id, notebook_id):
        secret = os.path.join(os.path.dirname(html_file), "submission_secret.txt")
        if not os.path.exists(secret):  # pages written by backprop-grade feedback
            submitted = self.coursedir.format_path(
                self.coursedir.submitted_directory, student_id, self.coursedir.assignment_id
            )
            secret = os.path.join(submitted, "submission_secret.txt")
        with open(secret) as fh:
            checksum = notebook_hash(secret=fh.read(), notebook_id=notebook_id)
        try:
            uid = pwd.getpwnam(student_id).pw_uid
        except KeyError:
            self.log.error("No user %s on this machine: feedback not released", student_id)
            return
        tmp = os.path.join(self.dest_path, f"{checksum}-tmp.html")
        shutil.copyfile(html_file, tmp)
        os.chmod(tmp, FEEDBACK_FILE_MODE)
        grant_read(tmp, uid)
        final = os.path.join(self.dest_path, f"{checksum}.html")
        os.replace(tmp, final)
        self.log.info(
            "Released feedback for %s on %s/%s/%s to %s",
            student_id,
            self.coursedir.course_id,
            self.coursedir.assignment_id,
            notebook_id,
            final,
        )


FACTORY = {
    "exchange": PrivateExchange,
    "fetch_assignment": PrivateFetchAssignment,
    "fetch_feedback": PrivateFetchFeedback,
    "release_assignment": PrivateReleaseAssignment,
    "release_feedback": PrivateReleaseFeedback,
    "list": PrivateList,
    "submit": PrivateSubmit,
    "collect": PrivateCollect,
}


def nbgrader_config_lines(root):
    """Lines of an ``nbgrader_config.py`` plugging this exchange in at ``root``.

    Returns
    -------
    list of str
    """
    lines = [f"c.Exchange.root = {str(root)!r}", "c.Exchange.path_includes_course = True"]
    for trait, cls in FACTORY.items():
        lines.append(f"c.ExchangeFactory.{trait} = {cls.__module__ + '.' + cls.__name__!r}")
    return lines


__all__ = [*(c.__name__ for c in FACTORY.values()), "grant_read", "nbgrader_config_lines"]
