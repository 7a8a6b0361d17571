"""Kernels forked from a warm template (autograder.forked, backprop_agent.template) and
the crash recovery (autograder.crashes): a forked kernel is sandboxed as a cold one is,
nothing one submission does reaches the next, the template is replaced when it dies or
its code changes, grading falls back to a cold start and says why, and a cell that kills
its kernel costs only itself."""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import subprocess
import sys
import time

import nbformat
import pytest

from autograder import cli, crashes, forked, grade, sandbox
from autograder.course_config import Course
from classroom import fixture
from classroom.paths import REPO

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("autograder")]

needs_fork = pytest.mark.skipif(
    forked.problem() is not None or sandbox.probe() is not None,
    reason=f"{forked.problem() or sandbox.probe()}",
)

PROBE = r"""
import ctypes, json, os, resource, socket
st = dict(l.split(":", 1) for l in open("/proc/self/status").read().splitlines() if ":" in l)
facts = {
    "uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(),
    "CapEff": st["CapEff"].strip(), "CapPrm": st["CapPrm"].strip(),
    "CapBnd": st["CapBnd"].strip(), "NoNewPrivs": st["NoNewPrivs"].strip(),
    "hostname": socket.gethostname(),
    "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
    "cwd": os.getcwd(), "home": os.environ["HOME"],
    "root": sorted(os.listdir("/")), "tmp": os.listdir("/tmp"),
    "course": os.path.exists("@@ROOT@@"),
    "rlimits": {k: list(resource.getrlimit(getattr(resource, k))) for k in
                ("RLIMIT_AS", "RLIMIT_NOFILE", "RLIMIT_FSIZE", "RLIMIT_CORE")},
}
for path in ("/usr/probe", "/etc/probe", "/probe"):
    try:
        open(path, "w")
        facts["writable " + path] = True
    except OSError:
        pass
try:
    socket.create_connection(("1.1.1.1", 53), timeout=1)
    facts["network"] = True
except OSError:
    facts["network"] = False
libc = ctypes.CDLL(None, use_errno=True)
facts["new user namespace"] = libc.unshare(0x10000000) == 0
# the worker's session keyring (keyctl KEYCTL_GET_KEYRING_ID @s) and inotify: refused
facts["keyctl"] = [libc.syscall(250, 0, ctypes.c_long(-3), 0), ctypes.get_errno()]
facts["inotify"] = [libc.inotify_init(), ctypes.get_errno()]
sv = os.statvfs(os.environ["HOME"])
facts["home MB"] = sv.f_blocks * sv.f_frsize // 2**20
sv = os.statvfs("/tmp")
facts["tmp MB"] = sv.f_blocks * sv.f_frsize // 2**20
import course
facts["course stubs"] = type(course).__module__
print(json.dumps(facts))
"""


def _notebook(*cells):
    """A notebook of code cells; a (grade_id, source, points) tuple is a test cell."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    for item in cells:
        if isinstance(item, str):
            nb.cells.append(nbformat.v4.new_code_cell(item))
            continue
        grade_id, source, points = item
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata["nbgrader"] = {
            "grade": True,
            "grade_id": grade_id,
            "locked": True,
            "points": points,
            "schema_version": 3,
            "solution": False,
            "task": False,
        }
        nb.cells.append(cell)
    return nb


def _execute(nb, fork=True, **extra):
    task = {
        "key": ["s", "a", "n"],
        "notebook": nbformat.writes(nb),
        "cell_timeout": 20,
        "notebook_timeout": 120,
        "memory_mb": 2048,
        "sandbox": sandbox.BUBBLEWRAP,
        "fork": fork,
        **extra,
    }
    result = sandbox.execute_notebook(task)
    result["nb"] = nbformat.reads(result["notebook"], as_version=4)
    return result


def _printed(result, index=-1):
    outs = [c for c in result["nb"].cells if c.cell_type == "code"][index].outputs
    return "".join(o.get("text", "") for o in outs if o.get("output_type") == "stream")


# -- the sandbox -----------------------------------------------------------------------


@needs_fork
def test_a_forked_kernel_is_sandboxed_as_a_cold_one():
    import course

    probe = PROBE.replace("@@ROOT@@", os.path.dirname(course.__file__))
    facts = {}
    for fork in (True, False):
        result = _execute(_notebook(probe), fork=fork)
        assert result["status"] == "ok", result["reason"]
        assert result["kernel_start"].startswith(forked.FORKED if fork else forked.COLD)
        facts[fork] = json.loads(_printed(result))
    assert facts[True] == facts[False]
    f = facts[True]
    assert (f["uid"], f["gid"], f["groups"]) == (65534, 65534, [])
    assert int(f["CapEff"], 16) == int(f["CapPrm"], 16) == int(f["CapBnd"], 16) == 0
    assert f["NoNewPrivs"] == "1" and f["hostname"] == "grader"
    assert f["pids"] == [1, 2]  # its own pid namespace: an init and the kernel
    assert not f["network"] and not f["new user namespace"] and not f["course"]
    assert not any(k.startswith("writable") for k in f)
    assert f["home MB"] == sandbox.HOME_MB and f["tmp MB"] == sandbox.TMP_MB
    assert f["rlimits"]["RLIMIT_AS"] == [2048 * 2**20] * 2 and f["rlimits"]["RLIMIT_CORE"] == [0, 0]
    assert f["course stubs"] == "backprop_agent.stubs"
    assert f["keyctl"] == f["inotify"] == [-1, 1]  # EPERM: the seccomp filter


REDIRECT = r"""
import json, os, zmq, gc
info = json.load(open("/run/grader/kernel.json"))
bound = {s.get(zmq.LAST_ENDPOINT).decode(): s for s in gc.get_objects()
         if isinstance(s, zmq.Socket) and not s.closed and s.get(zmq.LAST_ENDPOINT)}
for name in ("control_port", "hb_port"):
    path = f"/run/grader/k-{info[name]}"
    os.unlink(path)
    os.symlink("@@HOST@@", path)
    bound["ipc://" + path].unbind("ipc://" + path)
print("redirected")
"""


@pytest.mark.parametrize("fork", [True, False], ids=["forked", "cold"])
def test_a_kernel_cannot_point_the_grader_at_a_host_socket(fork, tmp_path):
    """A cell that replaces its kernel's sockets by symlinks to a host socket: the
    grader, connected to the sockets themselves, never reconnects there."""
    if (fork and forked.problem()) or sandbox.probe():
        pytest.fail(forked.problem() or sandbox.probe())
    host = str(tmp_path / "host.sock")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(host)
    listener.listen(64)
    listener.settimeout(0)
    nb = _notebook(REDIRECT.replace("@@HOST@@", host), "import time; time.sleep(1)", "1 + 1")
    _execute(nb, fork=fork)
    with pytest.raises(BlockingIOError):
        listener.accept()  # nobody connected
    listener.close()


@needs_fork
def test_a_kernel_cannot_reach_its_template():
    code = r"""
import os, socket
found = []
for p in ("/run/template", "/proc/1/root/run/template"):
    try:
        found += [p + "/" + n for n in os.listdir(p)]
    except OSError:
        pass
s = socket.socket(socket.AF_UNIX)
try:
    s.connect("/run/template/control.sock")
    found.append("connected")
except OSError:
    pass
print(found, [open(f"/proc/{p}/cmdline").read() for p in os.listdir("/proc") if p.isdigit()])
"""
    result = _execute(_notebook(code))
    found, _, cmdlines = _printed(result).partition("] ")
    # nothing of the template's view on the command line the kernel inherits
    assert found == "[" and "backprop-template-" not in cmdlines and "binds" not in cmdlines


# -- no trace from one submission to the next -------------------------------------------

PLANT = r"""
import os, socket, subprocess, sys, builtins, json
import numpy as np
for d in (os.environ["HOME"], "/tmp", "/dev/shm", os.getcwd()):
    open(os.path.join(d, "TRACE"), "w").write("planted")
subprocess.Popen(["sleep", "600"], start_new_session=True)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        import time
        time.sleep(600)
    os._exit(0)
np.dot = lambda *a, **k: 42
np.TRACE = 1
json.TRACE = 1
sys.modules["TRACE"] = json
builtins.TRACE = 1
os.environ["TRACE"] = "1"
listener = socket.socket(socket.AF_UNIX)
listener.bind("\0TRACE")
listener.listen(1)
from multiprocessing import shared_memory
keep = shared_memory.SharedMemory(name="TRACE-shm", create=True, size=4096)
hog = bytearray(200 * 2**20)
np.random.seed(7)
print("planted")
"""

LOOK = r"""
import os, socket, sys, builtins, json, random
import numpy as np
traces = []
for d in (os.environ["HOME"], "/tmp", "/dev/shm", os.getcwd()):
    for name in ("TRACE", "TRACE-shm"):
        if os.path.exists(os.path.join(d, name)):
            traces.append("file in " + d + "/" + name)
others = [p for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, os.getpid())]
others = [p for p in others if os.path.exists(f"/proc/{p}/cmdline")
          and open(f"/proc/{p}/cmdline").read()]
if others:
    traces.append("processes " + " ".join(open(f"/proc/{p}/cmdline").read() for p in others))
if np.dot(np.ones(2), np.ones(2)) != 2.0 or hasattr(np, "TRACE"):
    traces.append("numpy changed")
if hasattr(json, "TRACE") or "TRACE" in sys.modules or hasattr(builtins, "TRACE"):
    traces.append("modules changed")
if "TRACE" in os.environ:
    traces.append("environment")
s = socket.socket(socket.AF_UNIX)
try:
    s.connect("\0TRACE")
    traces.append("abstract socket")
except OSError:
    pass
print(json.dumps({"traces": traces, "random": [random.random(), float(np.random.random())]}))
"""


def _look(result):
    return json.loads(_printed(result).strip().splitlines()[-1])


@needs_fork
def test_the_look_finds_every_trace_in_the_same_kernel():
    """The control: in the kernel that planted them, the look finds every trace."""
    found = _look(_execute(_notebook(PLANT, LOOK)))["traces"]
    kinds = {t.split()[0] for t in found}
    assert kinds >= {"file", "processes", "numpy", "modules", "environment", "abstract"}, found


@needs_fork
def test_no_trace_from_one_submission_to_the_next_either_way():
    plant, look = _notebook(PLANT), _notebook(LOOK)
    order = [look, plant, look, plant, look]
    results = [_execute(nb) for nb in order]
    assert all(r["status"] == "ok" for r in results), [r["reason"] for r in results]
    assert len({r["template"] for r in results}) == 1  # one template served them all
    looks = [_look(r) for r, nb in zip(results, order, strict=True) if nb is look]
    assert [lk["traces"] for lk in looks] == [[], [], []]
    # every kernel has fresh random generators, as a new process does
    assert len({tuple(lk["random"]) for lk in looks}) == 3


@needs_fork
def test_no_trace_under_grade_jobs_1(tmp_path):
    """The same through `backprop-grade grade --jobs 1`: one worker, one template."""
    root = tmp_path / "course"
    fixture.make_course(root)
    course = Course.load(root)
    grade.generate_release(course, fixture.ASSIGNMENT)
    release = nbformat.read(course.release / fixture.ASSIGNMENT / "fixture.ipynb", 4)
    for student, code in (("a-look", LOOK), ("b-plant", PLANT), ("c-look", LOOK)):
        nb = nbformat.from_dict(release)
        answer = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution"))
        answer.source = code
        folder = course.submitted / student / fixture.ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / "fixture.ipynb")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(["--root", str(root), "grade", fixture.ASSIGNMENT, "--jobs", "1"]) == 0
    assert "kernels: forked from a warm template (3 notebooks)" in out.getvalue()
    records = [grade.load_record(course, fixture.ASSIGNMENT, s) for s in ("a-look", "c-look")]
    assert len({nb["worker"] for r in records for nb in r.notebooks.values()}) == 1
    for student in ("a-look", "c-look"):
        done = nbformat.read(course.autograded / student / fixture.ASSIGNMENT / "fixture.ipynb", 4)
        answer = next(c for c in done.cells if "traces" in c.source and c.outputs)
        text = "".join(o.get("text", "") for o in answer.outputs)
        assert json.loads(text.strip().splitlines()[-1])["traces"] == [], (student, text)


# -- the template's life ------------------------------------------------------------------


@needs_fork
def test_the_template_is_replaced_when_it_dies_or_its_code_changes():
    nb = _notebook("print(6 * 7)")
    first = _execute(nb)
    assert first["status"] == "ok" and first["kernel_start"] == forked.FORKED
    os.kill(first["template"], 9)
    time.sleep(0.2)
    second = _execute(nb)
    assert second["status"] == "ok" and second["template"] != first["template"]
    import backprop_agent.wire

    path = backprop_agent.wire.__file__
    st = os.stat(path)
    try:
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
        third = _execute(nb)
    finally:
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert third["status"] == "ok" and third["template"] != second["template"]
    with pytest.raises(ProcessLookupError):  # the replaced one is gone
        for _ in range(50):
            os.kill(second["template"], 0)
            time.sleep(0.05)
    assert _printed(third).strip() == "42"


def test_without_forking_a_kernel_starts_cold_and_the_summary_says_why(monkeypatch):
    monkeypatch.setattr(forked, "problem", lambda: "no user namespaces here")
    result = _execute(_notebook("print(6 * 7)"))
    assert result["status"] == "ok" and _printed(result).strip() == "42"
    assert result["kernel_start"] == f"{forked.COLD} (no user namespaces here)"
    res = grade.SubmissionResult("s1", "a", score=1, max_score=1)
    res.notebooks["n"] = {"seconds": 1.0, "kernel_start": result["kernel_start"]}
    out = io.StringIO()
    grade.print_summary([res], out)
    assert "kernels: cold start (no user namespaces here) (1 notebook)" in out.getvalue()


# -- a cell that kills its kernel -----------------------------------------------------------

CRASHING = [
    "x = 1",
    "import os\nos._exit(3)\nlost = 1",
    "y = x + 1",
    ("test_y", "assert y == 2", 1),
    ("test_lost", "assert lost == 1", 2),
    "import ctypes\nlost_too = 2\nctypes.string_at(0)",
    "def stops():\n    import os\n    os._exit(0)",
    ("test_stops", "stops()", 1),
    ("test_after", "assert x == 1 and y == 2", 1),
]


@pytest.mark.parametrize("fork", [True, False], ids=["forked", "cold"])
def test_a_cell_that_kills_the_kernel_costs_only_itself(fork):
    if sandbox.probe() is not None or (fork and forked.problem() is not None):
        pytest.skip("no sandbox here")
    result = _execute(_notebook(*CRASHING), fork=fork)
    assert result["status"] == "ok", result["reason"]
    cells = result["nb"].cells
    by_id = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in cells}

    def errors(cell):
        return [o for o in cell.outputs if o.get("output_type") == "error"]

    assert not errors(by_id["test_y"]) and not errors(by_id["test_after"])  # graded after
    assert errors(by_id["test_lost"])[0]["ename"] == "NameError"
    causes = [c["cause"] for c in result["crashes"]]
    assert len(causes) == 3
    assert "status 3" in causes[0] and "segmentation fault" in causes[1]
    assert result["crashes"][2]["test"] is True  # the test that ran stops()
    exit_cell = next(c for c in cells if "os._exit(3)" in c.source)
    (note,) = errors(exit_cell)
    assert note["ename"] == crashes.ENAME and "This cell stopped the kernel" in note["evalue"]
    assert "It cost: test_lost (2 points, needs lost)" in note["evalue"]
    assert "stopped while this test ran" in errors(by_id["test_stops"])[-1]["evalue"]


def _open_descriptors():
    """{fd: what it is} of this process, as /proc/self/fd says."""
    out = {}
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            out[fd] = os.readlink(f"/proc/self/fd/{fd}")
    return out


@pytest.mark.parametrize("fork", [True, False], ids=["forked", "cold"])
def test_a_job_closes_every_descriptor_its_kernels_were_reached_by(fork, monkeypatch):
    """The pinned sockets and the job folder's descriptor (the kernel's ZMQ address,
    ``/proc/self/fd/<n>/k-<port>``) are closed when the job ends, kernels restarted after
    a crash included, and not before: jupyter_client's cleanup removes the address's files
    after the provisioner's, and a number closed by then could be another job's folder."""
    if sandbox.probe() is not None or (fork and forked.problem() is not None):
        pytest.skip("no sandbox here")
    _execute(_notebook("x = 1"), fork=fork)  # the template and the loop's own, once
    removed, real_remove = [], os.remove

    def remove(path, *args, **kwargs):
        path = os.fspath(path)
        if path.startswith("/proc/self/fd/"):
            folder = "/proc/self/fd/" + path.split("/")[4]
            try:
                removed.append((path, os.readlink(folder)))
            except OSError as exc:
                removed.append((path, f"closed: {exc}"))
        return real_remove(path, *args, **kwargs)

    monkeypatch.setattr(os, "remove", remove)
    before = _open_descriptors()
    result = _execute(_notebook(*CRASHING), fork=fork)
    assert removed  # the cleanup did go through the address
    assert all(where.endswith("/private/k") for _, where in removed), removed
    assert len(result["crashes"]) == 3  # three kernels, each pinned
    after = _open_descriptors()
    new = {fd: what for fd, what in after.items() if before.get(fd) != what}
    assert not [w for w in new.values() if "/job-" in w], new
    sockets = [w for w in after.values() if w.startswith("socket:")]
    assert len(sockets) <= len([w for w in before.values() if w.startswith("socket:")]), new


@needs_fork
def test_a_notebook_that_kills_every_kernel_is_stopped():
    nb = _notebook(*["import os\nos._exit(1)"] * (crashes.MAX_RESTARTS + 4), "print('never')")
    result = _execute(nb)
    assert result["status"] == "kernel died"
    assert f"ended its kernel {crashes.MAX_RESTARTS + 1} times" in result["reason"]
    assert "never" not in _printed(result)


def test_the_causes_name_what_ended_the_kernel():
    assert crashes.cause(139) == "it was killed by a segmentation fault (signal 11)"
    assert crashes.cause(-6) == "it was killed by an abort (signal 6)"
    assert "status 2" in crashes.cause(2)
    assert "memory limit (512 MB)" in crashes.cause(137, 512, oom=True)
    assert "perhaps over the memory limit of 512 MB" in crashes.cause(137, 512)


# -- scale-out: a dask scheduler and two worker processes over TCP --------------------------


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def dask_cluster(tmp_path):
    """`dask scheduler` and two `dask worker` processes on 127.0.0.1, over TCP."""
    pytest.importorskip("distributed")
    dask = os.path.join(os.path.dirname(sys.executable), "dask")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen(
            [dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    for i in range(2):
        procs.append(
            subprocess.Popen(
                [
                    dask,
                    "worker",
                    address,
                    "--nthreads",
                    "1",
                    "--no-dashboard",
                    "--no-nanny",
                    "--local-directory",
                    str(tmp_path / f"w{i}"),
                ],  # fmt: skip
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    from distributed import Client

    try:
        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:  # no worker outlives the test
                p.kill()
                p.wait()


@needs_fork
def test_two_dask_workers_over_tcp_fork_their_kernels_and_agree_with_the_pool(
    tmp_path, dask_cluster
):
    root = tmp_path / "course"
    fixture.make_course(root)
    course = Course.load(root)
    A = fixture.ASSIGNMENT
    grade.generate_release(course, A)
    release = nbformat.read(course.release / A / "fixture.ipynb", 4)
    source = nbformat.read(course.source / A / "fixture.ipynb", 4)
    from classroom import samples

    for i in range(6):
        nb = samples.filled(release, source) if i % 2 == 0 else nbformat.from_dict(release)
        folder = course.submitted / f"s{i}" / A
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / "fixture.ipynb")
    devnull = open(os.devnull, "w")  # noqa: SIM115
    local = {r.student: r.score for r in grade.grade(course, A, jobs=2, out=devnull)}
    res = grade.grade(course, A, force=True, scheduler=dask_cluster, out=devnull)
    assert (
        {r.student: r.score for r in res}
        == local
        == {f"s{i}": 3.0 * (i % 2 == 0) for i in range(6)}
    )
    nbs = [nb for r in res for nb in r.notebooks.values()]
    workers = {nb["worker"] for nb in nbs}
    assert f"{os.uname().nodename}:{os.getpid()}" not in workers and len(workers) == 2
    assert {nb["kernel_start"] for nb in nbs} == {forked.FORKED}


def test_a_notebook_graded_from_a_running_event_loop(tmp_path):
    """formgrader's Autograde grades in the Jupyter server's thread, whose event loop is
    running: the job runs on a loop of its own and leaves the server's alone."""
    import asyncio

    async def server():
        loop = asyncio.get_running_loop()
        ticks = []
        loop.call_soon(ticks.append, 1)
        result = _execute(_notebook("x = 1 + 1", ("test_x", "assert x == 2", 1)))
        await asyncio.sleep(0)
        return result, ticks, loop.is_closed()

    result, ticks, closed = asyncio.run(server())
    assert result["status"] == "ok", result["reason"]
    assert not closed and ticks == [1]
    assert "error" not in [o.get("output_type") for c in result["nb"].cells for o in c.outputs]


# -- output the grader reads slower than the kernel prints --------------------------------


@pytest.mark.parametrize("fork", [True, False], ids=["forked", "cold"])
def test_a_notebook_that_prints_fast_keeps_every_line_and_runs_on(fork):
    """5,000 lines printed as fast as a loop can: ZMQ's PUB dropped what its high-water
    mark could not hold (hundreds of lines, at times the cell's "idle", and nbgrader then
    aborted the notebook).  Every line arrives, in order, and the next cell runs."""
    loop = "for i in range(5000):\n    print(i, flush=True)"
    result = _execute(_notebook(loop, "print('after')"), fork=fork)
    assert result["status"] == "ok", result["reason"]
    assert _printed(result, 0).split() == [str(i) for i in range(5000)]
    assert _printed(result, 1) == "after\n"


def test_a_cell_whose_idle_is_lost_does_not_stop_the_notebook():
    """A finished cell whose IOPub "idle" never arrives (here its kernel stops IOPub):
    nbgrader would abort the notebook after 4 s as a cell timeout; the later cells and
    the grader's tests run on.  (A cell that outlives its time limit still stops it:
    test_autograder_pipeline's loop that ignores KeyboardInterrupt.)"""
    nb = _notebook(
        "x = 1", "get_ipython().kernel.iopub_thread.stop()", "y = 2", ("t", "assert y == 2", 1)
    )
    result = _execute(nb)
    assert result["status"] == "ok", result["reason"]
    errors = [o for c in result["nb"].cells for o in c.get("outputs", []) if "ename" in o]
    assert errors == []


def test_one_oversized_print_costs_only_its_own_output():
    """A print of 20 MB (over the grader's MAX_MESSAGE, where ZMQ ends the IOPub
    connection for good): the kernel sends a note instead, and later output arrives."""
    from backprop_agent import agent

    assert agent.MESSAGE_LIMIT < sandbox.MAX_MESSAGE
    nb = _notebook("print('x' * (20 * 2**20))", "print('after')")
    result = _execute(nb)
    assert result["status"] == "ok", result["reason"]
    assert "cut by the kernel" in _printed(result, 0)
    assert _printed(result, 1) == "after\n"


FLOOD = """
import json, sys
from autograder import sandbox
sys.path.insert(0, {tests!r})
from test_forked import _execute, _notebook, _printed
flood = "from IPython.display import display\\nblob = 'x' * (50 * 2**20)\\n"
flood += "for i in range(60):\\n    display({{'text/plain': blob}}, raw=True)"
result = _execute(_notebook(flood, "print('after')"), fork=True, cell_timeout=60)
print(json.dumps([result["status"], result["worker_peak_mb"]]))
"""


@pytest.mark.slow
def test_a_flood_of_large_outputs_is_bounded_in_an_uncapped_grader():
    """60 messages of 50 MB from the kernel, graded by a process without the workers'
    RLIMIT_AS (as `nbgrader autograde` and formgrader run it): the grader holds at most
    RECEIVE_QUEUE messages of MAX_MESSAGE bytes, not the flood (1.4 GB before)."""
    out = subprocess.run(
        [sys.executable, "-c", FLOOD.format(tests=str(REPO / "tests"))],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    status, peak_mb = json.loads(out.stdout.strip().splitlines()[-1])
    bound = sandbox.RECEIVE_QUEUE * sandbox.MAX_MESSAGE / 2**20
    assert peak_mb < 200 + bound, (peak_mb, bound)
    assert status == "ok"  # not a cell timeout: the flood is dropped, not waited for


@needs_fork
def test_a_message_over_the_limit_ends_the_kernel_not_the_grading_run():
    """A kernel message over MAX_MESSAGE ends ZMQ's connection for good (libzmq does not
    reconnect after that protocol error).  One oversized execute_reply (here IPython's
    public set_next_input payload, past the kernel's own cap) left the shell socket without a peer, and the next
    cell's execute_request, a blocking send in the job's event loop, waited forever:
    past the notebook's time limit, the worker and the grading run hung.  Now that
    kernel counts as one that stopped answering: a fresh one grades the rest."""
    import threading

    # the kernel's own cap (backprop_agent.agent._capped) undone first, as a hostile
    # kernel can: only the grader's side is to be relied on
    big = (
        "from jupyter_client.session import Session\n"
        "session = get_ipython().kernel.session\n"
        "session.serialize = Session.serialize.__get__(session)\n"
        f"get_ipython().set_next_input('x' * {sandbox.MAX_MESSAGE + 2**20})"
    )
    nb = _notebook(big, "print('after')", ("t", "print('graded')", 1))
    box = {}

    def job():
        box["result"] = _execute(nb, cell_timeout=5, notebook_timeout=30)

    thread = threading.Thread(target=job, daemon=True)
    thread.start()
    thread.join(120)
    assert not thread.is_alive(), "the grading job hung past its notebook time limit"
    result = box["result"]
    assert result["status"] != "notebook timeout", result["reason"]
    assert [c["cause"] for c in result["crashes"]] == ["it stopped answering the grader"]
    assert _printed(result, 2) == "graded\n"
