"""Test and demo support: a sample class, planted bugs, nbgrader harness, fixtures.

Not part of the installed package (the wheel ships ``course`` and ``autograder``):
``make demo`` runs ``python -m classroom demo`` from the repository, and the tests
import it from there.
"""
