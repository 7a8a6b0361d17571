"""A realistic sample class, generated (seeded) from the course's own notebooks.

For every assignment: students who answer correctly, who use an alternative correct
formulation or make a typical bug (both from :func:`classroom.plants.plants_for`, so
the grading tests and the sample class agree on what each bug costs), who hand in the
blank release or a half-done notebook, and hostile or broken submissions: a syntax
error, an infinite loop, a loop that swallows ``KeyboardInterrupt``, a memory hog, a
kernel crash, an
edited test cell, a deleted test cell, code that disables the checks (``course.grading``
helpers and ``np.allclose`` reassigned), code that snoops for the gradebook and the
solutions, a corrupt file and a missing notebook.

Every submission starts from the student release (``notebooks/``), as a real student's
does; correct answers are the source's solution cells without their markers.  The
output folder has ``<assignment>/<student>/<notebook>.ipynb`` (what ``collect`` reads),
an LMS-style ``<assignment>.zip`` with the same files named ``<student>_<id>_<notebook>``
plus one older resubmission, and ``manifest.json`` saying what each student is and what
grading should make of it.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import nbformat
import numpy as np

from autograder.cells import grade_id, is_answer_cell, is_test_cell
from course import variant_tables

from .plants import plants_for

HOSTILE = (
    "syntax-error",
    "infinite-loop",
    "loop-ignores-interrupt",
    "memory-hog",
    "kernel-crash",
    "edited-test",
    "deleted-test",
    "tamper",
    "snoop",
    "corrupt-file",
    "missing-notebook",
)

#: Correct or nearly correct work as students really send it: stderr inside a correct
#: function, sequences for tuples, a float32 forward, an answer cell split in two, cell
#: metadata stripped by another tool (issue 12).  "lists" and "float32" come from the
#: plants of the assignments that have one.
FAIRNESS = ("stderr", "lists", "float32", "split-cell", "stripped-metadata")

#: What grading should make of each kind: the score ("full", "zero", "partial", "less"
#: = below full) and whether it must be flagged for review or fail with a reason.
EXPECT = {
    "correct": {"score": "full"},
    "alternative": {"score": "full"},
    "bug": {"score": "less"},
    "blank": {"score": "zero"},
    "half-done": {"score": "less"},
    "syntax-error": {"score": "less"},
    "infinite-loop": {"score": "less", "status": "cell timeout"},
    "loop-ignores-interrupt": {"score": "less", "status": "cell timeout"},
    "memory-hog": {"score": "less", "status": "memory"},
    # the cell that aborts is skipped and a fresh kernel grades the rest (autograder.crashes)
    "kernel-crash": {"score": "less", "crashed": True},
    "edited-test": {"score": "less", "flagged": True},
    "deleted-test": {"score": "less", "flagged": True},
    "tamper": {"score": "zero", "flagged": True},
    "snoop": {"score": "full", "flagged": True},
    "corrupt-file": {"score": "zero", "status": "invalid JSON"},
    "missing-notebook": {"score": "zero", "status": "missing notebook"},
    "stderr": {"score": "full"},
    "lists": {"score": "full"},
    "float32": {"score": "less", "says": "float32"},
    "split-cell": {"score": "full", "flagged": True, "says": "split"},
    "stripped-metadata": {"score": "full", "flagged": True, "says": "restored from the source"},
    # hand answers of a classmate's variant (add_other_variant): those items lost, named
    "other-variant": {"score": "less", "flagged": True, "says": "answers of variant"},
}

#: A due date for the sample zip (read in the machine's zone, as its entry times are):
#: everyone hands in on Nov 2 at noon, except the students of LATE_DAYS (plan index ->
#: days after the due date), so a class graded with it has late penalties to show.
DUE = "2026-11-02 23:59"
LATE_DAYS = {1: 2, 3: 1}

_MARKERS = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.MULTILINE)


def _answer_ids(nb):
    return [
        grade_id(c) for c in nb.cells if is_answer_cell(c) and c.cell_type == "code" and grade_id(c)
    ]


def _test_ids(nb):
    return [grade_id(c) for c in nb.cells if is_test_cell(c)]


def filled(release, source, grade_ids=None):
    """The release with answer cells (all, or `grade_ids`) taken from the source."""
    nb = nbformat.from_dict(release)
    answers = {grade_id(c): _MARKERS.sub("", c.source) for c in source.cells if is_answer_cell(c)}
    for cell in nb.cells:
        gid = grade_id(cell)
        if gid in answers and (grade_ids is None or gid in grade_ids):
            cell.source = answers[gid]
    return nb


def _prepend(nb, gid, code):
    for cell in nb.cells:
        if grade_id(cell) == gid:
            cell.source = code + "\n" + cell.source
            return nb
    raise KeyError(gid)


def _print_to_stderr(nb):
    """`nb` whose first answer function writes a progress line to stderr when called."""
    import ast

    for cell in nb.cells:
        if not is_answer_cell(cell):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        func = next((n for n in tree.body if isinstance(n, ast.FunctionDef)), None)
        if func is None:
            continue
        body = func.body[1:] if ast.get_docstring(func) and len(func.body) > 1 else func.body
        lines = cell.source.splitlines()
        first = lines[body[0].lineno - 1]
        indent = first[: len(first) - len(first.lstrip())]
        lines.insert(
            body[0].lineno - 1,
            f"{indent}print('working on it...', file=__import__('sys').stderr)",
        )
        cell.source = "\n".join(lines)
        return nb
    raise ValueError("no answer function to print from")


def _split_first_answer(nb):
    """`nb` with its first answer cell split in two, both halves keeping the metadata."""
    import copy

    for i, cell in enumerate(nb.cells):
        lines = cell.source.splitlines()
        if is_answer_cell(cell) and cell.cell_type == "code" and len(lines) > 1:
            second = copy.deepcopy(cell)
            half = len(lines) // 2
            cell.source, second.source = "\n".join(lines[:half]), "\n".join(lines[half:])
            second["id"] = cell.get("id", "a") + "-2"
            nb.cells.insert(i + 1, second)
            return nb
    raise ValueError("no answer cell to split")


#: The plant each fairness kind hands in, chosen from an assignment's plants (kinds not
#: listed need none): an alternative that returns lists, the float32 bug of the catalogue.
_LISTS = re.compile(r"\breturns? (a )?lists?\b")
FAIRNESS_PLANTS = {
    "lists": lambda p: not p.is_bug and bool(_LISTS.search(p.name)),
    "float32": lambda p: p.bug == "kit.float32",
}


def _fairness_plant(kind, plants):
    """The plant a fairness kind uses (None: the kind needs none, or this assignment has none)."""
    wanted = FAIRNESS_PLANTS.get(kind)
    return next((p for p in plants if wanted(p)), None) if wanted else None


_SNOOP = (
    "import os as _os, course as _c\n"
    "_top = _os.path.dirname(_os.path.dirname(getattr(_c, '__file__', None) or '/x/y'))\n"
    "for _p in ('gradebook.db', 'solutions', '../submitted', '../../submitted'):\n"
    "    try:\n"
    "        _found = _os.listdir(_os.path.join(_top, _p))\n"
    "    except Exception:\n"
    "        pass\n"
    "    try:\n"
    "        _found = open(_os.path.join(_top, _p), 'rb').read(100)\n"
    "    except Exception:\n"
    "        pass"
)

_TAMPER = (
    "import numpy as np\nimport course.grading\n"
    "np.allclose = lambda *a, **k: True\n"
    "course.grading.check_close = lambda *a, **k: None\n"
    "course.grading.check_gradient_of = lambda *a, **k: None\n"
    "course.grading.check_param_gradient = lambda *a, **k: None\n"
    "course.grading.check_shape = lambda *a, **k: None\n"
    "course.grading.call = lambda *a, **k: None\n"
    "check_close = call = lambda *a, **k: None"
)

#: Hostile code put in front of the last answer cell of a correct notebook.
_BEFORE_LAST_ANSWER = {
    "syntax-error": "def broken(:\n    pass",
    "infinite-loop": "while True:\n    pass",
    "loop-ignores-interrupt": "while True:\n    try:\n        while True:\n            pass\n"
    "    except KeyboardInterrupt:\n        pass",
    "kernel-crash": "import os\nos.abort()",
    "memory-hog": "hog = bytearray(64 * 1024**3)",
}


def _stripped_metadata(nb):
    for cell in nb.cells:
        cell.metadata = {}
    return nb


def _first_test_edited(release, source):
    nb = filled(release, source, set(_answer_ids(release)[1:]))
    target = _test_ids(release)[0]
    for cell in nb.cells:
        if grade_id(cell) == target:
            cell.source = "# I removed the checks\npass"
    return nb


def _first_test_deleted(release, source):
    nb = filled(release, source, set(_answer_ids(release)[1:]))
    target = _test_ids(release)[0]
    nb.cells = [c for c in nb.cells if grade_id(c) != target]
    return nb


def _half_done(release, source):
    answers = _answer_ids(release)
    return filled(release, source, set(answers[: max(1, len(answers) // 2)]))


def _corrupt(release, source):
    text = nbformat.writes(filled(release, source))
    return text[: len(text) // 2].encode()


#: kind of student -> (release, source, plant) -> the notebook they hand in (bytes for a
#: file that is not one, None for no notebook at all).
SUBMISSIONS = {
    "correct": lambda r, s, p: filled(r, s),
    "snoop": lambda r, s, p: _prepend(filled(r, s), _answer_ids(r)[0], _SNOOP),
    "alternative": lambda r, s, p: p.apply(filled(r, s)),
    "bug": lambda r, s, p: p.apply(filled(r, s)),
    "lists": lambda r, s, p: p.apply(filled(r, s)),
    "float32": lambda r, s, p: p.apply(filled(r, s)),
    "stderr": lambda r, s, p: _print_to_stderr(filled(r, s)),
    "split-cell": lambda r, s, p: _split_first_answer(filled(r, s)),
    "stripped-metadata": lambda r, s, p: _stripped_metadata(filled(r, s)),
    "blank": lambda r, s, p: nbformat.from_dict(r),
    "half-done": lambda r, s, p: _half_done(r, s),
    **{
        kind: lambda r, s, p, code=code: _prepend(filled(r, s), _answer_ids(r)[-1], code)
        for kind, code in _BEFORE_LAST_ANSWER.items()
    },
    "edited-test": lambda r, s, p: _first_test_edited(r, s),
    "deleted-test": lambda r, s, p: _first_test_deleted(r, s),
    "tamper": lambda r, s, p: _prepend(nbformat.from_dict(r), _answer_ids(r)[0], _TAMPER),
    "corrupt-file": lambda r, s, p: _corrupt(r, s),
    "missing-notebook": lambda r, s, p: None,
}


def _submission(kind, release, source, plant=None):
    """Notebook JSON bytes (or None for no notebook) for one kind of student."""
    if kind not in SUBMISSIONS:
        raise ValueError(kind)
    nb = SUBMISSIONS[kind](release, source, plant)
    if nb is None or isinstance(nb, bytes):
        return nb
    return nbformat.writes(nb).encode()


def class_plan(assignment_index, n_assignments, plants, rng, hostile=None):
    """(student id, kind, plant) for one assignment."""
    plan = [("s01", "correct", None), ("s02", "correct", None)]
    alts = [p for p in plants if not p.is_bug]
    bugs = [p for p in plants if p.is_bug]
    for i, p in enumerate(
        [alts[j] for j in rng.permutation(len(alts))[:1]]
        + [bugs[j] for j in rng.permutation(len(bugs))[:2]]
    ):
        plan.append((f"s{3 + i:02d}", "alternative" if not p.is_bug else "bug", p))
    plan += [(f"s{len(plan) + 1:02d}", "blank", None), (f"s{len(plan) + 2:02d}", "half-done", None)]
    for kind in FAIRNESS:
        plant = _fairness_plant(kind, plants)
        if plant is None and kind in ("lists", "float32"):
            continue
        plan.append((f"s{len(plan) + 1:02d}", kind, plant))
    if hostile is None:
        if n_assignments == 1:
            hostile = HOSTILE
        else:
            per = max(2, -(-len(HOSTILE) // n_assignments))
            start = (assignment_index * per) % len(HOSTILE)
            hostile = [HOSTILE[(start + k) % len(HOSTILE)] for k in range(per)]
    for kind in hostile:
        plan.append((f"s{len(plan) + 1:02d}", kind, None))
    return [(f"{sid}-{kind}", kind, plant) for sid, kind, plant in plan]


def generate(course, out_dir, assignments=None, seed=0, hostile=None):
    """Write the sample class for `assignments` (default: all) into `out_dir`.

    Parameters
    ----------
    course : autograder.course_config.Course
        Its solutions/ (source) and release folders are read.
    out_dir : path
    assignments : list of str, optional
    seed : int
        Chooses which plants each assignment's buggy students get.
    hostile : list of str, optional
        Hostile kinds for every assignment (default: all of them for a single
        assignment, else spread over the assignments, at least two each).

    Returns
    -------
    dict
        The manifest: assignment -> student -> {"kind", "plant", "expect"}.
    """

    rng = np.random.default_rng(seed)
    out = Path(out_dir)
    ids = list(assignments or course.assignments())
    manifest = {}
    for i, a in enumerate(ids):
        names = course.notebook_names(a)
        manifest[a] = {}
        plants = plants_for(a)
        plan = class_plan(i, len(ids), plants, rng, hostile)
        zip_entries = []
        for index, (student, kind, plant) in enumerate(plan):
            day = 2 + LATE_DAYS.get(index, 0)
            sdir = out / a / student
            sdir.mkdir(parents=True, exist_ok=True)
            for n in names:
                release = nbformat.read(course.release / a / f"{n}.ipynb", as_version=4)
                source = nbformat.read(course.source / a / f"{n}.ipynb", as_version=4)
                use_plant = plant if plant is not None and plant.notebook == n else None
                k = kind if (plant is None or use_plant is not None) else "correct"
                if kind == "missing-notebook" or (kind == "corrupt-file" and n != names[0]):
                    k = kind if kind == "missing-notebook" else "correct"
                data = _submission(k, release, source, use_plant)
                if data is None:
                    (sdir / "notes.txt").write_text("I could not find the notebook, sorry.\n")
                    zip_entries.append((f"{student}_4711_notes.txt", b"notes", day))
                    continue
                (sdir / f"{n}.ipynb").write_bytes(data)
                zip_entries.append((f"{student}_4711_{n}.ipynb", data, day))
            manifest[a][student] = {
                "kind": kind,
                "plant": plant.name if plant else None,
                "expect": EXPECT[kind],
                "late_days": LATE_DAYS.get(index, 0),
            }
        # An older resubmission (blank) from the first correct student: the newest wins.
        blank = nbformat.writes(
            nbformat.read(course.release / a / f"{names[0]}.ipynb", as_version=4)
        ).encode()
        zip_entries.append((f"{plan[0][0]}_4711_{names[0]}-1.ipynb", blank, 1))
        with zipfile.ZipFile(out / f"{a}.zip", "w") as zf:
            for name, data, day in zip_entries:
                info = zipfile.ZipInfo(name, date_time=(2026, 11, day, 12, 0, 0))
                zf.writestr(info, data)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


# --- copied pairs (issue 23): what the similarity report must find -----------------------

#: How each copier changes the notebook it copies, and whose it copies (the first student
#: of that kind in the class): the similarity report ranks these pairs first.
COPIES = (
    ("copy-verbatim", ("alternative", "bug")),
    ("copy-renamed", ("stderr", "bug")),
    ("copy-reformatted", ("float32", "lists", "bug")),
)


def _char_col(line, byte_col):
    return len(line.encode("utf-8")[:byte_col].decode("utf-8", "replace"))


def renamed(source):
    """`source` with each function's local variables renamed (``g`` -> ``my_g``) and
    every comment reworded: the same program, as a copier disguises it."""
    import ast
    import io
    import tokenize

    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    edits = []  # (line, col, end col, new text)
    for func in (n for n in tree.body if isinstance(n, ast.FunctionDef)):
        inner = list(ast.walk(func))
        if any(isinstance(n, ast.Global | ast.Nonlocal) for n in inner):
            continue
        local = {n.id for n in inner if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        for n in inner:
            if isinstance(n, ast.Name) and n.id in local:
                text = lines[n.lineno - 1]
                col, end = _char_col(text, n.col_offset), _char_col(text, n.end_col_offset)
                edits.append((n.lineno, col, end, "my_" + n.id))
    for t in tokenize.generate_tokens(io.StringIO(source).readline):
        if t.type == tokenize.COMMENT and "SOLUTION" not in t.string:
            edits.append((t.start[0], t.start[1], t.end[1], "# worked this out myself"))
    for line, col, end, new in sorted(edits, reverse=True):
        text = lines[line - 1]
        lines[line - 1] = text[:col] + new + text[end:]
    return "".join(lines)


def reformatted(source):
    """`source` re-spaced token by token (tokenize's untokenize): same tokens, other layout."""
    import io
    import tokenize

    toks = tokenize.generate_tokens(io.StringIO(source).readline)
    return tokenize.untokenize((t.type, t.string) for t in toks)


def _copied(how, data):
    if how == "copy-verbatim":
        return data
    change = renamed if how == "copy-renamed" else reformatted
    nb = nbformat.reads(data.decode("utf-8"), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and is_answer_cell(cell):
            cell.source = change(cell.source)
    return nbformat.writes(nb).encode()


def _edit_sizes(assignment):
    """{plant name: characters its edits write}: a copy of a one-character bug (an axis
    0 for 1) is the solution's text again, which no similarity can tell from honest work."""
    return {
        p.name: sum(len(new) for pairs in p.edits.values() for _, new in pairs)
        for p in plants_for(assignment)
    }


def _hand_in_copy(out, assignment, student, original, change):
    """`student` hands in `original`'s notebooks of `assignment`, each changed by
    ``change(bytes) -> bytes``: into the class folder and, when there is one, its zip."""
    sdir = out / assignment / student
    sdir.mkdir(parents=True, exist_ok=True)
    entries = []
    for path in sorted((out / assignment / original).glob("*.ipynb")):
        data = change(path.read_bytes())
        (sdir / path.name).write_bytes(data)
        entries.append((f"{student}_4711_{path.name}", data))
    if (out / f"{assignment}.zip").exists():
        with zipfile.ZipFile(out / f"{assignment}.zip", "a") as zf:
            for name, data in entries:
                zf.writestr(zipfile.ZipInfo(name, date_time=(2026, 11, 2, 12, 0, 0)), data)


def add_copies(out_dir, manifest):
    """Add to the sample class in `out_dir` (made by :func:`generate`) the copiers of
    :data:`COPIES`: each hands in another student's notebooks, copied verbatim, with names
    and comments changed, or reformatted.  Updates `out_dir`'s folders, zips and
    manifest.json (and `manifest`); returns {assignment: {copier: original}}."""
    out = Path(out_dir)
    pairs = {}
    for a, plan in manifest.items():
        pairs[a] = {}
        used = set()
        size = _edit_sizes(a)
        for how, kinds in COPIES:
            original = next(
                (
                    s
                    for k in kinds
                    for s, i in sorted(plan.items(), key=lambda si: -size.get(si[1]["plant"], 0))
                    if i["kind"] == k and s not in used
                ),
                None,
            )
            if original is None:
                continue
            used.add(original)
            student = f"s{len(plan) + 1:02d}-{how}"
            _hand_in_copy(out, a, student, original, lambda data, how=how: _copied(how, data))
            plan[student] = {**plan[original], "kind": how, "copies": original, "late_days": 0}
            pairs[a][student] = original
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return pairs


# --- another student's numbers (issue 23): what the variants must catch ----------------------


def _with_numbers(nb, answers):
    """`nb` with each hand answer `name = ...` of its answer cells set to answers[name]."""
    nb = nbformat.from_dict(nb)
    for cell in nb.cells:
        if not is_answer_cell(cell):
            continue
        lines = cell.source.splitlines()
        for i, line in enumerate(lines):
            name = line.split("=", 1)[0].strip()
            if name in answers and "=" in line and not line.startswith((" ", "#")):
                lines[i] = f"{name} = {answers[name]!r}"
        cell.source = "\n".join(lines)
    return nb


def add_other_variant(course, out_dir, manifest):
    """Add to each assignment of the sample class whose variants have hand answers
    (course.variant_tables) a student who hands in a correct notebook with the hand
    answers of a classmate's variant, as numbers: the grader must name and flag it.

    Returns {assignment: (student, whose numbers, their variant)}; updates `out_dir`'s
    folders, zips and manifest.json (and `manifest`)."""
    out = Path(out_dir)
    found = {}
    for a, plan in manifest.items():
        spec = variant_tables.SPECS.get(a)
        doc = variant_tables.read_table(course.source / a)
        original = next((s for s, i in sorted(plan.items()) if i["kind"] == "correct"), None)
        if spec is None or spec.answers is None or doc is None or original is None:
            continue
        theirs = variant_tables.index_for(doc, original)
        base = f"s{len(plan) + 1:02d}-other-variant"
        names = (base, *(f"{base}-{n}" for n in range(1, 100)))
        student = next(c for c in names if variant_tables.index_for(doc, c) != theirs)
        answers = spec.answers(doc["variants"][theirs])

        def with_numbers(data, answers=answers):
            nb = _with_numbers(nbformat.reads(data.decode("utf-8"), as_version=4), answers)
            return nbformat.writes(nb).encode()

        _hand_in_copy(out, a, student, original, with_numbers)
        plan[student] = {
            "kind": "other-variant",
            "plant": None,
            "expect": EXPECT["other-variant"],
            "late_days": 0,
            "numbers_of": original,
        }
        found[a] = (student, original, theirs)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return found
