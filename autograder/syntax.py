"""Python's ``ast`` for the grader's threads, one conversion at a time.

CPython (3.11 before 3.11.8, 3.12 before 3.12.1) keeps the recursion depth of its AST
conversions per interpreter, not per thread: two threads that parse, or compile a tree,
at once can fail with ``SystemError: AST constructor recursion depth mismatch``
(python/cpython#106905).  A dask worker with several threads grades several notebooks
at once, so every parse and every compile of a tree in the grader goes through here.
"""

from __future__ import annotations

import ast
import threading

#: Held while one thread converts between source, ast trees and code.
LOCK = threading.RLock()


def parse(source):
    """``ast.parse(source)``, one thread at a time (raises SyntaxError as it does)."""
    with LOCK:
        return ast.parse(source)


def compile_tree(tree, filename, mode="exec"):
    """``compile(tree, filename, mode)`` of an ast tree, one thread at a time."""
    with LOCK:
        return compile(tree, filename, mode)
