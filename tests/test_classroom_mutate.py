"""classroom.mutate: the kept mutation corpus, and that it still describes the checks.

``python -m classroom.mutate`` rebuilds ``classroom/mutants/corpus.json`` (a few minutes);
these tests read it and re-grade a sample, so a change to the checks that would lose a
mutant's points, or its name, shows here.
"""

import json
import random

import pytest

from classroom import mutate, runner
from course.checks import catalogue

CORPUS = [
    mutate.Mutant(**{**m, "failing": tuple(m["failing"])})
    for m in json.loads(mutate.CORPUS.read_text())
]
EQUIVALENT = json.loads(mutate.EQUIVALENT.read_text())


def test_every_non_equivalent_mutant_loses_points_and_most_are_named():
    live, killed, named = mutate.rates(CORPUS, EQUIVALENT)
    assert live > 400
    survivors = [m.key for m in CORPUS if m.key not in EQUIVALENT and not m.killed]
    assert killed == live, survivors
    assert named >= 0.8 * killed, f"{named}/{killed} named"


def test_every_mutant_told_its_bug_has_the_catalogue_id_of_that_bug():
    told = [m for m in CORPUS if m.named and m.diagnosis.startswith("Likely bug:")]
    assert len(told) > 150
    assert all(m.bug in catalogue.all_bugs() for m in told), [m.key for m in told if not m.bug]
    assert not [m.key for m in CORPUS if m.bug and not m.named]
    for m in told:  # the id names the bug the message names
        bug = catalogue.get(m.bug)
        assert bug.says.lower() in m.diagnosis.lower(), m.key
        assert mutate.bug_named(m.assignment, m.diagnosis) == m.bug, m.key


def test_a_diagnosis_is_mapped_to_its_catalogue_id():
    sign = catalogue.likely("04.update.sign")
    assert mutate.bug_named("04-backprop-recursion", sign) == "04.update.sign"
    entries = catalogue.likely("gradcheck.entries-scale", entries=[1], factor=8.0)
    assert entries.startswith("Likely bug: entries [1] are 8 times the right value")
    assert mutate.bug_named("02-sigmoid-network", entries) == "gradcheck.entries-scale"
    assert mutate.bug_named("05-training", "Likely bug: W1 was not updated at all.") == (
        "05.sgd.not-updated"
    )
    assert mutate.bug_named("01-chain-rule", "✗ forward raised IndexError") == ""
    decay = catalogue.likely("02.sgd.decay")  # an ellipsis of the text, not a field
    assert mutate.bug_named("02-sigmoid-network", decay) == "02.sgd.decay"


def test_a_sentence_cut_at_the_corpus_length_is_mapped_by_its_start():
    line = catalogue.likely("05.symmetry.random", value=0.5)  # a field, then 100 characters
    assert len(line) > 200 and line.index("0.5") < 150
    assert mutate.bug_named("05-training", line[:200]) == "05.symmetry.random"
    assert mutate.bug_named("05-training", line[:50] + "x" * 150) == ""


def test_equivalent_mutants_are_mutants_of_the_corpus_with_a_reason():
    keys = {m.key for m in CORPUS}
    for key, reason in EQUIVALENT.items():
        assert key in keys and len(reason) > 10


def test_the_corpus_is_what_the_solutions_give():
    assert {m.key for m, _ in mutate.corpus()} == {m.key for m in CORPUS}


@pytest.mark.parametrize("seed", range(3))
def test_a_sample_still_grades_as_recorded(seed):
    recorded = {m.key: m for m in CORPUS}
    sample = random.Random(seed).sample(
        [pair for pair in mutate.corpus() if pair[0].key not in EQUIVALENT], 6
    )
    nbs = {}
    for mutant, source in sample:
        nb = nbs.setdefault(mutant.assignment, runner.read(mutant.assignment))
        got = mutate.grade(mutant, source, nb)
        want = recorded[mutant.key]
        assert (got.killed, got.named, got.failing, got.bug) == (
            want.killed,
            want.named,
            want.failing,
            want.bug,
        ), got.key
