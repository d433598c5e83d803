import awkward as ak
import numpy as np
import pytest

from jetviz.data.schema import PARTICLE_FIELDS, flat_particles, make_events, validate_events
from jetviz.errors import SchemaError


def _flat(n):
    rng = np.random.default_rng(0)
    return dict(
        px=rng.normal(0, 10, n), py=rng.normal(0, 10, n), pz=rng.normal(0, 10, n),
        E=np.full(n, 50.0), charge=np.zeros(n), pid=np.full(n, 22),
    )


@pytest.mark.parametrize("counts", [[1], [3, 2, 5], [10] * 20])
def test_make_events_fields_and_counts(counts):
    flat = _flat(sum(counts))
    events = make_events(flat, counts, label=np.arange(len(counts)) % 2)
    assert len(events) == len(counts)
    assert set(PARTICLE_FIELDS) <= set(ak.fields(events.particles))
    assert ak.num(events.particles).to_list() == counts
    np.testing.assert_allclose(flat_particles(events)["px"], flat["px"])
    assert events.label.to_list() == (np.arange(len(counts)) % 2).tolist()
    assert np.all(flat_particles(events)["jet"] == -1)


def test_make_events_does_not_mutate_inputs():
    flat = _flat(6)
    before = {k: v.copy() for k, v in flat.items()}
    make_events(flat, [2, 4])
    for k in flat:
        np.testing.assert_array_equal(flat[k], before[k])


@pytest.mark.parametrize("field", ["px", "E"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_momenta_named(field, bad):
    flat = _flat(6)
    flat[field][4] = bad
    with pytest.raises(SchemaError, match=rf"myfile.h5: column 'particles.{field}', event 1: (NaN|inf)"):
        make_events(flat, [3, 3], source="myfile.h5")


def test_empty_event_rejected_unless_allowed():
    flat = _flat(3)
    with pytest.raises(SchemaError, match="event 1 has no particles"):
        make_events(flat, [3, 0])
    events = ak.Array({"particles": [[], []], "label": [0, 0]})
    with pytest.raises(SchemaError, match="lack the field"):
        validate_events(events)


def test_missing_fields_named():
    flat = _flat(3)
    del flat["pid"]
    with pytest.raises(SchemaError, match="pid"):
        make_events(flat, [3])


def test_wrong_lengths_named():
    flat = _flat(3)
    with pytest.raises(SchemaError, match="expected \\(4,\\)"):
        make_events(flat, [4])
