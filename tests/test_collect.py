"""`collect`: folder and LMS downloads (Canvas, Moodle, Blackboard, Gradescope) made here
as zips, names in every encoding LMSs and zip tools use, resubmissions, time zones, and
hostile archives (absolute names, ``..``, links, devices, 200,000-deep JSON)."""

import datetime as dt
import json
import os
import zipfile

import nbformat
import pytest

from autograder import collect, lms
from autograder.course_config import Course
from autograder.roster import Roster
from classroom import fixture

A = fixture.ASSIGNMENT


@pytest.fixture()
def course(tmp_path):
    fixture.make_course(tmp_path / "course")
    return Course.load(tmp_path / "course")


def _nb(marker="x"):
    nb = fixture.fixture_notebook()
    nb.metadata["marker"] = marker
    return nbformat.writes(nb).encode()


def _marker(course, student):
    path = course.submitted / student / A / "fixture.ipynb"
    return json.loads(path.read_text(encoding="utf-8"))["metadata"]["marker"]


def _zip(path, members, flag_utf8=True):
    """members: (name, data, date_time) or (name, data, date_time, unix mode)."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, data, when, *mode in members:
            info = zipfile.ZipInfo(name, date_time=when)
            if mode:
                info.create_system = 3
                info.external_attr = mode[0] << 16
            zf.writestr(info, data)
    if not flag_utf8:  # what re-zipping tools do: UTF-8 bytes, no flag
        raw = bytearray(path.read_bytes())
        for name, *_ in members:
            encoded = name.encode("utf-8")
            for i in _find_all(raw, encoded):
                # local and central headers: general purpose flag 2 bytes, 4 and 6 before
                for off in (i - 30 + 6, i - 46 + 8):
                    if off >= 0 and raw[off + 1] & 0x08:
                        raw[off + 1] &= ~0x08 & 0xFF
        path.write_bytes(bytes(raw))
    return path


def _find_all(buf, sub):
    i = buf.find(sub)
    while i != -1:
        yield i
        i = buf.find(sub, i + 1)


T1, T2 = (2026, 11, 1, 9, 0, 0), (2026, 11, 2, 9, 0, 0)


def test_folder_reports_unknown_unreadable_and_missing(course, tmp_path):
    src = tmp_path / "in"
    (src / "alice").mkdir(parents=True)
    (src / "alice" / "fixture.ipynb").write_bytes(_nb())
    (src / "bob" / A).mkdir(parents=True)  # <student>/<assignment>/<nb> works too
    (src / "bob" / A / "fixture.ipynb").write_bytes(_nb())
    (src / "carol").mkdir()
    (src / "carol" / "fixture.ipynb").write_bytes(b'{"cells": [')
    (src / "dave").mkdir()
    (src / "dave" / "Untitled.ipynb").write_bytes(_nb())
    (src / "stray.txt").write_text("?")

    rep = collect.collect(course, A, src)
    assert rep.layout == "a folder per student"
    assert rep.students == ["alice", "bob", "carol"]
    assert [u[0] for u in rep.unknown] == ["dave/Untitled.ipynb", "stray.txt"]
    assert [(s, why.startswith("not valid JSON")) for s, _, _, why in rep.unreadable] == [
        ("carol", True)
    ]
    text = "\n".join(rep.lines())
    assert "no notebook: dave" in text
    assert (course.submitted / "dave" / A).is_dir()  # graded as "missing notebook"
    stamp = (course.submitted / "alice" / A / "timestamp.txt").read_text()
    assert stamp.endswith(" UTC")


def test_folder_per_student_zip_is_not_one_student_named_after_the_notebook(course, tmp_path):
    z = _zip(
        tmp_path / "class.zip",
        [
            ("class/alice/fixture.ipynb", _nb("a"), T1),
            ("class/bob/fixture.ipynb", _nb("b"), T1),
            ("class/carol/fixture.ipynb", _nb("c"), T1),
        ],
    )
    rep = collect.collect(course, A, z)
    assert rep.layout == "a folder per student"
    assert rep.students == ["alice", "bob", "carol"] and not rep.duplicates
    assert [_marker(course, s) for s in rep.students] == ["a", "b", "c"]


def test_canvas_names_late_resubmissions_and_non_ascii(course, tmp_path):
    z = _zip(
        tmp_path / "canvas.zip",
        [
            ("müllerjürgen_1234_5678_fixture.ipynb", _nb("old"), T1),
            ("müllerjürgen_late_1234_5679_fixture-1.ipynb", _nb("new"), T2),
            ("smithjohn_77_88_fixture.ipynb", _nb("smith"), T1),
            ("smithjohn_77_88_notes.pdf", b"%PDF", T1),
        ],
    )
    rep = collect.collect(course, A, z)
    assert rep.layout == "Canvas"
    assert rep.students == ["müllerjürgen", "smithjohn"]
    assert _marker(course, "müllerjürgen") == "new"
    (dup,) = rep.duplicates
    assert dup[2].startswith("müllerjürgen_late") and len(dup[3]) == 1
    assert any(
        "resubmission: müllerjürgen/fixture: kept the newest" in line for line in rep.lines()
    )
    assert rep.unknown == [
        ("smithjohn_77_88_notes.pdf", "smithjohn sent a .pdf file, not a notebook")
    ]
    # the Canvas user id goes into the gradebook (the Canvas export matches on it); the
    # squashed name is no name
    people = _gradebook_people(course)
    assert people["smithjohn"] == (None, None, None, "77")
    assert people["müllerjürgen"][3] == "1234"


def test_a_user_id_several_students_share_is_stored_for_none(course, tmp_path):
    """No Canvas download gives two students one user id: a made-up one is nobody's
    (the Canvas export would otherwise file both rows under one Canvas student)."""
    z = _zip(
        tmp_path / "canvas.zip",
        [("ann_4711_1_fixture.ipynb", _nb("a"), T1), ("bob_4711_2_fixture.ipynb", _nb("b"), T1)],
    )
    collect.collect(course, A, z)
    people = _gradebook_people(course)
    assert people["ann"][3] is None and people["bob"][3] is None


@pytest.mark.parametrize("flag", [True, False], ids=["utf8-flag", "utf8-no-flag"])
def test_utf8_names_with_and_without_the_zip_flag(course, tmp_path, flag):
    z = _zip(tmp_path / "z.zip", [("zoë_1_2_fixture.ipynb", _nb(), T1)], flag_utf8=flag)
    with zipfile.ZipFile(z) as zf:
        assert bool(zf.infolist()[0].flag_bits & 0x800) == flag
    assert collect.collect(course, A, z).students == ["zoë"]


def test_cp437_names_are_read_as_cp437(course, tmp_path):
    z = _zip(tmp_path / "dos.zip", [("bjXrn_1_2_fixture.ipynb", _nb(), T1)])
    data = bytearray(z.read_bytes())
    for i in _find_all(data, b"bjXrn"):  # the name as an old DOS tool writes it
        data[i + 2] = "ö".encode("cp437")[0]
    z.write_bytes(bytes(data))
    assert collect.collect(course, A, z).students == ["björn"]


def test_moodle_folders_and_roster_names(course, tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "id,name,email,sis_id,section\nbsmith,Bob Smith,bob@uni.edu,900,A\n"
        "zmuller,Zoë Müller,zoe@uni.edu,901,B\n",
        encoding="utf-8",
    )
    z = _zip(
        tmp_path / "moodle.zip",
        [
            ("Bob Smith_991_assignsubmission_file_/fixture.ipynb", _nb("bob"), T1),
            ("Zoë Müller_992_assignsubmission_file_/my fixture.ipynb", _nb("zoe"), T1),
            ("Zoë Müller_992_assignsubmission_onlinetext_/onlinetext.html", b"<p>hi</p>", T1),
            ("Ann Other_993_assignsubmission_file_/fixture.ipynb", _nb("ann"), T1),
        ],
    )
    rep = collect.collect(course, A, z, roster=Roster.read(roster))
    assert rep.layout == "Moodle"
    # on the roster: its ids; not on it: the name as Moodle wrote it
    assert rep.students == ["Ann Other", "bsmith", "zmuller"]
    assert _marker(course, "zmuller") == "zoe"  # a renamed file: the only notebook
    assert [u[0] for u in rep.unknown] == [
        "Zoë Müller_992_assignsubmission_onlinetext_/onlinetext.html"
    ]
    # the gradebook (formgrader's student list, the LMS exports) holds who they are;
    # Moodle's participant number is no user id, so none is stored
    people = _gradebook_people(course)
    assert people["zmuller"] == ("Zoë", "Müller", "zoe@uni.edu", None)
    assert people["Ann Other"] == ("Ann", "Other", None, None)


def _gradebook_people(course):
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url) as gb:
        return {s.id: (s.first_name, s.last_name, s.email, s.lms_user_id) for s in gb.students}


def test_blackboard_attempts_newest_wins_and_receipts_are_skipped(course, tmp_path):
    z = _zip(
        tmp_path / "bb.zip",
        [
            ("HW0_jdoe_attempt_2026-11-01-10-00-00.txt", b"Name: J Doe", T2),
            ("HW0_jdoe_attempt_2026-11-01-10-00-00_fixture.ipynb", _nb("first"), T2),
            ("HW0_jdoe_attempt_2026-11-03-08-30-00.txt", b"Name: J Doe", T1),
            ("HW0_jdoe_attempt_2026-11-03-08-30-00_fixture.ipynb", _nb("second"), T1),
        ],
    )
    rep = collect.collect(course, A, z, tz="Europe/Berlin")
    assert rep.layout == "Blackboard" and rep.students == ["jdoe"] and not rep.unknown
    assert _marker(course, "jdoe") == "second"  # the attempt time in the name, not the zip's
    stamp = (course.submitted / "jdoe" / A / "timestamp.txt").read_text()
    assert stamp == "2026-11-03 07:30:00.000000 UTC"  # 08:30 in Berlin (CET)


def test_gradescope_export_reads_submitters_from_the_metadata(course, tmp_path):
    meta = (
        ":submission_111:\n"
        "  :submitters:\n  - :name: Ada Lovelace\n    :sid: '1815'\n    :email: ada@uni.edu\n"
        "  :created_at: 2026-11-02 10:00:00.000000000 -08:00\n"
        ":submission_222:\n"
        "  :submitters:\n  - :name: Alan Turing\n    :sid: ''\n    :email: alan@uni.edu\n"
        "  :created_at: 2026-11-01 10:00:00.000000000 -08:00\n"
    )
    z = _zip(
        tmp_path / "gs.zip",
        [
            ("assignment_42_export/submission_metadata.yml", meta.encode(), T1),
            ("assignment_42_export/submission_111/fixture.ipynb", _nb("ada"), T1),
            ("assignment_42_export/submission_222/Untitled.ipynb", _nb("alan"), T1),
        ],
    )
    rep = collect.collect(course, A, z)
    assert rep.layout == "Gradescope"
    assert rep.students == ["1815", "alan"] and not rep.unknown
    stamp = (course.submitted / "1815" / A / "timestamp.txt").read_text()
    assert stamp == "2026-11-02 18:00:00.000000 UTC"


def test_zip_times_read_in_the_instructors_zone(course, tmp_path):
    z = _zip(tmp_path / "c.zip", [("ann_1_2_fixture.ipynb", _nb(), (2026, 7, 1, 12, 0, 0))])
    rep = collect.collect(course, A, z, tz="America/New_York")
    assert "America/New_York" in "\n".join(rep.lines())
    stamp = (course.submitted / "ann" / A / "timestamp.txt").read_text()
    assert stamp == "2026-07-01 16:00:00.000000 UTC"  # EDT is UTC-4
    rep = collect.collect(course, A, z)  # default: the machine's zone, named
    assert "the machine's time zone" in rep.zone


def test_hostile_zip_members_are_refused_by_name_and_the_rest_collected(course, tmp_path):
    deep = b"[" * 200_000 + b"]" * 200_000
    z = _zip(
        tmp_path / "evil.zip",
        [
            ("ann_1_2_fixture.ipynb", _nb("ann"), T1),
            ("/etc/evil_1_2_fixture.ipynb", _nb(), T1),
            ("../../x_1_2_fixture.ipynb", _nb(), T1),
            (".._4711_fixture.ipynb", _nb(), T1),
            ("link_1_2_fixture.ipynb", b"/etc/passwd", T1, 0o120777),
            ("fifo_1_2_fixture.ipynb", b"", T1, 0o010644),
            ("deep_1_2_fixture.ipynb", deep, T1),
            ("zed_1_2_fixture.ipynb", _nb("zed"), T1),
        ],
    )
    rep = collect.collect(course, A, z)
    refused = dict(rep.refused)
    assert refused["/etc/evil_1_2_fixture.ipynb"] == "absolute path"
    assert refused["../../x_1_2_fixture.ipynb"] == "'..' in the path"
    assert refused[".._4711_fixture.ipynb"].startswith("unsafe student id")
    assert refused["link_1_2_fixture.ipynb"] == "a symbolic link"
    assert refused["fifo_1_2_fixture.ipynb"] == "not a regular file"
    assert refused["deep_1_2_fixture.ipynb"] == "JSON nested deeper than nbformat reads"
    assert rep.students == ["ann", "zed"]  # before and after the deep one
    # the refused student still gets an (empty) folder: grading names them, with no notebook
    assert sorted(p.name for p in course.submitted.iterdir()) == ["ann", "deep", "zed"]
    assert list((course.submitted / "deep" / A).iterdir()) == []
    assert sorted(p.name for p in course.root.iterdir()) == [
        "gradebook.db",  # who the students are (their Canvas ids)
        "nbgrader_config.py",
        "solutions",
        "submitted",
    ]
    assert "refused: deep_1_2_fixture.ipynb: JSON nested deeper" in "\n".join(rep.lines())


def test_hostile_folder_links_and_fifos_are_refused(course, tmp_path):
    src = tmp_path / "in"
    for s in ("alice", "bob"):
        (src / s).mkdir(parents=True)
        (src / s / "fixture.ipynb").write_bytes(_nb(s))
    (src / "mallory").mkdir()
    (src / "mallory" / "fixture.ipynb").symlink_to(src / "alice" / "fixture.ipynb")
    (src / "eve").symlink_to(src / "bob")
    os.mkfifo(src / "trent.ipynb")
    (src / "deep").mkdir()
    (src / "deep" / "fixture.ipynb").write_bytes(b"{" * 1 + b'"a":' + b"[" * 200_000)
    rep = collect.collect(course, A, src)
    refused = dict(rep.refused)
    assert refused["mallory/fixture.ipynb"] == "a symbolic link"
    assert refused["eve"] == "a symbolic link"
    assert refused["trent.ipynb"] == "not a regular file"
    assert refused["deep/fixture.ipynb"] == "JSON nested deeper than nbformat reads"
    assert rep.students == ["alice", "bob"]
    assert _marker(course, "alice") == "alice" and _marker(course, "bob") == "bob"
    assert not (course.submitted / "eve").exists()


def test_unmatched_files_get_a_suggested_pattern_that_reads_them(course, tmp_path):
    z = _zip(
        tmp_path / "odd.zip",
        [("hw0 - Jane Roe - fixture (2).ipynb", _nb(), T1), ("readme.md", b"#", T1)],
    )
    rep = collect.collect(course, A, z, layout="folders")
    assert {u[0] for u in rep.unknown} == {"hw0 - Jane Roe - fixture (2).ipynb", "readme.md"}
    pattern = rep.suggestions["hw0 - Jane Roe - fixture (2).ipynb"]
    assert "try: --pattern" in "\n".join(rep.lines())
    rep = collect.collect(course, A, z, pattern=pattern)
    assert rep.students == ["hw0"] and [u[0] for u in rep.unknown] == ["readme.md"]


def test_custom_pattern_still_works(course, tmp_path):
    z = _zip(tmp_path / "m.zip", [("Bob Smith_991_x_/fixture.ipynb", _nb(), T1)])
    rep = collect.collect(
        course,
        A,
        z,
        pattern=r"^(?P<student>[^/]+?)_\d+_x_/(?P<notebook>.+)\.ipynb$",
    )
    assert rep.students == ["Bob Smith"]


def test_layout_detection_from_names():
    assert lms.detect(["a/x.ipynb", "b/x.ipynb"], "hw").key == "folders"
    assert lms.detect(["ann_1_2_x.ipynb"], "hw").key == "canvas"
    assert lms.detect(["dl/ann_1_2_x.ipynb", "dl/bob_1_2_x.ipynb"], "hw").key == "canvas"
    assert lms.detect(["A B_1_assignsubmission_file_/x.ipynb"], "hw").key == "moodle"
    assert lms.detect(["HW_u_attempt_2026-01-01-00-00-00_x.ipynb"], "hw").key == "blackboard"
    assert lms.detect(["e/submission_metadata.yml", "e/submission_1/x.ipynb"], "hw").key == (
        "gradescope"
    )


def test_timestamp_is_what_nbgrader_reads(course, tmp_path):
    from nbgrader.utils import parse_utc

    z = _zip(tmp_path / "c.zip", [("ann_1_2_fixture.ipynb", _nb(), (2026, 1, 5, 12, 0, 0))])
    collect.collect(course, A, z, tz="Asia/Tokyo")
    stamp = (course.submitted / "ann" / A / "timestamp.txt").read_text()
    assert parse_utc(stamp) == dt.datetime(2026, 1, 5, 3, 0, 0)


def test_a_damaged_member_is_refused_and_the_others_collected(course, tmp_path):
    z = _zip(
        tmp_path / "d.zip",
        [
            ("ann_1_2_fixture.ipynb", _nb("ann"), T1),
            ("bob_1_2_fixture.ipynb", _nb("bob-MARK"), T1),
            ("cyd_1_2_fixture.ipynb", _nb("cyd"), T1),
        ],
    )
    data = bytearray(z.read_bytes())
    i = data.find(b"bob-MARK")
    data[i : i + 8] = b"XXXXXXXX"  # the stored bytes no longer match their CRC
    z.write_bytes(bytes(data))
    rep = collect.collect(course, A, z)
    assert dict(rep.refused)["bob_1_2_fixture.ipynb"].startswith("could not be read (BadZipFile")
    assert rep.students == ["ann", "cyd"]


def _nb_bytes():
    import nbformat

    return nbformat.writes(nbformat.v4.new_notebook()).encode()


def test_one_student_folder_is_a_folder_per_student_not_canvas(course, tmp_path):
    """alice/chain_rule.ipynb: filed under alice (the file name's first word is no student)."""
    for who in ("alice", "bob"):
        src = tmp_path / f"download-{who}"
        (src / who).mkdir(parents=True)
        (src / who / "fixture.ipynb").write_bytes(_nb_bytes())
        report = collect.collect(course, fixture.ASSIGNMENT, src)
        assert report.layout == "a folder per student" and report.students == [who]
        assert not report.replaced and not report.conflicts
    assert sorted(p.parent.name for p in course.submitted.glob(f"*/{fixture.ASSIGNMENT}")) == [
        "alice",
        "bob",
    ]


def test_a_collect_that_would_file_one_students_work_over_anothers_stops(course, tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    for src, name in (
        (first, "smith_1234_99_fixture.ipynb"),
        (second, "smith_5678_98_fixture.ipynb"),
    ):
        src.mkdir()
        (src / name).write_bytes(_nb_bytes())
    assert collect.collect(course, fixture.ASSIGNMENT, first).students == ["smith"]
    before = sorted(p.name for p in (course.submitted / "smith" / fixture.ASSIGNMENT).iterdir())
    report = collect.collect(course, fixture.ASSIGNMENT, second)  # another "smith", user id 5678
    assert report.conflicts == [("smith", "1234", "5678")]
    assert "collect stopped" in report.lines()[0]
    after = sorted(p.name for p in (course.submitted / "smith" / fixture.ASSIGNMENT).iterdir())
    assert after == before
    again = collect.collect(
        course, fixture.ASSIGNMENT, first
    )  # the same sender again: a resubmission
    assert again.replaced == ["smith"] and not again.conflicts
