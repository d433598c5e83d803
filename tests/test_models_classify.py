"""Seed 003 groundwork: ResNet18 with circular φ padding, η-flip / φ-roll augmentation, XGBoost features."""
import awkward as ak
import numpy as np
import pytest
import torch

from jetviz.data.detector import simulate
from jetviz.data.pixelate import event_images
from jetviz.data.toy import bh_sph
from jetviz.errors import SchemaError
from jetviz.models.image_augment import augment_images, eta_flip, phi_roll
from jetviz.models.features import (
    HIGH_LEVEL_COLUMNS,
    LOW_LEVEL_COLUMNS,
    high_level_features,
    low_level_features,
    validate_features,
)
from jetviz.models.resnet import ResNet18, refresh_batchnorm


pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ----------------------------------------------------------------------------- ResNet18
@pytest.mark.parametrize("size", [(50, 50), (32, 48), (7, 9)])
@pytest.mark.parametrize("n_classes", [2, 5])
@pytest.mark.parametrize("circular", [True, False])
def test_resnet_output_shape(size, n_classes, circular):
    model = ResNet18(in_channels=3, n_classes=n_classes, circular_phi=circular, width=4)
    assert model(torch.randn(2, 3, *size)).shape == (2, n_classes)


def test_resnet18_has_the_resnet18_layout():
    model = ResNet18(width=64)
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert sum(m.kernel_size == (3, 3) for m in convs) == 17  # stem + 8 blocks × 2
    assert sum(m.kernel_size == (1, 1) for m in convs) == 3  # projection shortcuts
    assert all(getattr(m, "circular_phi", None) is True for m in convs)  # every conv is a PhiConv2d
    assert 11_000_000 < sum(p.numel() for p in model.parameters()) < 11_300_000  # ~11.2 M as ResNet18


def test_resnet_rejects_wrong_image_shape():
    model = ResNet18(width=4)
    with pytest.raises(SchemaError, match=r"\(B, 3, n_eta, n_phi\)"):
        model(torch.randn(2, 1, 50, 50))
    with pytest.raises(SchemaError, match="shape"):
        model(torch.randn(3, 50, 50))


@pytest.mark.parametrize("circular", [True, False])
def test_resnet_padding_wraps_phi_only_when_circular(circular):
    torch.manual_seed(0)
    model = ResNet18(width=4, circular_phi=circular).eval()
    image = (torch.rand(1, 3, 50, 50) + 0.1).requires_grad_(True)  # random, non-zero everywhere
    feature_map = model.stages[0](model.stem(image))  # stride 1: still 50 × 50, receptive radius 5
    feature_map[0, :, 25, 0].sum().backward()  # the column at φ = −π ...
    grad = image.grad[0, :, :, :]
    from_plus_pi = grad[:, :, -1].abs().sum().item()  # ... sees the column at φ ≈ +π
    assert (from_plus_pi > 0) == circular
    assert grad[:, :, 10:40].abs().sum().item() == 0.0  # far columns are never seen
    assert grad[:, 0:10, :].abs().sum().item() == 0.0  # η does not wrap: row 25 never sees row 0


def test_circular_resnet_stem_is_phi_roll_equivariant():
    torch.manual_seed(1)
    model = ResNet18(width=4, circular_phi=True).eval()
    x = torch.rand(2, 3, 50, 50)
    first = lambda t: model.stages[0](model.stem(t))  # noqa: E731
    with torch.no_grad():
        assert torch.allclose(first(torch.roll(x, 7, dims=-1)), torch.roll(first(x), 7, dims=-1), atol=1e-5)
        zero_padded = ResNet18(width=4, circular_phi=False).eval()
        zero_padded.load_state_dict(model.state_dict())
        other = lambda t: zero_padded.stages[0](zero_padded.stem(t))  # noqa: E731
        assert not torch.allclose(other(torch.roll(x, 7, dims=-1)), torch.roll(other(x), 7, dims=-1), atol=1e-5)


def _toy_images(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Separable toy: 6 random hits in the ECal (class 0) or in the HCal (class 1), random tracks."""
    labels = torch.randint(0, 2, (n,), generator=generator)
    images = torch.zeros(n, 3, 50, 50)
    rows = torch.randint(0, 50, (n, 6), generator=generator)
    cols = torch.randint(0, 50, (n, 6), generator=generator)
    energy = 10 + 40 * torch.rand(n, 6, generator=generator)
    for i in range(n):
        images[i, int(labels[i]), rows[i], cols[i]] = energy[i]
        images[i, 2, rows[i, :3], cols[i, :3]] = 0.5 * energy[i, :3]
    return images, labels


def test_short_training_beats_chance_on_separable_toy():
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    model = ResNet18(width=8)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    test_x, test_y = _toy_images(128, generator)
    model.train()
    seen = []
    for _ in range(30):
        x, y = _toy_images(16, generator)
        seen.append(torch.log1p(x))
        x = augment_images(x, generator)
        loss = torch.nn.functional.cross_entropy(model(torch.log1p(x)), y)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    refresh_batchnorm(model, seen[-8:])  # running BN statistics of the final weights
    assert not model.training
    assert all(m.momentum == 0.1 for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    with torch.no_grad():
        accuracy = (model(torch.log1p(test_x)).argmax(1) == test_y).float().mean().item()
    assert accuracy > 0.75  # chance is 0.5


# ----------------------------------------------------------------------------- augmentation
@pytest.mark.parametrize("transform", ["eta_flip", "phi_roll", "augment"])
def test_augmentations_preserve_energy_and_shape_and_do_not_mutate(transform):
    generator = torch.Generator().manual_seed(3)
    images = torch.rand(8, 3, 50, 50, generator=generator) * 100
    before = images.clone()
    fn = {"eta_flip": lambda t: eta_flip(t, generator, p=0.5), "phi_roll": lambda t: phi_roll(t, generator),
          "augment": lambda t: augment_images(t, generator)}[transform]
    out = fn(images)
    assert out.shape == images.shape and out.dtype == images.dtype
    assert torch.equal(images, before)  # input untouched
    assert out.data_ptr() != images.data_ptr()
    # a pure permutation of pixels inside each image and channel: same values, same sums
    assert torch.equal(out.flatten(2).sort(-1).values, images.flatten(2).sort(-1).values)
    assert torch.allclose(out.double().sum((1, 2, 3)), images.double().sum((1, 2, 3)), rtol=0, atol=1e-9)
    assert not torch.equal(out, images)  # something moved (8 images, p = 0.5 / 49 of 50 shifts)


def test_eta_flip_probability_extremes():
    images = torch.rand(4, 3, 6, 8)
    assert torch.equal(eta_flip(images, p=0.0), images)
    assert torch.equal(eta_flip(images, p=1.0), images.flip(-2))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        eta_flip(images, p=1.5)


def test_phi_roll_matches_torch_roll_per_image():
    images = torch.rand(3, 2, 4, 10)
    shifts = torch.tensor([0, 3, -12])
    out = phi_roll(images, shifts=shifts)
    for b in range(3):
        assert torch.equal(out[b], torch.roll(images[b], int(shifts[b]), dims=-1))
    with pytest.raises(SchemaError):
        phi_roll(images[0])


def test_pixel_symmetries_equal_physical_rotation_and_reflection():
    hits = simulate(bh_sph(3, seed=5), seed=5)
    images = torch.from_numpy(event_images(hits))
    k, dphi = 7, 2 * np.pi / 50

    def moved(part, deta_sign=1.0, phi_shift=0.0):
        return ak.with_field(ak.with_field(hits[part], hits[part].eta * deta_sign, "eta"), hits[part].phi + phi_shift, "phi")

    rotated = ak.zip({p: moved(p, phi_shift=k * dphi) for p in ("ecal", "hcal", "tracks")}, depth_limit=1)
    expected = torch.from_numpy(event_images(rotated))
    assert torch.equal(phi_roll(images, shifts=torch.full((3,), k)), expected)
    # cells sit at cell centres, so η → −η maps the grid onto itself (tracks can sit on an edge)
    reflected = ak.zip({p: moved(p, deta_sign=-1.0) for p in ("ecal", "hcal")}, depth_limit=1)
    flipped = eta_flip(images, p=1.0)
    reflected_images = torch.from_numpy(event_images(ak.with_field(reflected, hits.tracks, "tracks")))
    assert torch.allclose(flipped[:, :2], reflected_images[:, :2])


# ----------------------------------------------------------------------------- features
def _hand_hits():
    cell = lambda e, eta, phi: {"E": e, "pt": e / np.cosh(eta), "eta": eta, "phi": phi}  # noqa: E731
    track = lambda pt, eta, phi: {"E": pt * np.cosh(eta), "pt": pt, "eta": eta, "phi": phi}  # noqa: E731
    event0 = {
        "ecal": [cell(10.0, 0.05, 0.1), cell(50.0, -1.05, 3.0), cell(30.0, 0.55, -1.0)],
        "hcal": [cell(float(e), 0.1 * e, -0.2 * e) for e in (3, 1, 6, 2, 5, 4)],
        "tracks": [track(25.0, 0.3, -2.0), track(40.0, -0.7, 1.2)],
    }
    event1 = {"ecal": [], "hcal": [], "tracks": []}
    return ak.Array([event0, event1])


def test_low_level_features_of_a_hand_made_event():
    x = low_level_features(_hand_hits())
    assert x.shape == (2, 45) and len(LOW_LEVEL_COLUMNS) == 45
    row = dict(zip(LOW_LEVEL_COLUMNS, x[0]))
    assert [row[f"ecal_E_{k}"] for k in range(5)] == [50.0, 30.0, 10.0, 0.0, 0.0]
    assert [row[f"ecal_eta_{k}"] for k in range(3)] == [-1.05, 0.55, 0.05]
    assert [row[f"ecal_phi_{k}"] for k in range(3)] == [3.0, -1.0, 0.1]
    assert [row[f"hcal_E_{k}"] for k in range(5)] == [6.0, 5.0, 4.0, 3.0, 2.0]  # the 6th (E = 1) is dropped
    assert [row[f"hcal_eta_{k}"] for k in range(5)] == pytest.approx([0.6, 0.5, 0.4, 0.3, 0.2])
    assert [row[f"hcal_phi_{k}"] for k in range(5)] == pytest.approx([-1.2, -1.0, -0.8, -0.6, -0.4])
    assert [row[f"tracks_pt_{k}"] for k in range(5)] == [40.0, 25.0, 0.0, 0.0, 0.0]  # ordered by pT
    assert [row[f"tracks_eta_{k}"] for k in range(2)] == [-0.7, 0.3]
    assert [row[f"tracks_phi_{k}"] for k in range(2)] == [1.2, -2.0]
    assert np.all(x[1] == 0.0)  # an empty event is all padding
    assert LOW_LEVEL_COLUMNS[:6] == ("ecal_E_0", "ecal_E_1", "ecal_E_2", "ecal_E_3", "ecal_E_4", "ecal_eta_0")


def test_low_level_leading_energy_matches_the_image():
    hits = simulate(bh_sph(4, seed=2), seed=2)
    x = low_level_features(hits)
    images = event_images(hits)
    for c, name in enumerate(("ecal_E_0", "hcal_E_0")):
        assert np.allclose(x[:, LOW_LEVEL_COLUMNS.index(name)], images[:, c].max(axis=(1, 2)), rtol=1e-5)


def _hand_event():
    cell = lambda e, eta, phi: {"E": e, "pt": e / np.cosh(eta), "eta": eta, "phi": phi}  # noqa: E731
    hits = ak.Array([
        {
            # jet A = two cells at η = 0 (ΔR = 0.2): E 100 at φ 0 + E 50 at φ 0.2; jet B: pT 30 at η 1, φ 2.5;
            # a soft cell (pT 5 < 20 GeV: no jet, but in MET)
            "ecal": [cell(100.0, 0.0, 0.0), cell(30.0 * np.cosh(1.0), 1.0, 2.5)],
            "hcal": [cell(50.0, 0.0, 0.2), cell(5.0 * np.cosh(-2.0), -2.0, -2.0)],
            "tracks": [{"E": 1.0, "pt": 1.0, "eta": 0.0, "phi": 0.0}],
        },
        {"ecal": [], "hcal": [], "tracks": []},
    ])
    part = lambda pid, pt, eta, phi: {"pid": pid, "pt": pt, "eta": eta, "phi": phi}  # noqa: E731
    events = ak.Array([
        {"particles": [
            part(11, 40.0, 0.5, 1.0),  # electron: lepton 0
            part(-13, 25.0, -1.0, -1.5),  # muon: lepton 1, and in MET
            part(13, 10.0, 0.2, 0.7),  # soft muon: not a lepton (pT < 20) but in MET
            part(-11, 100.0, 3.0, 0.0),  # electron outside |η| < 2.5: ignored
            part(12, 70.0, 0.0, 0.0),  # neutrino: invisible
            part(211, 60.0, 0.1, 0.1),  # pion: not a lepton
        ]},
        {"particles": []},
    ])
    return hits, events


def test_high_level_features_of_a_hand_made_event():
    hits, events = _hand_event()
    x = high_level_features(hits, events, smear_leptons=False)
    assert x.shape == (2, 39) and len(HIGH_LEVEL_COLUMNS) == 39
    row = dict(zip(HIGH_LEVEL_COLUMNS, x[0]))
    # jet A: massless vectors of E 100 (φ 0) and 50 (φ 0.2) at η = 0
    px, py = 100.0 + 50.0 * np.cos(0.2), 50.0 * np.sin(0.2)
    assert row["jet_pt_0"] == pytest.approx(np.hypot(px, py))
    assert row["jet_eta_0"] == pytest.approx(0.0, abs=1e-12)
    assert row["jet_phi_0"] == pytest.approx(np.arctan2(py, px))
    assert row["jet_m_0"] == pytest.approx(np.sqrt(2 * 100.0 * 50.0 * (1 - np.cos(0.2))))
    assert (row["jet_pt_1"], row["jet_eta_1"], row["jet_phi_1"]) == pytest.approx((30.0, 1.0, 2.5))
    assert row["jet_m_1"] == pytest.approx(0.0, abs=1e-5)
    assert all(row[f"jet_{q}_{k}"] == 0.0 for q in ("pt", "eta", "phi", "m") for k in range(2, 8))
    assert [row["lep_pt_0"], row["lep_eta_0"], row["lep_phi_0"]] == [40.0, 0.5, 1.0]
    assert [row["lep_pt_1"], row["lep_eta_1"], row["lep_phi_1"]] == [25.0, -1.0, -1.5]
    vectors = [(100.0, 0.0), (50.0, 0.2), (30.0, 2.5), (5.0, -2.0), (25.0, -1.5), (10.0, 0.7)]  # cells + muons
    mx = sum(pt * np.cos(phi) for pt, phi in vectors)
    my = sum(pt * np.sin(phi) for pt, phi in vectors)
    assert row["met"] == pytest.approx(np.hypot(mx, my))
    assert np.all(x[1] == 0.0)


def test_high_level_lepton_smearing_is_seeded_and_small():
    hits, events = _hand_event()
    a = high_level_features(hits, events, seed=1)
    assert np.array_equal(a, high_level_features(hits, events, seed=1))
    i = HIGH_LEVEL_COLUMNS.index("lep_pt_0")
    assert a[0, i] != 40.0 and a[0, i] == pytest.approx(40.0, rel=0.1)
    j = HIGH_LEVEL_COLUMNS.index("jet_pt_0")
    assert np.array_equal(a[:, :j + 32], high_level_features(hits, events, seed=2)[:, :j + 32])  # jets unsmeared


def test_features_on_simulated_events_are_finite():
    events = bh_sph(6, seed=4)
    hits = simulate(events, seed=4)
    low, high = low_level_features(hits), high_level_features(hits, events)
    assert low.shape == (6, 45) and high.shape == (6, 39)
    assert np.isfinite(low).all() and np.isfinite(high).all()
    assert (high[:, HIGH_LEVEL_COLUMNS.index("jet_pt_0")] > 20).all()


def test_nan_features_raise_a_clear_error():
    x = np.zeros((4, 45))
    x[2, 7] = np.nan
    with pytest.raises(SchemaError, match=r"'ecal_eta_2'.*NaN.*\[2\]"):
        validate_features(x, LOW_LEVEL_COLUMNS)
    x[2, 7] = np.inf
    with pytest.raises(SchemaError, match="infinite"):
        validate_features(x, LOW_LEVEL_COLUMNS)
    with pytest.raises(SchemaError, match=r"shape \(N, 39\)"):
        validate_features(np.zeros((4, 45)), HIGH_LEVEL_COLUMNS)
    hits = _hand_hits()
    bad = ak.with_field(hits, ak.with_field(hits.hcal, ak.Array([[1.0, np.nan, 2.0, 3.0, 4.0, 5.0], []]), "E"), "hcal")
    with pytest.raises(SchemaError, match=r"hits\.hcal\.E.*NaN"):
        low_level_features(bad)


def test_bad_feature_inputs_raise_clear_errors():
    hits, events = _hand_event()
    with pytest.raises(SchemaError, match="'tracks'"):
        low_level_features(hits[["ecal", "hcal"]])
    with pytest.raises(SchemaError, match="2 events but events have 1"):
        high_level_features(hits, events[:1])
    with pytest.raises(SchemaError, match="particles"):
        high_level_features(hits, hits)
