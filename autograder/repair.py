"""Notebook structure as a teacher would resolve it, before nbgrader's sanitizing.

Students split cells, paste cells twice, and open notebooks in tools that drop cell
metadata.  nbgrader then fails the whole notebook ("could not sanitize: 'grade_id'")
or silently ignores answers.  :class:`RepairStructure` runs first among the sanitize
preprocessors (``backprop-grade grade`` puts it there, and ``nbgrader_config.py``
does for plain ``nbgrader autograde``):

- the notebook is brought to nbformat 4.5 with unique cell ids (4.0-4.5, with or
  without ids, all grade the same);
- an answer cell split in two (both halves keep its metadata) is joined in order when
  the halves are adjacent; otherwise the later halves lose the metadata and run in
  place as ordinary cells;
- a test or locked cell pasted twice keeps its first copy; the others are removed
  (nbgrader restores the first from the source anyway);
- a graded, answer or locked cell whose nbgrader metadata was stripped gets it back
  from the source notebook when exactly one cell matches it, by text (locked and
  test cells) or by position between matched neighbours (answer cells); otherwise
  the cell is named as unrestorable and the submission goes to manual grading;
- a cell marked with nbgrader metadata the source does not have (a grade id the
  assignment lacks: a cell of another notebook pasted in, or one made up) loses the
  marking and runs as an ordinary cell: the rest of the notebook is graded as usual.

What was done is listed in ``resources["nbgrader"]["repairs"]``; the grader flags the
submission with it, so nothing is repaired silently.
"""

from __future__ import annotations

import copy
import re

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor

from .cells import grade_id as _gid
from .cells import is_answer_cell, is_locked_cell, is_test_cell
from .cells import nbgrader_meta as _meta
from .integrity import HIDDEN_TESTS as _HIDDEN

_SOLUTION = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.M)


def _text(source):
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


def normalize_format(nb):
    """Upgrade `nb` in place to nbformat 4.5 with unique cell ids; returns notes."""
    notes = []
    if nb.get("nbformat_minor", 0) < 5:
        notes.append(f"nbformat 4.{nb.get('nbformat_minor', 0)} read as 4.5")
        nb.nbformat_minor = 5
    seen = set()
    for cell in nb.cells:
        cid = cell.get("id")
        if not isinstance(cid, str) or not re.fullmatch(r"[a-zA-Z0-9-_]{1,64}", cid) or cid in seen:
            cell["id"] = nbformat.v4.new_code_cell().id
        seen.add(cell["id"])
    return notes


def join_split_answers(nb):
    """Join adjacent halves of a split answer cell; strip the metadata of other repeats."""
    notes, cells, i = [], nb.cells, 0
    while i < len(cells):
        gid = _gid(cells[i])
        j = i + 1
        while gid and is_answer_cell(cells[i]) and j < len(cells) and _gid(cells[j]) == gid:
            j += 1
        if j - i > 1:
            cells[i].source = "\n".join(c.source for c in cells[i:j])
            del cells[i + 1 : j]
            notes.append(f"answer cell {gid} was split in {j - i} cells: joined in order")
        i += 1
    first = set()
    for cell in cells:
        gid = _gid(cell)
        if gid in first and is_answer_cell(cell):
            cell.metadata["nbgrader"] = {}
            notes.append(f"answer cell {gid} appears twice apart: the later copy runs as a cell")
        first.add(gid)
    return notes


def drop_pasted_copies(nb):
    """Remove repeated test and locked cells (the first copy is kept)."""
    notes, seen, kept = [], set(), []
    for cell in nb.cells:
        gid = _gid(cell)
        if gid and gid in seen and (is_test_cell(cell) or is_locked_cell(cell)):
            notes.append(f"cell {gid} was pasted again: the copy is ignored")
            continue
        if gid:
            seen.add(gid)
        kept.append(cell)
    nb.cells = kept
    return notes


def _release_text(cell):
    return _text(_SOLUTION.sub("", _HIDDEN.sub("", cell.source)))


def restore_metadata(nb, source):
    """Give unmarked cells of `nb` the metadata of the `source` cells they match."""
    present = {_gid(c) for c in nb.cells if _gid(c)}
    wanted = [c for c in source.cells if _gid(c) and _gid(c) not in present]
    if not wanted:
        return []
    order = {_gid(c): k for k, c in enumerate(source.cells) if _gid(c)}
    notes, failed = [], []
    # Locked and test cells first, by their text; then the others by their position
    # between cells already matched.
    locked = [w for w in wanted if is_locked_cell(w)]
    for want in locked + [w for w in wanted if not is_locked_cell(w)]:
        hit = _match_by_text(nb, want) if want in locked else None
        if hit is None:
            hit = _match_by_position(nb, want, order)
        if hit is None:
            failed.append(_gid(want))
            continue
        hit.metadata["nbgrader"] = copy.deepcopy(dict(_meta(want)))
        notes.append(f"metadata of {_gid(want)} was missing: restored from the source")
    if failed:
        notes.append(
            "metadata missing and no unique matching cell for "
            + ", ".join(failed)
            + ": needs manual grading"
        )
    return notes


def drop_unknown_marks(nb, source):
    """Strip the nbgrader metadata of cells whose grade id the source does not have."""
    known = {_gid(c) for c in source.cells if _gid(c)}
    notes = []
    for cell in nb.cells:
        meta = _meta(cell)
        if not meta:
            continue
        gid = _gid(cell)
        marked = any(meta.get(k) for k in ("grade", "solution", "locked", "task"))
        if gid in known or not (marked or gid):
            continue
        cell.metadata.pop("nbgrader", None)
        notes.append(
            f"a cell marked as {'grade cell ' + repr(gid) if gid else 'an nbgrader cell'} that "
            "the assignment does not have: its marking is ignored and it runs as an "
            "ordinary cell"
        )
    return notes


def _unmarked(nb, cell_type):
    return [c for c in nb.cells if not _gid(c) and c.cell_type == cell_type]


def _match_by_text(nb, want):
    target = _release_text(want)
    hits = [c for c in _unmarked(nb, want.cell_type) if _text(c.source) == target]
    return hits[0] if len(hits) == 1 else None


def _match_by_position(nb, want, order):
    """The one unmarked cell of the right type between the matched neighbours of `want`."""
    k = order[_gid(want)]
    before = after = None
    for i, cell in enumerate(nb.cells):
        pos = order.get(_gid(cell))
        if pos is None:
            continue
        if pos < k:
            before = i
        elif pos > k and after is None:
            after = i
    lo = -1 if before is None else before
    hi = len(nb.cells) if after is None else after
    hits = [c for c in nb.cells[lo + 1 : hi] if not _gid(c) and c.cell_type == want.cell_type]
    return hits[0] if len(hits) == 1 else None


def repair(nb, source=None):
    """Every repair of this module on `nb`, in place, in the grader's order; the ones that
    need the instructor's `source` notebook only when it is given.  Returns the notes."""
    notes = normalize_format(nb)
    notes += join_split_answers(nb)
    notes += drop_pasted_copies(nb)
    if source is not None:
        notes += drop_unknown_marks(nb, source)
        notes += restore_metadata(nb, source)
    return notes


class RepairStructure(NbGraderPreprocessor):
    """The repairs of this module, as the first of nbgrader's sanitize preprocessors."""

    def preprocess(self, nb, resources):
        info = resources.setdefault("nbgrader", {})
        notes = repair(nb, self._source(info))
        info["repairs"] = [n for n in notes if not n.startswith("nbformat")]
        return nb, resources

    def _source(self, info):
        """The instructor's source notebook of this submission, or None."""
        from pathlib import Path

        from nbgrader.coursedir import CourseDirectory

        if not info.get("assignment") or not info.get("notebook"):
            return None
        cd = CourseDirectory(config=self.config)
        path = Path(cd.format_path(cd.source_directory, ".", info["assignment"]))
        path = path / f"{info['notebook']}.ipynb"
        try:
            return nbformat.read(path, as_version=4)
        except (OSError, ValueError):
            return None


#: The line that precedes stderr text moved to stdout (the feedback shows it).
STDERR_NOTE = "[printed to stderr; moved to stdout by the grader: stderr costs no points]\n"


class StderrToStdout(NbGraderPreprocessor):
    """In test cells, turn stderr output into stdout before nbgrader scores them.

    nbgrader scores a test cell 0 when anything reaches stderr, including a warning or a
    progress bar from a correct answer.  Under ``backprop-grade grade`` test cells never
    have stderr (the grader runs them); this keeps plain ``nbgrader autograde`` fair too.
    """

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "code" and is_test_cell(cell):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "stream" and output.get("name") == "stderr":
                    output["name"] = "stdout"
                    output["text"] = STDERR_NOTE + output.get("text", "")
        return cell, resources
