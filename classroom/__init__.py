"""Test and demo support for the course, kept out of the installed package.

The wheel ships ``course`` and ``autograder``; ``make demo`` runs ``python -m classroom
demo`` from the repository, and the tests import it from there.

- :mod:`classroom.samples` and :mod:`classroom.demo`: a seeded sample class and the whole
  instructor pipeline on it;
- :mod:`classroom.harness`: plain ``nbgrader autograde`` on scratch courses;
  :mod:`classroom.fixture` and :mod:`classroom.nbbuild`: a tiny assignment for fast tests;
- :mod:`classroom.runner` runs a solutions notebook's cells in this process and reports
  each test cell's verdict, as nbgrader would score it (fast: no kernel, no nbgrader);
- :mod:`classroom.plants` plants the bugs of :mod:`course.checks.catalogue`, by id, and
  correct alternatives into the solution notebooks (the sample class uses them too);
- :mod:`classroom.mutate` makes every single-point mutant of the solution cells and
  reports how many lose points and how many are told their bug.
"""
