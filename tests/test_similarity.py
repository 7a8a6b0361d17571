"""The similarity report (autograder/similarity.py): copies rank first however they are
disguised, what every student shares (the release, the solution) makes nobody alike, a
hostile submission is compared and shown escaped, the CLI writes the CSV and the report
shows the section.

A small course is written by hand (no nbgrader run): a source notebook with three answer
functions, its release (the answers replaced by the stub), and students' submissions.
"""

import copy
import csv
import random
import re

import pytest

from autograder import report, similarity
from autograder.cli import main
from autograder.course_config import Course
from classroom import fixture
from classroom import nbbuild as nbb
from classroom.samples import reformatted, renamed

A, NB = "01-sim", "sim"
STUB = "    # YOUR CODE HERE\n    raise NotImplementedError()"
SKELETONS = {
    "softmax": 'def softmax(z):\n    """ŷ = e^z / Σ e^z for each column of z."""\n',
    "layer-backward": (
        'def layer_backward(dJ_da, cache):\n    """(da_prev, dW, db) of a = σ(W a_prev + b)."""\n'
    ),
    "norms": 'def grad_norms(grads):\n    """‖∂J/∂W^m‖ for every m, in order."""\n',
}
SOLUTION = {
    "softmax": "    e = np.exp(z - z.max(axis=0, keepdims=True))\n"
    "    return e / e.sum(axis=0, keepdims=True)",
    "layer-backward": "    a_prev, W, b, z, a = cache\n"
    "    delta = dJ_da * a * (1.0 - a)\n"
    "    dW = delta @ a_prev.T\n"
    "    db = delta.sum(axis=1, keepdims=True)\n"
    "    return W.T @ delta, dW, db",
    "norms": "    M = len(grads) // 2\n"
    '    return [float(np.linalg.norm(grads[f"W{m}"])) for m in range(1, M + 1)]',
}
#: Five honest students, each in their own words (all correct).
HONEST = {
    "ana": {
        "softmax": "    shifted = z - np.max(z, axis=0)\n    ex = np.exp(shifted)\n"
        "    total = np.sum(ex, axis=0)\n    return ex / total",
        "layer-backward": "    x, weights, bias, pre, out = cache\n"
        "    local = out * (1 - out)\n    d = dJ_da * local\n"
        "    return weights.T.dot(d), d.dot(x.T), np.sum(d, axis=1).reshape(-1, 1)",
        "norms": "    result = []\n    m = 1\n    while f'W{m}' in grads:\n"
        "        result.append(np.sqrt(np.sum(grads[f'W{m}'] ** 2)))\n        m += 1\n"
        "    return result",
    },
    "ben": {
        "softmax": "    out = np.empty_like(z)\n    for j in range(z.shape[1]):\n"
        "        col = np.exp(z[:, j] - z[:, j].max())\n        out[:, j] = col / col.sum()\n"
        "    return out",
        "layer-backward": "    a_prev, W, _, _, a = cache\n    s_prime = a - a**2\n"
        "    delta = np.multiply(dJ_da, s_prime)\n    db = np.sum(delta, axis=1, keepdims=True)\n"
        "    return np.dot(W.T, delta), np.dot(delta, a_prev.T), db",
        "norms": "    names = sorted((k for k in grads if k.startswith('W')), key=lambda k: int(k[1:]))\n"
        "    return [np.linalg.norm(grads[k]) for k in names]",
    },
    "cem": {
        "softmax": "    z = z - z.max(0)\n    return np.exp(z) / np.exp(z).sum(0)",
        "layer-backward": "    inputs, W, b, z, act = cache\n"
        "    grad_z = dJ_da * act * (1 - act)\n    grad_W = np.matmul(grad_z, inputs.T)\n"
        "    grad_b = grad_z.sum(1)[:, None]\n    grad_in = np.matmul(W.T, grad_z)\n"
        "    return grad_in, grad_W, grad_b",
        "norms": "    n = {}\n    for key, g in grads.items():\n        if key[0] == 'W':\n"
        "            n[int(key[1:])] = float(np.sqrt((g * g).sum()))\n"
        "    return [n[m] for m in sorted(n)]",
    },
    "dia": {
        "softmax": "    m = np.amax(z, axis=0, keepdims=True)\n    p = np.exp(z - m)\n"
        "    p /= p.sum(axis=0, keepdims=True)\n    return p",
        "layer-backward": "    A_prev, Wm, bm, Z, Am = cache\n    sig_p = Am * (1.0 - Am)\n"
        "    Dz = sig_p * dJ_da\n    dWm = Dz @ A_prev.transpose()\n"
        "    dbm = Dz.sum(axis=-1, keepdims=True)\n    dA = Wm.transpose() @ Dz\n"
        "    return dA, dWm, dbm",
        "norms": "    out = []\n    for m in range(1, len(grads) // 2 + 1):\n"
        "        w = grads['W' + str(m)]\n        out.append(float(np.sqrt(np.vdot(w, w))))\n"
        "    return out",
    },
    "eva": {
        "softmax": "    logits = z.copy()\n    logits -= logits.max(axis=0)\n"
        "    num = np.exp(logits)\n    den = num.sum(axis=0)\n    return num / den[None, :]",
        "layer-backward": "    (ap, w, _b, _z, y) = cache\n    dz = dJ_da * (y * (1 - y))\n"
        "    return (w.T @ dz, dz @ ap.T, dz.sum(axis=1, keepdims=True))",
        "norms": "    return [float(np.linalg.norm(grads['W%d' % m], 'fro'))\n"
        "            for m in range(1, 1 + len(grads) // 2)]",
    },
}


def _cells(bodies, marked=False):
    cells = [nbb.code("import numpy as np\nfrom course.activations import sigmoid", "setup")]
    for gid, skeleton in SKELETONS.items():
        body = bodies.get(gid)
        if body is None:
            body = STUB
        elif marked:
            body = f"    ### BEGIN SOLUTION\n{body}\n    ### END SOLUTION"
        cells.append(nbb.solution(skeleton + body, gid))
        cells.append(nbb.tests(f"# Does {gid} work?\nassert True", f"test-{gid}", 1))
    return cells


def _notebook(bodies, marked=False):
    return nbb.notebook(_cells(bodies, marked), title="Similarity")


@pytest.fixture
def course(tmp_path):
    root = fixture.make_course(tmp_path / "course", fixture=False)
    c = Course.load(root)
    for folder in (c.source / A, c.release / A):
        folder.mkdir(parents=True)
    nbb.write(_notebook(SOLUTION, marked=True), c.source / A / f"{NB}.ipynb")
    nbb.write(_notebook({}), c.release / A / f"{NB}.ipynb")
    return c


def submit(course, student, bodies=None, nb=None, raw=None):
    path = course.submitted / student / A / f"{NB}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    if raw is not None:
        path.write_bytes(raw)
    else:
        nbb.write(nb if nb is not None else _notebook(bodies), path)
    return path


def _disguised(bodies, change):
    out = {}
    for gid, body in bodies.items():
        changed = change(SKELETONS[gid] + body)
        out[gid] = changed[changed.index('"""', changed.index('"""') + 3) + 3 :].lstrip("\n")
    return out


def _honest_class(course):
    for s, bodies in HONEST.items():
        submit(course, s, bodies)
    submit(course, "fay", SOLUTION)  # wrote the solution
    submit(course, "gus", SOLUTION)  # so did gus, independently
    submit(course, "hal", {})  # the release as it was
    submit(course, "ivy", {"softmax": SOLUTION["softmax"]})  # half done


def _pairs(result):
    return {frozenset((p.student_a, p.student_b)): p for p in result.pairs}


def test_copies_rank_above_honest_students_however_disguised(course):
    _honest_class(course)
    submit(course, "zed-verbatim", HONEST["ana"])
    submit(course, "yan-renamed", _disguised(HONEST["ben"], renamed))
    submit(course, "xia-reformatted", _disguised(HONEST["cem"], reformatted))
    assert _disguised(HONEST["cem"], reformatted) != HONEST["cem"]
    assert "my_" in _disguised(HONEST["ben"], renamed)["layer-backward"]
    result = similarity.compare(course, A)
    copies = {
        frozenset(("ana", "zed-verbatim")),
        frozenset(("ben", "yan-renamed")),
        frozenset(("cem", "xia-reformatted")),
    }
    top = {frozenset((p.student_a, p.student_b)) for p in result.pairs[:3]}
    assert top == copies
    for pair in copies:
        p = _pairs(result)[pair]
        assert p.score > 0.9 and p.shared >= 10, p
        assert {k for k, _, _ in p.cells} == {f"{NB}/{g}" for g in SKELETONS}
    honest = [p for k, p in _pairs(result).items() if k not in copies]
    assert all(p.score < similarity.LOOK_ALIKE for p in honest), honest[:3]
    assert {frozenset((p.student_a, p.student_b)) for p in result.look_alike()} == copies


def test_the_release_and_the_solution_make_nobody_alike(course):
    _honest_class(course)
    result = similarity.compare(course, A)
    assert len(result.submissions) == 9
    # the two who wrote the solution, the blank and the half-done share only what
    # everyone is given or what is right
    for a, b in [("fay", "gus"), ("fay", "hal"), ("hal", "ivy"), ("gus", "ivy")]:
        assert frozenset((a, b)) not in _pairs(result)
    assert not result.remaining["fay"] and not result.remaining["hal"]
    assert result.remaining["ana"]  # honest own work is compared
    assert result.look_alike() == []


def test_the_answers_are_read_as_the_grader_reads_them(course):
    submit(course, "ana", HONEST["ana"])
    nb = _notebook(HONEST["ana"])
    for cell in nb.cells:
        cell.metadata = {}  # another tool stripped the metadata
    submit(course, "kim", nb=nb)
    result = similarity.compare(course, A)
    assert set(result.submissions["kim"].answers) == {f"{NB}/{g}" for g in SKELETONS}
    assert result.pairs[0].score == 1.0


def test_renaming_reformatting_and_comments_do_not_change_the_tokens():
    src = SKELETONS["layer-backward"] + HONEST["cem"]["layer-backward"]
    base = similarity.tokens(src)
    assert similarity.tokens(renamed(src)) == [(t, n) for t, n in base]
    assert [t for t, _ in similarity.tokens(reformatted(src))] == [t for t, _ in base]
    wrapped = src.replace(
        "np.matmul(grad_z, inputs.T)",
        "np.matmul(\n        grad_z,\n        inputs.T,\n    )  # wrapped",
    )
    assert [t for t, _ in similarity.tokens(wrapped)] == [t for t, _ in base]
    # attributes and what the release imports keep their names: np.exp is not np.tanh
    keep = frozenset({"np"})
    assert similarity.tokens("y = np.exp(z)", keep) != similarity.tokens("y = np.tanh(z)", keep)
    assert similarity.tokens("q = 5.0", keep) == similarity.tokens("r = 5.", keep)


def test_winnowing_finds_every_long_enough_shared_run():
    rng = random.Random(23)
    words = ["V", "=", "(", ")", "*", "+", "np", ".", "exp", ";", "1.0", "return"]
    t = similarity.K + similarity.WINDOW - 1
    for _ in range(200):
        run = [(rng.choice(words), 1) for _ in range(t)]
        left = [(rng.choice(words), 1) for _ in range(rng.randrange(30))] + run
        right = run + [(rng.choice(words), 1) for _ in range(rng.randrange(30))]
        assert set(similarity.fingerprints(left)) & set(similarity.fingerprints(right))
    assert similarity.winnow([5, 3, 3, 9, 1, 7], 3) == [2, 4]  # rightmost minimum, each once
    assert similarity.winnow([], 4) == [] and similarity.winnow([4, 2], 4) == [1]


def test_an_answer_that_copies_the_course_library_is_named(course, tmp_path):
    library = tmp_path / "lib" / "course"
    library.mkdir(parents=True)
    (library / "layers.py").write_text(
        "import numpy as np\n\n\ndef dense_backward(delta, cache):\n"
        '    """Reference."""\n    a_prev, W = cache\n'
        "    # np.add.reduce is what ndarray.sum calls\n"
        "    return W.T @ delta, delta @ a_prev.T, np.add.reduce(delta, axis=1, keepdims=True)\n",
        encoding="utf-8",
    )
    _honest_class(course)
    submit(
        course,
        "lou",
        {
            **HONEST["dia"],
            "layer-backward": "    a_prev, W, b, z, a = cache\n    delta = dJ_da * a * (1 - a)\n"
            "    return W.T @ delta, delta @ a_prev.T, np.add.reduce(delta, axis=1, keepdims=True)",
            "norms": "    from course.flow import gradient_flow\n    return gradient_flow(grads)",
        },
    )
    a = similarity.Assignment.load(course, A)
    subs = [a.submission(p.parent.name, p) for p in sorted(course.submitted.glob(f"*/{A}"))]
    result = similarity.compare_submissions(a, subs, library=library)
    named = {(c.student, c.cell, c.reference) for c in result.library}
    assert named == {
        ("lou", f"{NB}/layer-backward", "course.layers.dense_backward"),
        ("lou", f"{NB}/norms", "course.flow.gradient_flow"),
    }


HOSTILE_CODE = '    return "</pre><script>alert(1)</script>" + z  # <b onmouseover=x>'


def _hostile_class(course):
    submit(course, "ana", HONEST["ana"])
    submit(course, "ben", HONEST["ben"])
    huge = {"softmax": "    x = 1\n" * 30_000, "norms": HONEST["cem"]["norms"]}
    submit(course, "big", huge)
    junk = {"softmax": "    def broken(:\n\x00\x07\ufffd\udcff'''", "norms": "\x1b[31m" + "é" * 50}
    nb = _notebook({})
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") in junk:
            cell.source = junk[cell.metadata.nbgrader.grade_id].encode("utf-8", "replace").decode()
    submit(course, "odd", nb=nb)
    script = {**HONEST["eva"], "softmax": HOSTILE_CODE + "\n" + HONEST["dia"]["softmax"]}
    submit(course, "xss1", script)
    submit(course, "xss2", copy.deepcopy(script))
    submit(course, "bin", raw=b"\x89PNG\r\n\x1a\n\x00\x00" + bytes(range(256)))
    submit(course, "deep", raw=b'{"cells": ' + b"[" * 5000 + b"]" * 5000 + b"}")


def test_a_hostile_submission_is_compared_and_shown_escaped(course):
    _hostile_class(course)
    result = similarity.compare(course, A)
    assert set(result.submissions) == {"ana", "ben", "big", "odd", "xss1", "xss2", "bin", "deep"}
    assert result.submissions["bin"].notes and not result.submissions["bin"].answers
    assert result.submissions["deep"].notes
    assert any("characters" in n for n in result.submissions["big"].notes)
    assert result.submissions["odd"].prints  # tokens of code that does not parse
    assert {result.pairs[0].student_a, result.pairs[0].student_b} == {"xss1", "xss2"}
    view = report.similarity_section(course, A)
    shown = str(view["shown"][0]["cells"])
    html = "".join(str(c["left"]) + str(c["right"]) for s in view["shown"] for c in s["cells"])
    assert "<script" not in html and "onmouseover=" not in html.replace("onmouseover=x", "")
    assert "&lt;script&gt;" in html and "alert" in shown
    assert '<span class="hll">' in html  # the matching lines are marked
    big = report.highlighted(result.submissions["big"].answers[f"{NB}/softmax"])
    assert len(big) < 60_000 and "cut here" in big


def test_the_cli_writes_the_csv(course, tmp_path, capsys):
    _honest_class(course)
    submit(course, "zed-verbatim", HONEST["ana"])
    out = tmp_path / "pairs.csv"
    assert main(["--root", str(course.root), "similarity", A, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "1 pairs look alike" in printed and "ana and zed-verbatim" in printed
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert rows[0]["student_a"] == "ana" and rows[0]["student_b"] == "zed-verbatim"
    assert float(rows[0]["score"]) == 1.0 and f"{NB}/softmax (1.00)" in rows[0]["cells"]
    assert [float(r["score"]) for r in rows] == sorted(
        (float(r["score"]) for r in rows), reverse=True
    )
    assert main(["--root", str(course.root), "similarity", "no-such"]) == 2


@pytest.mark.slow  # nbgrader's gradebook and the report's figures: seconds
def test_the_report_shows_the_section(course, tmp_path):
    from nbgrader.api import Gradebook

    _hostile_class(course)
    submit(course, "zed-verbatim", HONEST["ana"])
    with Gradebook(course.db_url) as gb:
        gb.update_or_create_assignment(A)
        gb.add_notebook(NB, A)
        for s in sorted(p.parent.name for p in course.submitted.glob(f"*/{A}")):
            gb.add_student(s)
            gb.add_submission(A, s)
    path = report.write_report(course, A, tmp_path / "report.html")
    html = path.read_text(encoding="utf-8")
    first, rest = html.split('<h2 id="contents">', 1)
    summary = re.search(r'<p id="similar-summary">(.*?)</p>', first, re.S).group(1)
    assert "2 pairs of submissions look alike" in summary and "<details" not in first
    assert f'id="{A}-similar"' in rest and rest.count("<details") == 1
    side = rest.split(f'id="{A}-similar"', 1)[1]
    assert "ana and zed-verbatim" in side and 'class="side"' in side
    assert "<script" not in html and "&lt;script&gt;" in side


def test_on_the_demo_class_the_planted_copies_rank_first(tmp_path):
    """The class `make demo` grades (classroom.samples.generate, then add_copies), against
    the repository's release: in every assignment its three copies are the top pairs."""
    import shutil

    from autograder.workspace import assignments
    from classroom import samples
    from classroom.paths import REPO

    ids = assignments()
    root = fixture.make_course(tmp_path / "course", ids, fixture=False)
    for a in ids:
        shutil.copytree(REPO / "notebooks" / a, root / "notebooks" / a)
    c = Course.load(root)
    manifest = samples.generate(c, tmp_path / "class", ids, seed=0)
    copies = samples.add_copies(tmp_path / "class", manifest)
    for a in ids:
        for folder in (tmp_path / "class" / a).iterdir():  # collect's layout, without collect
            shutil.copytree(folder, c.submitted / folder.name / a)
        result = similarity.compare(c, a)
        planted = {frozenset(kv) for kv in copies[a].items()}
        assert len(planted) == 3, a
        top = {frozenset((p.student_a, p.student_b)) for p in result.pairs[:3]}
        assert top == planted, (a, result.pairs[:4])
        assert {frozenset((p.student_a, p.student_b)) for p in result.look_alike()} == planted
