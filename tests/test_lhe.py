"""Les Houches Event Files: write/read round trip, error reporting, and Pythia showering our files."""
from __future__ import annotations

import gzip
import shutil

import awkward as ak
import numpy as np
import pytest
from datafiles import E_BEAM, z_events

from jetviz.data.formats.lhe import LHE_FIELDS, lhe_event_count, read_lhe, write_lhe
from jetviz.errors import DataFileError


def _as_awkward(events: list[dict]) -> ak.Array:
    counts = [len(e["pid"]) for e in events]
    flat = {f: np.concatenate([e[f] for e in events]) for f in LHE_FIELDS[:11]}
    return ak.unflatten(ak.zip(flat), counts)


def _assert_same(read: ak.Array, events: list[dict]) -> None:
    assert len(read) == len(events)
    for i, event in enumerate(events):
        for field in LHE_FIELDS[:11]:
            got = ak.to_numpy(read[i][field])
            if field in ("px", "py", "pz", "E", "m"):
                np.testing.assert_allclose(got, event[field], rtol=1e-15, atol=0, err_msg=f"event {i} {field}")
            else:
                np.testing.assert_array_equal(got, event[field], err_msg=f"event {i} {field}")
        np.testing.assert_array_equal(ak.to_numpy(read[i].spin), 9.0)
        np.testing.assert_array_equal(ak.to_numpy(read[i].lifetime), 0.0)


@pytest.mark.parametrize("form", ["dicts", "awkward"])
@pytest.mark.parametrize("n_events", [1, 7])
def test_round_trip(tmp_path, form, n_events):
    events = z_events(n_events, seed=n_events)
    path = tmp_path / "z.lhe"
    write_lhe(path, events if form == "dicts" else _as_awkward(events), beams=(11, -11, E_BEAM, E_BEAM))
    text = path.read_text()
    assert text.startswith('<LesHouchesEvents version="3.0">')
    assert text.rstrip().endswith("</LesHouchesEvents>")
    init = text.split("<init>")[1].split("</init>")[0].split()
    assert init[:4] == ["11", "-11", f"{E_BEAM:.10e}", f"{E_BEAM:.10e}"] and init[8:10] == ["3", "1"]
    assert lhe_event_count(path) == n_events
    read = read_lhe(path)
    assert set(ak.fields(read)) == set(LHE_FIELDS)
    _assert_same(read, events)
    # reading and writing again gives the same file content for the events
    write_lhe(tmp_path / "again.lhe", read, beams=(11, -11, E_BEAM, E_BEAM))
    assert (tmp_path / "again.lhe").read_text().split("</init>")[1] == text.split("</init>")[1]


def test_gzip_and_max_events(tmp_path):
    events = z_events(5)
    plain = write_lhe(tmp_path / "z.lhe", events)
    with open(plain, "rb") as src, gzip.open(tmp_path / "z.lhe.gz", "wb") as dst:
        shutil.copyfileobj(src, dst)
    _assert_same(read_lhe(tmp_path / "z.lhe.gz"), events)
    assert len(read_lhe(plain, max_events=2)) == 2


def test_refuses_to_overwrite_and_writes_atomically(tmp_path):
    path = tmp_path / "z.lhe"
    write_lhe(path, z_events(2))
    before = path.read_bytes()
    with pytest.raises(DataFileError, match="refusing to overwrite") as info:
        write_lhe(path, z_events(3))
    assert info.value.path == path and path.read_bytes() == before
    write_lhe(path, z_events(3), overwrite=True)
    assert len(read_lhe(path)) == 3
    # a malformed event writes nothing, and leaves no temporary file behind
    bad = z_events(2)
    bad[1]["px"] = bad[1]["px"].copy()
    bad[1]["px"][3] = np.nan
    with pytest.raises(ValueError, match="event 1"):
        write_lhe(tmp_path / "bad.lhe", bad)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["z.lhe"]


@pytest.mark.parametrize("missing", ["col", "mother1"])
def test_write_rejects_missing_fields(tmp_path, missing):
    event = z_events(1)[0]
    del event[missing]
    with pytest.raises(ValueError, match=missing):
        write_lhe(tmp_path / "x.lhe", [event])


@pytest.fixture()
def lhe_text(tmp_path):
    path = tmp_path / "z.lhe"
    write_lhe(path, z_events(4))
    return path, path.read_text()


@pytest.mark.parametrize("cut_in_event", [0, 2, 3])
@pytest.mark.parametrize("where", ["after header line", "mid particle line", "before </event>"])
def test_truncated_file_names_file_and_event(lhe_text, cut_in_event, where):
    path, text = lhe_text
    start = [i for i in range(len(text)) if text.startswith("<event>", i)][cut_in_event]
    block = text[start:text.index("</event>", start)]
    offset = {
        "after header line": block.index("\n", len("<event>\n")) + 1,
        "mid particle line": block.index("\n", len("<event>\n")) + 30,
        "before </event>": len(block),
    }[where]
    path.write_text(text[:start + offset])
    with pytest.raises(DataFileError, match="truncated|particle line") as info:
        read_lhe(path)
    assert info.value.path == path
    assert str(path) in str(info.value)
    assert f"event {cut_in_event}" in str(info.value)


def test_truncated_between_events(lhe_text):
    path, text = lhe_text
    path.write_text(text[: text.index("</event>") + len("</event>\n")])
    with pytest.raises(DataFileError, match=r"truncated: no </LesHouchesEvents> after 1 complete events"):
        read_lhe(path)


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda line: line.replace(line.split()[6], "abc", 1), "not numeric"),
        (lambda line: " ".join(line.split()[:10]), "12|entries, expected 13|10 entries"),
        (lambda line: line.replace(line.split()[4], "5.5", 1), "integers"),
    ],
    ids=["not-a-number", "too-few-entries", "non-integer-colour"],
)
def test_malformed_particle_line_names_event(lhe_text, damage, message):
    path, text = lhe_text
    lines = text.splitlines()
    event_starts = [i for i, line in enumerate(lines) if line == "<event>"]
    target = event_starts[2] + 2 + 3  # event 2, particle 4 (the quark)
    lines[target] = damage(lines[target])
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFileError, match=message) as info:
        read_lhe(path)
    assert "event 2" in str(info.value) and info.value.path == path


def test_wrong_particle_count_and_header(lhe_text):
    path, text = lhe_text
    path.write_text(text.replace("<event>\n5 1", "<event>\n6 1", 1))
    with pytest.raises(DataFileError, match="event 0.*NUP = 6"):
        read_lhe(path)
    path.write_text(text.replace("<event>\n5 1 ", "<event>\n5 ", 1))
    with pytest.raises(DataFileError, match="event 0.*header line has 5 entries"):
        read_lhe(path)


@pytest.mark.parametrize(
    "content, message",
    [(None, "no such LHE file"), ("hello\n", "not a Les Houches Event File"),
     ('<LesHouchesEvents version="3.0">\n<event>\n</event>\n</LesHouchesEvents>\n', "before <LesHouchesEvents> and <init>")],
    ids=["missing", "not-lhe", "no-init"],
)
def test_not_an_lhe_file(tmp_path, content, message):
    path = tmp_path / "x.lhe"
    if content is not None:
        path.write_text(content)
    with pytest.raises(DataFileError, match=message) as info:
        read_lhe(path)
    assert info.value.path == path
    assert "truncated or corrupted" not in str(info.value)  # reported once, not re-wrapped


def test_truncated_gzip(tmp_path):
    path = tmp_path / "z.lhe.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(("<LesHouchesEvents version=\"3.0\">\n<init>\n</init>\n" * 2000).encode())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFileError, match="truncated") as info:
        read_lhe(path)
    assert info.value.path == path


def test_empty_event_list_and_madgraph_header(tmp_path):
    path = tmp_path / "empty.lhe"
    path.write_text(
        '<LesHouchesEvents version="3.0">\n<header>\n<initrwgt>\n</initrwgt>\n</header>\n'
        "<init>\n2212 2212 7000 7000 0 0 0 0 3 1\n1 0 1 1\n</init>\n</LesHouchesEvents>\n"
    )
    events = read_lhe(path)
    assert len(events) == 0 and set(ak.fields(events)) == set(LHE_FIELDS)
    # <initrwgt> is not <init>: an event right after it is reported
    path.write_text('<LesHouchesEvents version="3.0">\n<header>\n<initrwgt>\n</initrwgt>\n</header>\n<event>\n')
    with pytest.raises(DataFileError, match="before <LesHouchesEvents> and <init>"):
        read_lhe(path)


def test_lhef3_extras_are_ignored(lhe_text):
    path, text = lhe_text
    extra = "<rwgt>\n<wgt id='1'> 0.5 </wgt>\n</rwgt>\n</event>"
    path.write_text(text.replace("</event>", extra, 1).replace("<init>", "<header>\n<!-- x -->\n</header>\n<init>", 1))
    _assert_same(read_lhe(path), z_events(4))


def test_pythia_showers_our_lhe_and_conserves_the_hard_four_momentum(tmp_path):
    """Pythia (via the ``lhe`` recipe) reads a file from write_lhe; e+e- → Z → qq̄ final states sum to the Z."""
    from jetviz.data.recipes import lhe_jets

    events = z_events(8, seed=3)
    path = write_lhe(tmp_path / "z.lhe", events, beams=(11, -11, E_BEAM, E_BEAM))
    showered = lhe_jets(8, seed=5, path=str(path), n_jets=2)
    assert len(showered) == 8
    total = np.stack([ak.to_numpy(ak.sum(showered.particles[c], axis=1)) for c in ("px", "py", "pz", "E")], axis=1)
    np.testing.assert_allclose(total, np.tile([0.0, 0.0, 0.0, 2 * E_BEAM], (8, 1)), atol=1e-6)
    # hadronised: many more particles than the two hard quarks, and charge conserved (e+e- → 0)
    assert np.all(ak.to_numpy(ak.num(showered.particles, axis=1)) > 5)
    np.testing.assert_allclose(ak.to_numpy(ak.sum(showered.particles.charge, axis=1)), 0.0, atol=1e-9)
