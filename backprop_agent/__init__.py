"""The only code of this project that runs in a student's grading kernel.

``backprop-grade grade`` binds this package, and nothing else of the project, into the
sandbox of every grading kernel.  It imports the standard library and NumPy only.

- :mod:`.wire`: plain data on the wire (JSON header, ``.npy`` blobs, references);
- :mod:`.channel`: one conversation over a Unix socket, in which either end may call
  the other while it waits for an answer;
- :mod:`.agent`: the kernel's end: it reads a name, calls a student's callable, gets or
  sets an attribute of a handle, binds a name, drops handles, and nothing else;
- :mod:`.stubs`: what ``import course`` gives inside the grading kernel: modules whose
  functions run in the grader and return plain data (no course code is here).

Nothing here is a security boundary: the student's code shares the process and may
change any of it.  The grader trusts nothing it receives from here (see
``autograder.remote``).
"""
