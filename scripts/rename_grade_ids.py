"""Rename the course's grade ids to one scheme, in every file that names them.

The scheme is written once, in the README's "Grade ids" section (Development).  This
script holds the explicit old -> new mapping, per notebook, and applies it; run it from
the repository root, then regenerate the release (``make release``) and the hostile
corpus (``.venv/bin/python tests/hostile/make_corpus.py``)::

    python scripts/rename_grade_ids.py           # rewrite, print what changed
    python scripts/rename_grade_ids.py --check   # exit 1 if anything would change
    make format                                  # longer names may need new lines

A course already under way (a gradebook and submissions keyed by the old ids): see
"Grade ids" in the README; ``--gradebook URL`` renames the cells in nbgrader's gradebook
(grades and comments stay: they point at the cells' rows) and ``--notebooks DIR...``
the cells of the students' notebooks (``submitted/``, ``autograded/``).

It is idempotent (no new id is an old one) and only ever replaces a *whole* token:

- a quoted token, ``"old"``, ``'old'`` or ```old``` (a closing quote escaped inside a
  notebook's JSON, ``\\"old\\"``, counts too), never a substring of a longer name;
- the cell field of a mutant's key, ``"<assignment>:old:<line>:..."``
  (``classroom/mutants/``), with that assignment's mapping;
- in ``classroom/mutants/corpus.json`` the ``cell`` and ``failing`` fields of each record,
  with the mapping of the record's ``assignment``.

Old ids that are also ordinary words or Python names elsewhere (:data:`AMBIGUOUS`: a
function ``train_sgd``, the keyword ``l2``, a fixture cell ``imports``, the word
``confusion``) are replaced only where they can only be grade ids: in the files of their
own notebook (its solution, release and hostile notebooks, its plants, its hostile
cases) and in :data:`AMBIGUOUS_OK`.  Everywhere else the run lists them for a look by hand.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: old -> new, per assignment.  Ids that already follow the scheme are not listed.
MAPPING = {
    "01-chain-rule": {
        "test-h-value": "test-h-forward-backward-value",
        "test-h-derivative": "test-h-forward-backward-derivative",
        "test-graph-value": "test-graph-forward-backward-value",
        "test-graph-gradient": "test-graph-forward-backward-gradient",
    },
    "02-sigmoid-network": {
        "test-partials-loss": "test-loss-and-partials-loss",
        "test-partials-output": "test-loss-and-partials-output",
        "test-partials-hidden": "test-loss-and-partials-hidden",
        "test-course-params": "test-to-course-params",
    },
    "03-softmax-layer": {
        "sl-intro": "intro",
        "sl-setup": "setup",
        "sl-softmax-md": "softmax-md",
        "sl-softmax": "softmax",
        "sl-test-softmax": "test-softmax",
        "sl-ce-md": "cross-entropy-md",
        "sl-ce-loss": "cross-entropy-loss",
        "sl-test-ce-loss": "test-cross-entropy-loss",
        "sl-grad-md": "gradient-md",
        "sl-ce-grad": "softmax-cross-entropy-grad",
        "sl-test-ce-grad": "test-softmax-cross-entropy-grad",
        "sl-layer-md": "layer-md",
        "sl-layer-forward": "sigmoid-layer-forward",
        "sl-test-layer-forward": "test-sigmoid-layer-forward",
        "sl-backward-md": "backward-md",
        "sl-layer-backward": "sigmoid-layer-backward",
        "sl-backward-tests-md": "backward-tests-md",
        "sl-test-layer-dW": "test-sigmoid-layer-backward-dW",
        "sl-test-layer-db": "test-sigmoid-layer-backward-db",
        "sl-test-layer-da-prev": "test-sigmoid-layer-backward-da-prev",
        "sl-stack-md": "stack-md",
        "sl-stack-demo": "stack-demo",
        "sl-end": "summary",
    },
    "04-backprop-recursion": {
        "br-intro": "intro",
        "br-setup": "setup",
        "br-forward-md": "forward-md",
        "br-index-figure": "index-figure",
        "br-forward": "forward",
        "br-test-forward": "test-forward",
        "br-backward-md": "backward-md",
        "br-backward": "backward",
        "br-backward-tests-md": "backward-tests-md",
        "br-test-W1": "test-backward-W1",
        "br-test-b1": "test-backward-b1",
        "br-test-W2": "test-backward-W2",
        "br-test-b2": "test-backward-b2",
        "br-test-W3": "test-backward-W3",
        "br-test-b3": "test-backward-b3",
        "br-gradcheck-md": "gradcheck-md",
        "br-gradcheck-demo": "gradcheck-demo",
        "br-sgd-md": "sgd-md",
        "br-sgd-update": "sgd-update",
        "br-test-sgd-update": "test-sgd-update",
        "br-train-md": "train-md",
        "br-train-demo": "train-demo",
        "br-end": "summary",
    },
    "05-training": {
        "imports": "setup",
        "train_sgd": "train-sgd",
        "test_sgd_batches": "test-train-sgd-batches",
        "test_sgd_reshuffle": "test-train-sgd-reshuffle",
        "test_sgd_step": "test-train-sgd-step",
        "test_chosen_lr": "test-chosen-lr",
        "test_unit_spread": "test-unit-spread",
        "train-constant": "train-constant-init",
        "test_symmetry": "test-train-constant-init",
        "test_digits": "test-train-digits",
        "confusion": "confusion-matrix",
        "test_confusion": "test-confusion-matrix",
    },
    "06-vanishing-gradients": {
        "vg-intro": "intro",
        "vg-setup": "setup",
        "vg-explore-md": "explore-md",
        "vg-widget-explorer": "widget-explorer",
        "vg-saturation-md": "saturation-md",
        "vg-widget-saturation": "widget-saturation",
        "vg-symmetry-md": "symmetry-md",
        "vg-widget-symmetry": "widget-symmetry",
        "vg-sigma-md": "sigma-md",
        "vg-sigma-answer": "sigma-peak",
        "vg-test-sigma-max": "test-sigma-prime-max",
        "vg-test-z-peak": "test-z-peak",
        "vg-norms-md": "norms-md",
        "vg-norms": "layer-gradient-norms",
        "vg-test-delta-norms": "test-layer-gradient-norms-delta",
        "vg-test-dW-norms": "test-layer-gradient-norms-dW",
        "vg-predict-md": "predict-md",
        "vg-predict": "predictions",
        "vg-test-slowest": "test-slowest-layer",
        "vg-test-he": "test-he-relu-choice",
        "vg-test-xavier": "test-xavier-sigmoid-choice",
        "vg-test-normal-init": "test-sigmoid-normal-choice",
        "vg-check-md": "check-md",
        "vg-check-demo": "check-demo",
        "vg-check-discussion": "check-discussion",
    },
    "07-regularization": {
        "imports": "setup",
        "l2": "l2-loss-and-grads",
        "test_l2_value": "test-l2-loss-and-grads-value",
        "test_l2_grad_W": "test-l2-loss-and-grads-W",
        "test_l2_grad_b": "test-l2-loss-and-grads-b",
        "test_dropout_forward": "test-dropout-forward-mask",
        "test_dropout_expectation": "test-dropout-forward-expectation",
        "dropout-net": "dropout-loss-and-grads",
        "test_dropout_grads_out": "test-dropout-loss-and-grads-out",
        "test_dropout_grads_hidden": "test-dropout-loss-and-grads-hidden",
        "test_early_history": "test-early-stopping",
        "early-run": "train-with-early-stopping",
        "test_early_run": "test-train-with-early-stopping",
    },
}

#: Old ids that are also words or Python names outside the notebooks (see the docstring).
AMBIGUOUS = {"imports", "train_sgd", "l2", "confusion"}

#: Files outside a notebook's own where the ambiguous old ids are grade ids only.
AMBIGUOUS_OK = {"tests/hostile/make_corpus.py", "tests/test_checks_kit.py", "tests/test_plants.py"}

#: The files of one notebook: plants and hostile cases, by the notebook's number.
_PLANTS = re.compile(r"classroom/plants/_(\d\d)_\w+\.py$")
_CASES = re.compile(r"tests/hostile/cases-(\d\d)\.json$")
_FOLDER = re.compile(r"(?:solutions|notebooks|tests/hostile)/(\d\d-[a-z0-9-]+)/")

_TEXT = {".py", ".json", ".ipynb", ".md", ".j2", ".html", ".txt", ".toml", ".cfg", ".yml", ".yaml"}
#: This script and its test: they spell the old ids on purpose.
_SELF = {"scripts/rename_grade_ids.py", "tests/test_rename_grade_ids.py"}
_CORPUS = "classroom/mutants/corpus.json"


def _by_number():
    return {a[:2]: a for a in MAPPING}


def assignment_of(path):
    """The assignment whose own file `path` is, or None."""
    for pattern in (_PLANTS, _CASES):
        m = pattern.match(path)
        if m:
            return _by_number().get(m.group(1))
    m = _FOLDER.match(path)
    return m.group(1) if m and m.group(1) in MAPPING else None


def union():
    """The mapping of every notebook in one (checked: an old id means one new id)."""
    merged = {}
    for assignment, mapping in MAPPING.items():
        for old, new in mapping.items():
            if merged.setdefault(old, new) != new:
                raise SystemExit(f"{old} becomes {merged[old]} and {new} ({assignment})")
    return merged


def check_mapping():
    """No new id is an old one anywhere (so a second run changes nothing)."""
    olds = set(union())
    for assignment, mapping in MAPPING.items():
        clash = olds & set(mapping.values())
        if clash:
            raise SystemExit(f"{assignment}: new ids that are old ids: {sorted(clash)}")


def replace_tokens(text, mapping):
    """`text` with every whole quoted token of `mapping` replaced; the count."""
    if not mapping:
        return text, 0
    alternatives = "|".join(re.escape(o) for o in sorted(mapping, key=len, reverse=True))
    pattern = re.compile(r"""(?<=(["'`]))(""" + alternatives + r""")(?=\\?\1)""")
    return pattern.subn(lambda m: mapping[m.group(2)], text)


_KEY = re.compile(r"""(?<=["'])(\d\d-[a-z0-9-]+):([A-Za-z0-9_-]+)(?=:)""")


def replace_keys(text):
    """Mutant keys ``"<assignment>:<cell>:..."`` with the cell renamed by its assignment."""

    def rename(m):
        new = MAPPING.get(m.group(1), {}).get(m.group(2))
        return f"{m.group(1)}:{new}" if new else m.group(0)

    count = sum(1 for m in _KEY.finditer(text) if MAPPING.get(m.group(1), {}).get(m.group(2)))
    return _KEY.sub(rename, text), count


def rewrite_corpus(text):
    """classroom/mutants/corpus.json: each record's cell, failing tests and key."""
    records = json.loads(text)
    if json.dumps(records, indent=1, ensure_ascii=False) != text:
        raise SystemExit(f"{_CORPUS} is not in classroom.mutate's format: rewrite it first")
    n = 0
    for r in records:
        mapping = MAPPING.get(r["assignment"], {})
        new_cell = mapping.get(r["cell"], r["cell"])
        new_failing = [mapping.get(t, t) for t in r["failing"]]
        n += (new_cell != r["cell"]) + sum(t in mapping for t in r["failing"])
        r["cell"], r["failing"] = new_cell, new_failing
    out = json.dumps(records, indent=1, ensure_ascii=False)
    out, k = replace_keys(out)
    return out, n + k


def rewrite(path, text):
    """The new text of the file `path` (relative to the root) and the count of changes."""
    if path == _CORPUS:
        return rewrite_corpus(text)
    own = assignment_of(path)
    everywhere = {o: n for o, n in union().items() if o not in AMBIGUOUS}
    if own:
        mapping = {**everywhere, **MAPPING[own]}
    elif path in AMBIGUOUS_OK:
        mapping = union()
    else:
        mapping = everywhere
    text, n = replace_tokens(text, mapping)
    text, k = replace_keys(text)
    return text, n + k


def files():
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    return [p for p in listed if p and Path(p).suffix in _TEXT and p not in _SELF]


def leftovers(path, text):
    """The ambiguous old ids still quoted in `path` (for a look by hand)."""
    if assignment_of(path) or path in AMBIGUOUS_OK or path == _CORPUS:
        return []
    return sorted(o for o in AMBIGUOUS if replace_tokens(text, {o: o})[1])


def rename_in_gradebook(db_url, commit=True):
    """Rename the old ids' cells in nbgrader's gradebook `db_url`, in place: grade,
    solution, task and source cells of every notebook of the mapped assignments, and the
    renamed source cells' checksums (not written when `commit` is false).  Returns the
    count of cells renamed."""
    from nbgrader.api import Gradebook

    count = 0
    with Gradebook(db_url) as gb:
        for assignment in gb.assignments:
            mapping = MAPPING.get(assignment.name, {})
            for notebook in assignment.notebooks if mapping else ():
                cells = (
                    *notebook.grade_cells,
                    *notebook.solution_cells,
                    *notebook.task_cells,
                    *notebook.source_cells,
                )
                for cell in cells:
                    if cell.name in mapping:
                        cell.name = mapping[cell.name]
                        count += 1
                for source in notebook.source_cells:
                    if source.name in mapping.values():
                        source.checksum = _checksum(notebook, source)
        gb.db.commit() if commit else gb.db.rollback()
    return count


def _checksum(notebook, source):
    """nbgrader's checksum of a source cell of the gradebook (it includes the grade id),
    computed as ``nbgrader generate_assignment`` does from the released cell."""
    import nbformat
    from nbgrader.utils import compute_checksum

    grade = {c.name: c for c in notebook.grade_cells}.get(source.name)
    meta = {
        "grade": grade is not None,
        "solution": source.name in {c.name for c in notebook.solution_cells},
        "locked": bool(source.locked),
        "grade_id": source.name,
    }
    if grade is not None:
        meta["points"] = grade.max_score
    cell = nbformat.from_dict(
        {"cell_type": source.cell_type, "source": source.source, "metadata": {"nbgrader": meta}}
    )
    return compute_checksum(cell)


def student_notebooks(folders):
    """(path, assignment) of the notebooks under `folders` that sit in a folder named
    after a mapped assignment (``submitted/<student>/<assignment>/<notebook>.ipynb``)."""
    for folder in folders:
        for path in sorted(Path(folder).rglob("*.ipynb")):
            own = [part for part in path.parts if part in MAPPING]
            if own and ".ipynb_checkpoints" not in path.parts:
                yield path, own[-1]


def rename_in_notebook(text, assignment):
    """A student's notebook with its cells' grade ids and cell ids renamed."""
    mapping = MAPPING[assignment]
    alternatives = "|".join(re.escape(o) for o in sorted(mapping, key=len, reverse=True))
    field = re.compile(r'("(?:grade_id|id)":\s*")(' + alternatives + r')(")')
    return field.subn(lambda m: m.group(1) + mapping[m.group(2)] + m.group(3), text)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 if a run would"
    )
    parser.add_argument(
        "--gradebook", metavar="URL", help="rename the cells in this nbgrader gradebook"
    )
    parser.add_argument(
        "--notebooks", metavar="DIR", nargs="+", help="rename the cells of these notebooks"
    )
    args = parser.parse_args(argv)
    check_mapping()
    if args.gradebook or args.notebooks:
        return migrate(args)
    changed = 0
    for path in files():
        full = ROOT / path
        if not full.is_file():
            continue
        text = full.read_text(encoding="utf-8")
        new, n = rewrite(path, text)
        if new != text:
            changed += 1
            print(f"{path}: {n} grade id{'s' if n != 1 else ''} renamed")
            if not args.check:
                full.write_text(new, encoding="utf-8")
        left = leftovers(path, new)
        if left:
            print(f"{path}: left as they are (not grade ids here?): {', '.join(left)}")
    print(f"{sum(map(len, MAPPING.values()))} ids in the mapping; {changed} files changed")
    return 1 if args.check and changed else 0


def migrate(args):
    """A course under way: its gradebook and its students' notebooks (not the tree)."""
    if args.gradebook:
        n = rename_in_gradebook(args.gradebook, commit=not args.check)
        print(f"{args.gradebook}: {n} cells renamed")
    for path, assignment in student_notebooks(args.notebooks or ()):
        text = path.read_text(encoding="utf-8")
        new, n = rename_in_notebook(text, assignment)
        if n:
            print(f"{path}: {n} grade ids renamed")
            if not args.check:
                path.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
