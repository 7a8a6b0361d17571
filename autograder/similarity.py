"""Which submissions of an assignment look alike: a hint for the instructor, never a score.

For one assignment, every submission's answer cells (nbgrader's solution cells, read as
the grader reads them: split cells joined, stripped metadata restored from the source by
:mod:`autograder.repair`) are

1. **normalised** by Python's tokenizer: comments, blank lines, indentation and spacing
   dropped, trailing commas and line breaks inside brackets ignored, every string one
   token, numbers compared by value, and every name the student chose (variables,
   parameters, helpers) one placeholder; keywords, builtins, attributes (``.grad``,
   ``np.exp``) and what the release imports or defines keep their names, since renaming
   those would change the program.  Code that does not tokenize (a syntax error, binary
   junk) is split by a regular expression instead, so it is compared too;
2. **fingerprinted** by winnowing the hashes of its k-grams of tokens (Schleimer,
   Wilkerson and Aiken, "Winnowing: local algorithms for document fingerprinting",
   SIGMOD 2003, the method of MOSS): every run of ``K + WINDOW - 1`` tokens two answers
   share is found;
3. **discounted**: fingerprints of the release text (the student notebook: skeletons,
   docstrings, tests), of the source solution (matching the solution says an answer is
   right, not copied) and those held by most of the class are set aside;
4. **compared** pair by pair: the score is the Jaccard index of the fingerprints left
   (per answer cell, and over all cells), so two students who wrote the solution, or
   left the release as it was, share nothing.

It also names answers that copy the course library (:mod:`course`) instead of deriving:
their fingerprints, solution's and release's aside, cover most of a library function's,
or they import a library function the release does not give them.

copydetect (PyPI) implements the same winnowing but did not fit: its filter turns every
name, attribute and module alike into one letter, so short NumPy answers
(``np.exp(-z)``, ``np.tanh(z)``) all look the same; its hashes are Python's salted
``hash``; and importing it imports matplotlib's pyplot, which the report configures first.
"""

from __future__ import annotations

import ast
import builtins
import collections
import csv
import functools
import hashlib
import io
import itertools
import keyword
import re
import textwrap
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from . import repair, syntax
from .cells import grade_id, is_answer_cell
from .integrity import read_notebook

#: Tokens per k-gram: shorter shared runs are noise.
K = 5
#: Winnowing window: every shared run of K + WINDOW - 1 = 8 tokens is found.
WINDOW = 4
#: Fingerprints held by more than this share of the class are discounted.
COMMON = 0.5
#: Fewest shared fingerprints for a pair to be named, and for a library copy.
MIN_SHARED = 1
MIN_LIBRARY = 3
#: Score from which the report shows a pair.
LOOK_ALIKE = 0.5
#: Longest part of an answer cell compared (a huge cell is cut, and says so).
MAX_CELL_CHARS = 20_000

_KEEP = frozenset(keyword.kwlist) | frozenset(dir(builtins))
_CLOSING = {")", "]", "}"}
_SKIP = {"COMMENT", "NL", "INDENT", "DEDENT", "ENDMARKER", "ENCODING"}
_FALLBACK = re.compile(
    r"(?P<name>[^\W\d]\w*)|(?P<number>\d[\w.]*)|(?P<string>'[^'\n]*'?|\"[^\"\n]*\"?)"
    r"|(?P<newline>\n)|(?P<op>\*\*=?|//=?|->|[-+*/%@&|^<>=!]=|<<|>>|[^\s\w])"
)


# --- normalising and fingerprinting ------------------------------------------------------


def _strip_magics(source):
    return "\n".join(
        "" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()
    )


@functools.lru_cache(maxsize=4096)
def _raw_tokens(source):
    """(kind, text, line) of `source`: tokenize's, or the fallback's where it fails."""
    try:
        return tuple(
            (tokenize.tok_name[t.type], t.string, t.start[0])
            for t in tokenize.generate_tokens(io.StringIO(source).readline)
        )
    except (tokenize.TokenError, SyntaxError):  # IndentationError is a SyntaxError
        out, line = [], 1
        for m in _FALLBACK.finditer(source):
            kind = m.lastgroup.upper()
            out.append(("NEWLINE" if kind == "NEWLINE" else kind, m.group(), line))
            line += kind == "NEWLINE"
        return tuple(out)


def _number(text):
    try:
        return repr(float(text.replace("_", "")))
    except ValueError:
        return text


def tokens(source, keep=frozenset()):
    """The normalised tokens of `source`, each with its line: [(token, line)].

    Parameters
    ----------
    source : str
    keep : set of str
        Names kept as they are (beside keywords, builtins and attributes): what the
        release defines or imports.
    """
    out, prev = [], None
    for kind, text, line in _raw_tokens(_strip_magics(source)):
        if kind in _SKIP or (kind != "NEWLINE" and not text.strip()):
            continue
        if kind == "NEWLINE" or text == ";":
            tok = ";"
        elif kind == "NAME":
            tok = text if (text in _KEEP or text in keep or prev == ".") else "V"
        elif kind == "NUMBER":
            tok = _number(text)
        elif kind == "STRING":
            tok = "S"
        else:
            tok = text
        prev = text
        if tok in _CLOSING and out and out[-1][0] == ",":
            out.pop()  # a trailing comma is formatting
        if tok == ";" and (not out or out[-1][0] == ";"):
            continue
        out.append((tok, line))
    return out


def _hash(gram):
    return int.from_bytes(hashlib.blake2b("\x1f".join(gram).encode(), digest_size=8).digest())


def winnow(hashes, window=WINDOW):
    """Indices chosen by winnowing (Schleimer et al. 2003): in every `window` consecutive
    hashes the smallest (the rightmost on a tie), each index once; one for a shorter list."""
    if not hashes:
        return []
    chosen = []
    for start in range(max(1, len(hashes) - window + 1)):
        span = range(start, min(start + window, len(hashes)))
        i = min(span, key=lambda j: (hashes[j], -j))
        if not chosen or chosen[-1] != i:
            chosen.append(i)
    return chosen


def fingerprints(toks, k=K, window=WINDOW):
    """{hash: [(first line, last line), ...]} of the k-grams winnowing picks from `toks`
    (an answer shorter than k tokens is one gram)."""
    words = [t for t, _ in toks]
    starts = range(max(1, len(words) - k + 1)) if words else range(0)
    hashes = [_hash(words[i : i + k]) for i in starts]
    out = {}
    for i in winnow(hashes, window):
        span = (toks[i][1], toks[min(i + k, len(toks)) - 1][1])
        out.setdefault(hashes[i], []).append(span)
    return out


def release_names(notebooks):
    """Names the release's code imports or defines at its top level (kept by :func:`tokens`)."""
    names = set()
    for nb in notebooks:
        for cell in nb.cells:
            if cell.get("cell_type") != "code":
                continue
            try:
                tree = syntax.parse(_strip_magics(cell.source))
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                continue
            for node in tree.body:
                if isinstance(node, ast.Import | ast.ImportFrom):
                    names.update((a.asname or a.name).split(".")[0] for a in node.names)
                elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    names.add(node.name)
    return frozenset(names - {"*"})


# --- reading an assignment -----------------------------------------------------------------


@dataclass
class Submission:
    """One student's answer cells: {"<notebook>/<grade_id>": source}, their fingerprints
    and what could not be read."""

    student: str
    answers: dict = field(default_factory=dict)
    prints: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)


def answer_cells(nb, source=None):
    """{grade_id: source} of the answer cells of `nb`, as the grader reads them."""
    nb = nbformat.from_dict(nb)
    repair.repair(nb, source)
    out = {}
    for cell in nb.cells:
        gid = grade_id(cell)
        if gid and cell.get("cell_type") == "code" and is_answer_cell(cell):
            text = cell.get("source", "")
            out.setdefault(gid, text if isinstance(text, str) else "".join(text))
    return out


def _read(path):
    try:
        return read_notebook(path), None
    except (OSError, ValueError, UnicodeDecodeError, RecursionError) as exc:
        return None, f"{path.name}: {type(exc).__name__}"


@dataclass
class Assignment:
    """What is compared: the release and source notebooks of an assignment."""

    id: str
    release: dict  # notebook -> nb
    source: dict  # notebook -> nb
    keep: frozenset

    @classmethod
    def load(cls, course, assignment):
        release, source = {}, {}
        for n in course.notebook_names(assignment):
            source[n] = nbformat.read(course.source / assignment / f"{n}.ipynb", as_version=4)
            path = course.release / assignment / f"{n}.ipynb"
            release[n] = nbformat.read(path, as_version=4) if path.exists() else source[n]
        return cls(assignment, release, source, release_names(release.values()))

    def prints_of(self, text):
        return fingerprints(tokens(text[:MAX_CELL_CHARS], self.keep))

    def discounted(self):
        """Hashes of the release's code cells and of the source's answer cells."""
        out = set()
        for nb in self.release.values():
            for cell in nb.cells:
                if cell.get("cell_type") == "code":
                    out |= set(self.prints_of(cell.source))
        for nb in self.source.values():
            for text in answer_cells(nb).values():
                out |= set(self.prints_of(text))
        return out

    def submission(self, student, folder):
        sub = Submission(student)
        for n, source in self.source.items():
            path = Path(folder) / f"{n}.ipynb"
            if not path.exists():
                sub.notes.append(f"{n}.ipynb: missing")
                continue
            nb, why = _read(path)
            if nb is None:
                sub.notes.append(why)
                continue
            for gid, text in answer_cells(nb, source).items():
                key = f"{n}/{gid}"
                if len(text) > MAX_CELL_CHARS:
                    sub.notes.append(
                        f"{key}: {len(text)} characters, the first {MAX_CELL_CHARS} compared"
                    )
                sub.answers[key] = text
                sub.prints[key] = self.prints_of(text)
        return sub


# --- comparing -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    """Two submissions that look alike: `score` is the Jaccard index of their remaining
    fingerprints over all answer cells; `cells` is [(cell, score, shared)], best first."""

    student_a: str
    student_b: str
    score: float
    shared: int
    cells: tuple


@dataclass(frozen=True)
class LibraryCopy:
    """An answer that copies (or imports) a function of the course library."""

    student: str
    cell: str
    reference: str
    how: str


@dataclass
class Result:
    """The similarity of one assignment's submissions."""

    assignment: str
    submissions: dict  # student -> Submission (remaining fingerprints in .prints)
    pairs: list  # Pair, most alike first
    library: list  # LibraryCopy
    remaining: dict = field(default_factory=dict)  # student -> {(cell, hash)} compared

    def look_alike(self, threshold=LOOK_ALIKE):
        return [p for p in self.pairs if p.score >= threshold and p.shared >= MIN_SHARED]


def _remaining(subs, discount, common=COMMON):
    """Each submission's fingerprints without `discount` and without those most hold."""
    holders = collections.Counter((k, h) for s in subs for k, fp in s.prints.items() for h in fp)
    limit = max(2, common * len(subs))
    out = {}
    for s in subs:
        out[s.student] = {
            (k, h)
            for k, fp in s.prints.items()
            for h in fp
            if h not in discount and holders[(k, h)] <= limit
        }
    return out


def _pair(a, b, left, right):
    shared = left & right
    cells = []
    for key in sorted({k for k, _ in shared}):
        mine = {h for k, h in left if k == key}
        theirs = {h for k, h in right if k == key}
        both = len(mine & theirs)
        cells.append((key, both / len(mine | theirs), both))
    cells.sort(key=lambda c: (-c[1], -c[2], c[0]))
    score = len(shared) / len(left | right)
    return Pair(a, b, score, len(shared), tuple(cells))


def rank_pairs(remaining):
    """Pairs sharing a fingerprint, most alike first (score, then shared, then names)."""
    index = collections.defaultdict(list)
    for student, prints in remaining.items():
        for fp in prints:
            index[fp].append(student)
    counts = collections.Counter()
    for who in index.values():
        counts.update(itertools.combinations(sorted(who), 2))
    pairs = [_pair(a, b, remaining[a], remaining[b]) for a, b in counts]
    return sorted(pairs, key=lambda p: (-p.score, -p.shared, p.student_a, p.student_b))


def compare(course, assignment, students=None, library=None):
    """Rank the submissions of `assignment` under ``submitted/`` by how alike they are.

    Parameters
    ----------
    course : autograder.course_config.Course
    assignment : str
    students : list of str, optional
        Only these (default: every student who submitted it).
    library : path, optional
        The course library's folder (default: the installed :mod:`course` package).

    Returns
    -------
    Result
    """
    a = Assignment.load(course, assignment)
    folders = sorted(p for p in course.submitted.glob(f"*/{assignment}") if p.is_dir())
    subs = [
        a.submission(f.parent.name, f)
        for f in folders
        if students is None or f.parent.name in students
    ]
    return compare_submissions(a, subs, library)


def compare_submissions(a, subs, library=None):
    """:func:`compare` on submissions already read (an :class:`Assignment`'s)."""
    discount = a.discounted()
    remaining = _remaining(subs, discount)
    pairs = rank_pairs(remaining)
    copies = library_copies(a, subs, discount, library)
    return Result(a.id, {s.student: s for s in subs}, pairs, copies, remaining)


def write_csv(result, path):
    """The ranked pairs as CSV: rank, student_a, student_b, score, shared, cells."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["rank", "student_a", "student_b", "score", "shared_fingerprints", "cells"])
        for i, p in enumerate(result.pairs, 1):
            cells = "; ".join(f"{k} ({s:.2f})" for k, s, _ in p.cells)
            w.writerow([i, _plain(p.student_a), _plain(p.student_b), f"{p.score:.3f}", p.shared,
                        _plain(cells)])  # fmt: skip
    return path


def _plain(text):
    """A CSV field a spreadsheet shows as text, never runs as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


# --- the course library ----------------------------------------------------------------------


def library_folder():
    """The folder of the installed :mod:`course` package (not imported)."""
    import importlib.util

    spec = importlib.util.find_spec("course")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


#: Parts of the library that are not a reference to copy: the grader's checks (which
#: rebuild the catalogue's bugs on purpose) and the notebooks' grading helpers.
NOT_REFERENCE = ("checks", "grading.py")


@functools.cache
def library_functions(folder):
    """{"course.module.function": source} of every function in the library `folder`
    (:data:`NOT_REFERENCE` aside)."""
    folder = Path(folder)
    out = {}
    for path in sorted(folder.rglob("*.py")):
        rel = path.relative_to(folder)
        if rel.parts[0] in NOT_REFERENCE:
            continue
        module = ".".join((folder.name, *rel.with_suffix("").parts)).removesuffix(".__init__")
        text = path.read_text(encoding="utf-8")
        try:
            tree = syntax.parse(text)
        except SyntaxError:
            continue
        lines = text.splitlines()
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                body = "\n".join(lines[node.lineno - 1 : node.end_lineno])
                out.setdefault(f"{module}.{node.name}", textwrap.dedent(body))
    return out


def _imports_from_library(text, given):
    try:
        tree = syntax.parse(_strip_magics(text[:MAX_CELL_CHARS]))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "course":
            out += [f"{node.module}.{x.name}" for x in node.names if x.name not in given]
    return out


def library_copies(a, subs, discount, library=None):
    """Answers whose remaining fingerprints mostly come from one library function, or
    that import from the library what the release does not."""
    folder = library or library_folder()
    refs, size = {}, collections.Counter()
    for name, text in (library_functions(str(folder)) if folder else {}).items():
        for h in a.prints_of(text):
            if h not in discount:
                refs.setdefault(h, set()).add(name)
                size[name] += 1
    out = []
    for s in subs:
        for key, prints in s.prints.items():
            mine = [h for h in prints if h not in discount]
            hits = collections.Counter(n for h in mine for n in refs.get(h, ()))
            for name, n in hits.most_common(1):
                if n >= MIN_LIBRARY and n >= 0.5 * max(len(mine), size[name]):
                    how = f"{n} of its {len(mine)} fingerprints are {name}'s"
                    out.append(LibraryCopy(s.student, key, name, how))
            for name in _imports_from_library(s.answers[key], a.keep):
                out.append(LibraryCopy(s.student, key, name, f"imports {name} from the library"))
    return out


def matched_lines(sub, key, hashes):
    """Line numbers (1-based) of `sub`'s answer `key` covered by fingerprints `hashes`."""
    lines = set()
    for h in hashes:
        for first, last in sub.prints.get(key, {}).get(h, ()):
            lines.update(range(first, last + 1))
    return sorted(lines)
