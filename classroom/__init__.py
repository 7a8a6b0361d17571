"""Test and demo support for the course, kept out of the installed package.

- :mod:`classroom.runner` runs a solutions notebook's cells in this process and reports
  each test cell's verdict, as nbgrader would score it (fast: no kernel, no nbgrader);
- :mod:`classroom.plants` plants the bugs of :mod:`course.checks.catalogue`, by id, and
  correct alternatives into the solution notebooks (the sample class uses them too);
- :mod:`classroom.mutate` makes every single-point mutant of the solution cells and
  reports how many lose points and how many are told their bug.
"""
