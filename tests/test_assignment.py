"""Assignment metrics (jetviz.models.assignment) on constructed assignments whose numbers are known
exactly: a perfect one, one forced merge per event, one split per event; then Durham against the
history truth of real Pythia events."""
import awkward as ak
import numpy as np
import pytest

from jetviz.data.recipes import ee_jets
from jetviz.errors import SchemaError
from jetviz.models.assignment import (
    assignment_accuracy,
    assignment_metrics,
    jet_purity,
    match_colours,
    merged_and_split,
    shared_energy,
)

K = 6


def events(B: int = 20, per_parton: int = 5, seed: int = 0):
    """B events of K partons with ``per_parton`` particles each (random energies, shuffled), a
    few particles of no parton (truth −1) and padding; and a random colour permutation per event."""
    rng = np.random.default_rng(seed)
    n_real = K * per_parton + 3
    P = n_real + 4
    truth = np.full((B, P), -1)
    energy = np.zeros((B, P))
    mask = np.zeros((B, P), bool)
    for b in range(B):
        order = rng.permutation(n_real)
        labels = np.r_[np.repeat(np.arange(K), per_parton), [-1, -1, -1]]
        truth[b, :n_real] = labels[order]
        energy[b, :n_real] = rng.uniform(1, 20, n_real)
        mask[b, :n_real] = True
    colours = np.stack([rng.permutation(K) for _ in range(B)])
    return truth, energy, mask, colours, rng


def paint(truth, colours, rng, mask):
    """Predicted colours = the permuted truth; particles of no parton get any colour."""
    predicted = np.where(truth >= 0, np.take_along_axis(colours, np.maximum(truth, 0), 1), rng.integers(0, K, truth.shape))
    return np.where(mask, predicted, -1)


def parton_energy(truth, energy, mask, a):
    return (energy * mask * (truth == a)).sum(1)


def test_perfect_assignment():
    truth, energy, mask, colours, rng = events()
    predicted = paint(truth, colours, rng, mask)
    metrics = assignment_metrics(predicted, truth, energy, mask, K)
    assert metrics == {"accuracy": pytest.approx(1.0), "all_pure": 1.0, "merged_rate": 0.0, "split_rate": 0.0,
                       "merged_events": 0.0, "split_events": 0.0, "purity": pytest.approx(1.0)}
    shared, _ = shared_energy(predicted, truth, energy, mask, K)
    np.testing.assert_array_equal(match_colours(shared), colours)  # the permutation is found
    np.testing.assert_allclose(assignment_accuracy(predicted, truth, energy, mask, K), 1.0)


def test_one_forced_merge_per_event():
    """Parton 1 painted with parton 0's colour: partons 0 and 1 merged, colour of 1 empty."""
    truth, energy, mask, colours, rng = events(seed=1)
    painted = paint(truth, colours, rng, mask)
    predicted = np.where(truth == 1, colours[:, :1], painted)
    e0, e1 = parton_energy(truth, energy, mask, 0), parton_energy(truth, energy, mask, 1)
    total = sum(parton_energy(truth, energy, mask, a) for a in range(K))
    accuracy = assignment_accuracy(predicted, truth, energy, mask, K)
    np.testing.assert_allclose(accuracy, 1 - np.minimum(e0, e1) / total, rtol=1e-12)  # the smaller one is lost
    metrics = assignment_metrics(predicted, truth, energy, mask, K)
    assert metrics["merged_rate"] == pytest.approx(2 / K)
    assert metrics["merged_events"] == 1.0
    assert metrics["split_rate"] == 0.0 and metrics["split_events"] == 0.0
    assert metrics["all_pure"] == 0.0  # the merged colour is impure (and one colour is empty)
    shared, truth_energy = shared_energy(predicted, truth, energy, mask, K)
    merged, split = merged_and_split(shared, truth_energy)
    np.testing.assert_array_equal(merged, np.tile(np.arange(K) < 2, (len(truth), 1)))
    purity = jet_purity(shared)
    b = np.arange(len(truth))
    np.testing.assert_allclose(purity[b, colours[:, 0]], np.maximum(e0, e1) / (e0 + e1), rtol=1e-12)
    np.testing.assert_array_equal(purity[b, colours[:, 1]], 0.0)  # empty colour
    assert metrics["purity"] == pytest.approx((4 + (np.maximum(e0, e1) / (e0 + e1))).mean() / K)
    assert metrics["accuracy"] == pytest.approx(accuracy.mean())


def test_one_split_per_event():
    """Parton 0 spread 60 % / 40 % over its colour and parton 5's: split, not merged."""
    truth, energy, mask, colours, rng = events(seed=2)
    predicted = paint(truth, colours, rng, mask)
    for b in range(len(truth)):
        rows = np.flatnonzero(truth[b] == 0)
        energy[b, rows] = [3.0, 3.0, 2.0, 1.0, 1.0]  # 10 GeV: the last three (40 %) move
        predicted[b, rows[2:]] = colours[b, 5]
        energy[b, truth[b] == 5] = 1.0  # parton 5: 5 GeV; its colour then holds 5 + 4 GeV
    metrics = assignment_metrics(predicted, truth, energy, mask, K)
    assert metrics["split_rate"] == pytest.approx(1 / K) and metrics["split_events"] == 1.0
    assert metrics["merged_rate"] == 0.0 and metrics["merged_events"] == 0.0
    assert metrics["all_pure"] == 0.0  # colour of parton 5 is 5/9 pure
    total = sum(parton_energy(truth, energy, mask, a) for a in range(K))
    np.testing.assert_allclose(assignment_accuracy(predicted, truth, energy, mask, K), 1 - 4.0 / total, rtol=1e-12)
    shared, truth_energy = shared_energy(predicted, truth, energy, mask, K)
    np.testing.assert_allclose(jet_purity(shared)[np.arange(len(truth)), colours[:, 5]], 5 / 9, rtol=1e-12)
    # a 50/50 split into a colour that also holds all of another parton reads as a merge too
    merged, split = merged_and_split(shared, truth_energy, merge_share=0.4)
    assert merged[:, 0].all() and merged[:, 5].all() and split[:, 0].all()


def test_pure_threshold_and_small_impurities():
    """One particle of 5 % of parton 0's energy moved to parton 1's colour: 90 % purity still holds."""
    truth, energy, mask, colours, rng = events(seed=3)
    predicted = paint(truth, colours, rng, mask)
    for b in range(len(truth)):
        rows = np.flatnonzero(truth[b] == 0)
        energy[b, rows] = [19.0, 1.0 / 4, 1.0 / 4, 1.0 / 4, 1.0 / 4]  # 20 GeV
        predicted[b, rows[0]] = colours[b, 0]
        predicted[b, rows[1:]] = colours[b, 0]
        predicted[b, rows[1]] = colours[b, 1]  # 1.25 % of parton 0 moves
    metrics = assignment_metrics(predicted, truth, energy, mask, K)
    assert metrics["all_pure"] == 1.0 and metrics["merged_rate"] == 0.0 and metrics["split_rate"] == 0.0
    assert assignment_metrics(predicted, truth, energy, mask, K, pure_threshold=1.0)["all_pure"] == 0.0


def test_particles_of_no_parton_are_ignored_and_unpredicted_ones_are_lost():
    truth, energy, mask, colours, rng = events(seed=4)
    predicted = paint(truth, colours, rng, mask)
    shuffled = np.where(truth < 0, rng.integers(0, K, truth.shape), predicted)  # recolour the truth −1 ones
    assert assignment_metrics(shuffled, truth, energy, mask, K) == assignment_metrics(predicted, truth, energy, mask, K)
    lost = predicted.copy()
    first = np.argmax(truth == 2, axis=1)  # one particle of parton 2 per event gets no prediction
    lost[np.arange(len(truth)), first] = -1
    total = sum(parton_energy(truth, energy, mask, a) for a in range(K))
    np.testing.assert_allclose(assignment_accuracy(lost, truth, energy, mask, K),
                               1 - energy[np.arange(len(truth)), first] / total, rtol=1e-12)


def test_accuracy_equals_a_brute_force_permutation_search():
    from itertools import permutations

    rng = np.random.default_rng(5)
    truth = rng.integers(-1, 4, (6, 30))
    predicted = rng.integers(0, 4, (6, 30))
    energy = rng.uniform(0.1, 5, (6, 30))
    mask = rng.random((6, 30)) < 0.9
    expected = []
    for b in range(6):
        keep = mask[b] & (truth[b] >= 0)
        best = max(sum(energy[b, keep & (truth[b] == a) & (predicted[b] == perm[a])].sum() for a in range(4))
                   for perm in permutations(range(4)))
        expected.append(best / energy[b, keep].sum())
    np.testing.assert_allclose(assignment_accuracy(predicted, truth, energy, mask, 4), expected, rtol=1e-12)


@pytest.mark.parametrize("bad", ["shape", "colour", "float", "energy"])
def test_bad_inputs_raise_schema_errors(bad):
    truth, energy, mask, colours, rng = events(B=3, seed=6)
    predicted = paint(truth, colours, rng, mask)
    if bad == "shape":
        predicted = predicted[:, :-1]
    elif bad == "colour":
        predicted[1, 0] = K
    elif bad == "float":
        predicted = predicted.astype(float)
    else:
        energy[0, 0] = np.nan
    with pytest.raises(SchemaError):
        assignment_metrics(predicted, truth, energy, mask, K)


def test_durham_against_the_history_truth_on_pythia_events():
    """Durham exclusive-6 is not the history truth: it merges and splits decay partons."""
    sample = ee_jets(80, seed=9)
    counts = ak.to_numpy(ak.num(sample.particles))
    width = counts.max()

    def padded(field, fill):
        return ak.to_numpy(ak.fill_none(ak.pad_none(sample.particles[field], width, axis=1), fill))

    truth, durham, energy = padded("parton", -1), padded("jet", -1), padded("E", 0.0)
    visible = ~np.isin(np.abs(padded("pid", 0)), (12, 14, 16)) & (np.arange(width) < counts[:, None])
    itself = assignment_metrics(truth, truth, energy, visible, K)
    assert itself["accuracy"] == pytest.approx(1.0) and itself["all_pure"] == 1.0 and itself["merged_rate"] == 0.0
    metrics = assignment_metrics(durham, truth, energy, visible, K)
    assert 0.6 < metrics["accuracy"] < 0.97
    assert metrics["merged_rate"] > 0.02 and metrics["all_pure"] < 0.8


@pytest.mark.parametrize("shares", [(0.0, 0.3), (1.2, 0.3), (0.5, 0.6)])
def test_bad_shares_raise_config_errors(shares):
    from jetviz.errors import ConfigError

    truth, energy, mask, colours, rng = events(B=2, seed=7)
    with pytest.raises(ConfigError):
        assignment_metrics(paint(truth, colours, rng, mask), truth, energy, mask, K, merge_share=shares[0],
                           split_share=shares[1])
