"""Single-point mutants of the solution cells, and how the checks treat them.

Every answer cell's solution region (between ``### BEGIN SOLUTION`` and ``### END
SOLUTION``) is mutated at one point at a time: an arithmetic or comparison operator
swapped, a number changed, an axis or keepdims flipped, a transpose dropped, a unary
minus removed, a statement deleted.  Each mutant is graded in process
(:mod:`classroom.runner`, only the test cells that can see the cell) and recorded as

- **killed** when some test cell loses its points, **survived** otherwise;
- **named** when a failing cell tells the student what kind of bug it is (:data:`NAMING`):
  a "Likely bug:" diagnosis of :mod:`course.checks.catalogue`, a structural or dtype
  message, an exception shown with the student's failing line, or "fix X first"; not
  when it only says "is wrong at entry ...";
- with the **bug**, the catalogue id of the "Likely bug:" diagnosis a failing cell shows
  (:func:`bug_named`; "" for a mutant named otherwise, by an exception or a structural
  message), the one key plants and the checkers' bug models use too.

Survivors are either equivalent to the solution (listed with the reason in
``classroom/mutants/equivalent.json``) or a gap in the tests.  The corpus, one record
per mutant, is kept in ``classroom/mutants/corpus.json``; ``python -m classroom.mutate``
rebuilds it and prints the rates.
"""

from __future__ import annotations

import ast
import copy
import functools
import json
import re
import signal
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from classroom import runner

HERE = Path(__file__).resolve().parent / "mutants"
CORPUS = HERE / "corpus.json"
EQUIVALENT = HERE / "equivalent.json"

_REGION = re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", re.S)
_SWAPS = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.Pow: ast.Mult,
    ast.MatMult: ast.Mult,
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
}


@dataclass
class Mutant:
    """One mutant and its verdict."""

    key: str
    assignment: str
    cell: str
    line: int
    operator: str
    before: str
    after: str
    killed: bool = False
    named: bool = False
    failing: tuple = ()
    diagnosis: str = ""
    bug: str = ""


def _region_lines(source):
    """Line numbers (1-based) of the solution region of a cell."""
    m = _REGION.search(source)
    if not m:
        return set()
    first = source[: m.start(1)].count("\n") + 1
    return set(range(first, first + m.group(1).count("\n")))


def _points(tree, lines):
    """(node path, operator name) of every mutation point inside `lines`."""
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) not in lines:
            continue
        if isinstance(node, ast.BinOp | ast.AugAssign) and type(node.op) in _SWAPS:
            yield node, "op"
        if isinstance(node, ast.Compare) and type(node.ops[0]) in _SWAPS:
            yield node, "compare"
        elif isinstance(node, ast.Constant) and type(node.value) in (int, float):
            yield node, "number"
        elif isinstance(node, ast.keyword) and node.arg in ("axis", "keepdims"):
            yield node, "keyword"
        elif isinstance(node, ast.Attribute) and node.attr == "T":
            yield node, "transpose"
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            yield node, "negation"
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.Expr | ast.Return):
            if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)):
                yield node, "delete"


def _apply(node, operator, parent_of):
    """Mutate `node` in place (on a copy of the tree); False when it has no mutant."""
    if operator in ("op", "compare"):
        ops = node.ops if operator == "compare" else None
        if ops is not None:
            ops[0] = _SWAPS[type(ops[0])]()
        else:
            node.op = _SWAPS[type(node.op)]()
        return True
    if operator == "number":
        v = node.value
        if isinstance(v, int):
            node.value = {0: 1, 1: 2, 2: 1}.get(v, v + 1)
        else:
            node.value = 1.0 if v == 0 else (2.0 if v == 1.0 else v * 2)
        return True
    if operator == "keyword":
        value = node.value
        if isinstance(value, ast.Constant) and value.value in (0, 1):
            flipped = (not value.value) if isinstance(value.value, bool) else 1 - value.value
            node.value = ast.Constant(flipped)
            return True
        return False
    if operator in ("transpose", "negation"):
        replacement = node.value if operator == "transpose" else node.operand
        parent, field, index = parent_of[id(node)]
        if index is None:
            setattr(parent, field, replacement)
        else:
            getattr(parent, field)[index] = replacement
        return True
    parent, field, index = parent_of[id(node)]
    getattr(parent, field)[index] = ast.Pass()
    return True


def _parents(tree):
    out = {}
    for parent in ast.walk(tree):
        for field, value in ast.iter_fields(parent):
            if isinstance(value, list):
                for i, child in enumerate(value):
                    if isinstance(child, ast.AST):
                        out[id(child)] = (parent, field, i)
            elif isinstance(value, ast.AST):
                out[id(value)] = (parent, field, None)
    return out


def mutants_of(assignment, grade_id, source):
    """Every single-point mutant of the solution region of one answer cell."""
    lines = _region_lines(source)
    tree = ast.parse(source)
    found = list(_points(tree, lines))
    out = []
    for n, (_, operator) in enumerate(found):
        work = copy.deepcopy(tree)
        node, _ = list(_points(work, lines))[n]
        before = ast.get_source_segment(source, found[n][0]) or ast.unparse(found[n][0])
        if not _apply(node, operator, _parents(work)):
            continue
        ast.fix_missing_locations(work)
        text = ast.unparse(work)
        after = ast.unparse(node) if operator not in ("delete", "transpose", "negation") else "…"
        key = f"{assignment}:{grade_id}:{node.lineno if hasattr(node, 'lineno') else 0}:{operator}:{n}"
        out.append(
            (
                Mutant(
                    key,
                    assignment,
                    grade_id,
                    getattr(found[n][0], "lineno", 0),
                    operator,
                    before.splitlines()[0][:80],
                    after.splitlines()[0][:80],
                ),
                text,
            )
        )
    return out


#: Messages that tell the student what kind of bug it is, besides a "Likely bug:" line:
#: structural ones (what came back, which key is missing), dtype, an exception with the
#: student's failing line, and "fix X first".
NAMING = (
    "likely bug:",
    "not implemented",
    "must return",
    "has shape",
    "is none",
    "returned no",
    "fix ",
    "compute in float64",
    "holds integers",
    "not numerically stable",
    "not defined yet",
    "not set yet",
    " raised ",
    "still equals its initial value",
    "minibatch sizes",
)


def _named(outputs):
    """(named, the sentence that names it) for the failing cells' outputs."""
    for text in outputs:
        low = text.lower()
        if any(phrase in low for phrase in NAMING):
            line = next((ln for ln in text.splitlines() if "Likely bug:" in ln), None)
            return True, (line or text.splitlines()[0]).strip()
    return False, (outputs[0].splitlines()[0] if outputs else "")


#: How much of a diagnosis's own text a sentence cut short must show (or all of it).
_CUT_SHOWS = 40


def _begins(parts, text):
    """Whether `text` can be the start of a diagnosis with the literal `parts` (each field
    between them any text), ignoring case: a sentence cut short, that shows at least
    :data:`_CUT_SHOWS` characters of the literal text."""
    text, parts = text.lower(), [p.lower() for p in parts]
    enough = min(_CUT_SHOWS, sum(map(len, parts)))
    if parts[0].startswith(text):
        return len(text) >= enough
    for k in range(1, len(parts)):
        head = re.compile(".*?".join(map(re.escape, parts[:k])) + ".*", re.S)
        before = sum(map(len, parts[:k]))
        for j in range(max(0, len(text) - len(parts[k])), len(text)):
            shown = before + len(text) - j
            if shown >= enough and parts[k].startswith(text[j:]) and head.fullmatch(text[:j]):
                return True
    return False


@functools.cache
def _diagnoses():
    """(id, pattern of its diagnosis: each field a wildcard, its literal parts, bug) per bug."""
    from course.checks import catalogue

    out = []
    for k, b in catalogue.all_bugs().items():
        pattern = re.compile(".*?".join(map(re.escape, b.literals)), re.I | re.S)
        out.append((k, pattern, list(b.literals), b))
    return out


def _of_notebook(assignment):
    """_diagnoses() of the bugs a failing test of `assignment` may name: its notebook's
    and the generic ones (``gradcheck.``, ``kit.``)."""
    notebook = assignment.split("-")[0]
    return [d for d in _diagnoses() if d[0].split(".")[0] in (notebook, "gradcheck", "kit")]


def bug_named(assignment, sentence):
    """The catalogue id of the bug a "Likely bug: ..." `sentence` of a failing test of
    `assignment` names ("" when it names none).

    The bugs of the assignment's notebook and the generic ones (``gradcheck.``, ``kit.``)
    whose diagnosis the sentence shows (its fields, e.g. ``{entries}``, standing for the
    numbers of the case; a sentence cut at the corpus's 200 characters may end early),
    the longest diagnosis first; else the notebook's bug whose ``says`` it shows (a
    diagnosis with another subject).
    """
    head = "Likely bug: "
    if not sentence.startswith(head):
        return ""
    text = sentence[len(head) :].strip()
    notebook = assignment.split("-")[0]
    mine = _of_notebook(assignment)
    shown = [
        (len(b.diagnosis), k)
        for k, pattern, parts, b in mine
        if pattern.search(text) or (len(sentence) >= 200 and _begins(parts, text))
    ]
    if not shown:
        shown = [
            (len(b.says), k)
            for k, _, _, b in mine
            if k.startswith(notebook + ".") and b.says.lower() in text.lower()
        ]
    return max(shown)[1] if shown else ""


def uncatalogued(assignment, output):
    """The lines of a failing test's `output` (of `assignment`) that name a likely bug in
    words of their own: every "Likely bug:" must start a line that is "Likely bug: ", a
    diagnosis of the assignment's notebook or a generic one (its fields any text), and a
    full stop, as :func:`course.checks.catalogue.likely` writes it.

    Returns
    -------
    list of str
    """
    head = "Likely bug: "
    mine = [pattern for _, pattern, _, _ in _of_notebook(assignment)]
    bad = []
    for line in output.splitlines():
        text = line.strip().removeprefix("✗ ")
        if "Likely bug:" not in text:
            continue
        body = text.removeprefix(head)
        whole = [body, body[:-1]] if body.endswith(".") else [body]
        if not text.startswith(head) or not any(p.fullmatch(b) for p in mine for b in whole):
            bad.append(line)
    return bad


class _Timeout(BaseException):
    pass


def grade(mutant, source, nb=None, seconds=60):
    """Grade one mutant in process; fills in killed, named, failing, diagnosis."""
    nb = nb or runner.read(mutant.assignment)
    tests = runner.affected_tests(nb, [mutant.cell])

    def stop(signum, frame):
        raise _Timeout()

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        report = runner.run(nb, {mutant.cell: source}, tests=tests)
        failing = report.failing()
        outputs = [report.cells[g].output for g in failing]
    except _Timeout:
        failing, outputs = ["(timeout)"], ["timed out"]
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    mutant.failing = tuple(failing)
    mutant.killed = bool(failing)
    mutant.named, sentence = _named(outputs) if failing else (False, "")
    mutant.diagnosis = sentence[:200]
    mutant.bug = bug_named(mutant.assignment, sentence) if mutant.named else ""
    return mutant


def corpus(assignments=None):
    """(Mutant, source) for every mutant of every assignment's solution cells."""
    out = []
    for a in assignments or [p.name for p in sorted(runner.SOLUTIONS.iterdir()) if p.is_dir()]:
        nb = runner.read(a)
        for cell in nb.cells:
            if runner.kind(cell) == "answer":
                out.extend(mutants_of(a, runner.meta(cell)["grade_id"], cell.source))
    return out


def _grade_all(items):
    nbs = {}
    done = []
    for mutant, source in items:
        nb = nbs.setdefault(mutant.assignment, runner.read(mutant.assignment))
        done.append(grade(mutant, source, nb))
    return done


def rates(mutants, equivalent):
    """(non-equivalent, killed, named) counts."""
    live = [m for m in mutants if m.key not in equivalent]
    killed = [m for m in live if m.killed]
    return len(live), len(killed), sum(m.named for m in killed)


def main(argv=None):
    """Rebuild the corpus (``--jobs N`` processes) and print the rates and survivors."""
    import multiprocessing

    args = list(sys.argv[1:] if argv is None else argv)
    jobs = int(args[args.index("--jobs") + 1]) if "--jobs" in args else 2
    items = corpus([a for a in args if a.startswith("0")] or None)
    chunks = [items[i::jobs] for i in range(jobs)]
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        graded = [m for part in pool.map(_grade_all, chunks) for m in part]
    graded.sort(key=lambda m: m.key)
    HERE.mkdir(exist_ok=True)
    CORPUS.write_text(json.dumps([asdict(m) for m in graded], indent=1, ensure_ascii=False))
    equivalent = json.loads(EQUIVALENT.read_text()) if EQUIVALENT.exists() else {}
    live, killed, named = rates(graded, equivalent)
    print(f"{len(graded)} mutants, {len(graded) - live} equivalent, {live} non-equivalent")
    print(
        f"killed {killed}/{live} = {killed / max(live, 1):.1%}; named {named}/{killed} = "
        f"{named / max(killed, 1):.1%}"
    )
    for m in graded:
        if m.key not in equivalent and not m.killed:
            print("SURVIVED", m.key, "|", m.before, "->", m.after)
    return graded


if __name__ == "__main__":
    main()
