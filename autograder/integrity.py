"""What a submission looks like before it runs: notes for the instructor, not defences.

The defences are elsewhere: the kernel runs in an OS sandbox and the grader runs the
test cells itself (:mod:`autograder.sandbox`, :mod:`autograder.trusted`), so nothing
here decides a score.  This module reads notebooks safely and names what a reviewer
should look at:

- :func:`read_notebook`: a submitted file, with limits on size and nesting;
- :func:`structure_flags`: test and locked cells a student edited or deleted (nbgrader
  restores them from the source before grading; we say so);
- :func:`scan_source`: student code that reassigns what the tests rely on, or reaches
  for the gradebook, processes, the interpreter's internals or the grader: flagged for
  review, with the trick named where it is recognisable.
"""

from __future__ import annotations

import ast
import json
import re

from . import syntax
from .cells import grade_id, is_protected_cell, is_student_cell, is_test_cell

#: Largest notebook file read (bytes) and deepest JSON nesting accepted.
MAX_NOTEBOOK_BYTES = 64 * 2**20
MAX_DEPTH = 200

#: Module names whose attributes a student's code must not reassign.
PROTECTED_MODULES = ("numpy", "course", "builtins", "math", "sys", "autograder", "nbgrader")

_SUSPICIOUS = [
    (
        re.compile(r"gradebook|nbgrader|autograded|submitted/|grading-records|solutions/"),
        "mentions grading files",
    ),
    (re.compile(r"/proc/"), "reads /proc (other processes, the machine)"),
    (re.compile(r"\bsys\.modules\b"), "edits sys.modules"),
    (re.compile(r"__builtins__|\bimport builtins\b|from builtins import"), "touches builtins"),
    (re.compile(r"\bctypes\b|\bgc\.get_(objects|referrers)\b"), "reaches into the interpreter"),
    (
        re.compile(
            r"\bsubprocess\b|\bos\.system\b|\bos\.popen\b|\bpty\b|posix_spawn|"
            r"_posixsubprocess|\bos\.exec"
        ),
        "starts processes",
    ),
    (re.compile(r"\bos\.fork\b|\bfork\s*\("), "forks processes"),
    (re.compile(r"\bos\.kill\b|\bkillpg\b|\bsignal\.SIG"), "sends signals to processes"),
    (
        re.compile(
            r"input_transformers|ast_transformers|events\.register|set_custom_exc|"
            r"register_magic|input_splitter"
        ),
        "installs IPython hooks (input or AST transformers, events, exception handlers)",
    ),
    (re.compile(r"displayhook|excepthook"), "replaces sys.displayhook or sys.excepthook"),
    (re.compile(r"\bsettrace\b|\bsetprofile\b"), "installs a trace function"),
    (re.compile(r"\bvars\s*\(|__dict__\s*\["), "edits namespaces through vars() or __dict__"),
    (
        re.compile(r"\binspect\b|_getframe|\bf_back\b|\bf_locals\b|\bf_globals\b"),
        "inspects call frames",
    ),
    (re.compile(r"\bthreading\b|\b_thread\b"), "starts threads"),
    (
        re.compile(
            r"__array__|__array_ufunc__|__array_function__|"
            r"def __(eq|ne|sub|rsub|float|abs|bool|lt|gt|le|ge)__"
        ),
        "defines objects that pose as numbers or arrays (__array__, __eq__, __sub__...)",
    ),
    (re.compile(r"jupyter_client|kernel\.json|KernelClient|\bzmq\b"), "talks to Jupyter kernels"),
    (re.compile(r"\bsqlite3\b"), "opens databases"),
    (
        re.compile(r"numerical_gradient|\bgradcheck\b|\+=\s*h\b|-=\s*2\s*\*\s*h\b"),
        "differentiates numerically (finite differences), not by backpropagation",
    ),
    (re.compile(r"\bautograder\b|\baddaudithook\b"), "mentions the autograder"),
    (re.compile(r"importlib\.reload|\bsetattr\s*\("), "rebinds attributes dynamically"),
    (re.compile(r"\.\./|os\.chdir|shutil\.rmtree|os\.remove|os\.unlink"), "touches files outside"),
]


_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")


def _depth_ok(text, limit=MAX_DEPTH):
    """False when JSON `text` nests brackets deeper than `limit` (checked without parsing)."""
    import numpy as np

    brackets = _NOT_BRACKETS.sub("", _STRINGS.sub("", text)).encode()
    if not brackets:
        return True
    codes = np.frombuffer(brackets, dtype=np.uint8)
    steps = np.where((codes == ord("[")) | (codes == ord("{")), 1, -1)
    return int(np.cumsum(steps).max()) <= limit


def read_notebook(path):
    """Read a submitted notebook as nbformat 4; ValueError when it is not a sane one."""
    import nbformat

    size = path.stat().st_size
    if size > MAX_NOTEBOOK_BYTES:
        raise ValueError(f"file of {size} bytes is larger than {MAX_NOTEBOOK_BYTES} bytes")
    text = path.read_bytes().decode("utf-8")
    if not _depth_ok(text):
        raise ValueError(f"JSON nested deeper than {MAX_DEPTH} levels")
    try:
        return nbformat.reads(text, as_version=4)
    except nbformat.reader.NotJSONError:
        try:  # where it breaks, not nbformat's dump of the file's start
            json.loads(text)
        except json.JSONDecodeError as exc:
            what = exc.msg.removesuffix(" at").removesuffix(" starting")
            raise ValueError(
                f"not valid JSON at line {exc.lineno}, column {exc.colno} ({what})"
            ) from None
        raise


def describe(exc):
    """A one-line reason for an unreadable notebook."""
    return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}".rstrip(
        ": "
    )


#: The hidden-tests region of a test cell, markers included, as nbgrader writes it (the
#: markers on lines of their own).
HIDDEN_TESTS = re.compile(
    r"^[ \t]*### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS[ \t]*\n?", re.M | re.S
)


def structure_flags(submitted, release):
    """Locked or test cells of `release` that are edited or missing in `submitted`.

    Returns
    -------
    list of str
        e.g. ``["test cell edited: test_dfdx", "test cell deleted: test_dW1"]``.
    """
    mine = {}
    for cell in submitted.cells:
        gid = grade_id(cell)
        if gid:
            mine.setdefault(gid, cell)
    flags = []
    for cell in release.cells:
        gid = grade_id(cell)
        if not gid or not is_protected_cell(cell):
            continue
        kind = "test cell" if is_test_cell(cell) else "locked cell"
        if gid not in mine:
            flags.append(f"{kind} deleted: {gid}")
        elif mine[gid].get("source", "").strip() != cell.get("source", "").strip():
            flags.append(f"{kind} edited: {gid}")
    return flags


def locked_bindings(nb):
    """Names the locked cells import: name -> (module, attribute or None)."""
    bindings = {}
    locked = (c for c in nb.cells if is_protected_cell(c))
    for _, tree in _code_trees(locked):
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.asname:
                        bindings[a.asname] = (a.name, None)
                    else:
                        top = a.name.split(".")[0]
                        bindings[top] = (top, None)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for a in node.names:
                    if a.name != "*":
                        bindings[a.asname or a.name] = (node.module, a.name)
    return {
        k: v
        for k, v in bindings.items()
        if v[0].split(".")[0] in PROTECTED_MODULES and k not in ("get_ipython",)
    }


def _code_trees(cells):
    """(cell, syntax tree) for each code cell of `cells` that parses (magics blanked)."""
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        try:
            yield cell, syntax.parse(_strip_magics(cell.get("source", "")))
        except SyntaxError:
            continue


def _strip_magics(source):
    return "\n".join(
        "" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()
    )


def _root_name(node):
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _walk_scoped(tree):
    """(node, at module level?) for every node of `tree`."""
    stack = [(n, True) for n in ast.iter_child_nodes(tree)]
    while stack:
        node, top = stack.pop()
        yield node, top
        inner = top and not isinstance(
            node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda
        )
        stack.extend((c, inner) for c in ast.iter_child_nodes(node))


def _globals(tree):
    return {name for n in ast.walk(tree) if isinstance(n, ast.Global) for name in n.names}


def scan_source(nb):
    """Flags for student code that tampers, or looks like it tries to.

    Returns
    -------
    list of str
    """
    bindings = locked_bindings(nb)
    protected_names = set(bindings)
    for _, tree in _code_trees(nb.cells):
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.split(".")[0] in PROTECTED_MODULES:
                        protected_names.add(a.asname or a.name.split(".")[0])
    flags = []
    # a syntax error only costs the student (nothing runs): such cells are skipped
    for cell, tree in _code_trees(c for c in nb.cells if is_student_cell(c)):
        gid = grade_id(cell) or "an unlocked cell"
        for node, top in _walk_scoped(tree):
            targets = []
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, ast.AugAssign | ast.AnnAssign):
                targets = [node.target]
            elif isinstance(node, ast.Delete):
                targets = node.targets
            for t in targets:
                for sub in ast.walk(t):
                    # attributes of protected modules matter wherever they are set
                    if isinstance(sub, ast.Attribute) and _root_name(sub) in protected_names:
                        flags.append(f"{gid}: reassigns {ast.unparse(sub)}")
                    # a name matters only at module level (or declared global)
                    elif (
                        isinstance(sub, ast.Name)
                        and sub.id in bindings
                        and isinstance(sub.ctx, ast.Store | ast.Del)
                        and (top or sub.id in _globals(tree))
                    ):
                        flags.append(f"{gid}: rebinds {sub.id}, which the tests import")
            if isinstance(node, ast.FunctionDef | ast.ClassDef) and top and node.name in bindings:
                flags.append(f"{gid}: redefines {node.name}, which the tests import")
        for pattern, what in _SUSPICIOUS:
            if pattern.search(cell.get("source", "")):
                flags.append(f"{gid}: {what}")
    return sorted(set(flags))
