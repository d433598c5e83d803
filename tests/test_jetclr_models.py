"""Seed 004 (JetCLR): padded constituents, physical augmentations, the permutation-invariant
encoder, NT-Xent, alignment/uniformity and the linear classifier test.

Expected values are computed independently here (numpy loops, hand-written rotations,
Mann–Whitney counts), never copied from a run of the code under test.
"""
import awkward as ak
import numpy as np
import pytest
import torch

from jetviz.errors import ConfigError, SchemaError
from jetviz.models.constituents import (
    ABLATION,
    AUGMENTATIONS,
    LAMBDA_SOFT,
    PT_CLIP_MIN,
    VIEW_SCHEMES,
    augment,
    check_batch,
    collinear_split,
    jet_extent,
    make_views,
    pad_constituents,
    rotate,
    soft_smear,
    translate,
)
from jetviz.models.jetclr import (
    ENCODER_KINDS,
    JetCLREncoder,
    alignment,
    cosine_similarity,
    linear_classifier_test,
    nt_xent,
    uniformity,
)
from jetviz.models.metrics import roc_auc

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ----------------------------------------------------------------------------- helpers
def random_batch(B: int, P: int, seed: int, min_real: int = 1, max_real: int | None = None):
    """Left-aligned, pT-ordered random jets (B, P, 3) with zero padded rows, and their mask."""
    g = torch.Generator().manual_seed(seed)
    max_real = P if max_real is None else max_real
    n = torch.randint(min_real, max_real + 1, (B,), generator=g)
    mask = torch.arange(P)[None, :] < n[:, None]
    pt = (10.0 * torch.exp(torch.randn(B, P, generator=g))).sort(1, descending=True).values
    eta = 0.4 * torch.randn(B, P, generator=g)
    phi = 0.4 * torch.randn(B, P, generator=g)
    x = torch.stack([pt, eta, phi], -1) * mask[..., None]
    return x, mask


def random_awkward(N: int, seed: int, max_count: int = 12, spread: float = 0.3):
    """N awkward jets of 1..max_count constituents (records with pt, eta, phi)."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, max_count + 1, N)
    total = int(counts.sum())
    pt = rng.exponential(20.0, total) + 0.1
    eta = np.repeat(rng.uniform(-2, 2, N), counts) + spread * rng.standard_normal(total)
    phi = np.repeat(rng.uniform(-np.pi, np.pi, N), counts) + spread * rng.standard_normal(total)
    phi = np.mod(phi + np.pi, 2 * np.pi) - np.pi
    jets = ak.zip({"pt": ak.unflatten(pt, counts), "eta": ak.unflatten(eta, counts), "phi": ak.unflatten(phi, counts)})
    return jets, counts, pt, eta, phi


def jet_axis(x: torch.Tensor, mask: torch.Tensor) -> np.ndarray:
    """pT-weighted (Δη, Δφ) centroid per jet, float64 numpy (B, 2)."""
    x = x.double().numpy()
    m = mask.numpy()
    pt = x[..., 0] * m
    return np.stack([(pt * x[..., 1]).sum(1), (pt * x[..., 2]).sum(1)], -1) / pt.sum(1)[:, None]


def small_encoder(seed: int = 0, **kwargs) -> JetCLREncoder:
    """A small encoder in eval mode (``kind`` as a keyword, default irc_safe)."""
    torch.manual_seed(seed)
    settings = dict(d_model=16, n_heads=2, n_layers=1, rep_dim=8, proj_dim=4)
    settings.update(kwargs)
    return JetCLREncoder(**settings).eval()


# ----------------------------------------------------------------------------- encoder: invariances
@pytest.mark.parametrize("B,P", [(1, 1), (3, 5), (8, 12), (16, 30)])
@pytest.mark.parametrize("no_grad", [True, False])
@pytest.mark.parametrize("kind", ENCODER_KINDS)
def test_encoder_is_invariant_under_any_permutation_of_constituents(kind, B, P, no_grad):
    x, mask = random_batch(B, P, seed=B * 100 + P)
    model = small_encoder(n_layers=2, kind=kind)
    g = torch.Generator().manual_seed(7)
    idx = torch.argsort(torch.rand(B, P, generator=g), 1)  # a different permutation per jet
    xp = torch.gather(x, 1, idx[..., None].expand(-1, -1, 3))
    mp = torch.gather(mask, 1, idx)
    with torch.set_grad_enabled(not no_grad):
        ref = model.represent(x, mask)
        perm = model.represent(xp, mp)
    assert ref.shape == (B, 8)
    torch.testing.assert_close(perm, ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("B,P", [(2, 3), (6, 10)])
@pytest.mark.parametrize("extra", [1, 4, 17])
@pytest.mark.parametrize("kind", ENCODER_KINDS)
def test_encoder_ignores_extra_padded_rows_anywhere(kind, B, P, extra):
    x, mask = random_batch(B, P, seed=extra)
    model = small_encoder(seed=1, kind=kind)
    xe = torch.cat([x, torch.zeros(B, extra, 3)], 1)
    me = torch.cat([mask, torch.zeros(B, extra, dtype=torch.bool)], 1)
    # also scatter the padded rows among the real ones
    idx = torch.argsort(torch.rand(B, P + extra, generator=torch.Generator().manual_seed(3)), 1)
    xs = torch.gather(xe, 1, idx[..., None].expand(-1, -1, 3))
    ms = torch.gather(me, 1, idx)
    with torch.no_grad():
        ref = model.represent(x, mask)
        torch.testing.assert_close(model.represent(xe, me), ref, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(model.represent(xs, ms), ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kind", ENCODER_KINDS)
def test_encoder_is_not_trivially_constant(kind):
    """The invariance tests mean something only if the representation depends on the jet."""
    x, mask = random_batch(4, 6, seed=11, min_real=3)
    model = small_encoder(seed=2, kind=kind)
    with torch.no_grad():
        ref = model.represent(x, mask)
        moved = x.clone()
        moved[:, 0, 1] += 0.3  # move the hardest constituent in η
        assert (model.represent(moved, mask) - ref).abs().max() > 1e-4
        dropped = mask.clone()
        dropped[:, 1:] = False  # keep only the hardest constituent
        assert (model.represent(x * dropped[..., None], dropped) - ref).abs().max() > 1e-4
        reweighted = x.clone()
        reweighted[:, 0, 0] *= 3.0  # the same constituents, more pT in the hardest one
        assert (model.represent(reweighted, mask) - ref).abs().max() > 1e-4
    # and different jets get different representations
    assert torch.cdist(ref, ref)[~torch.eye(4, dtype=torch.bool)].min() > 1e-5


@pytest.mark.parametrize("rep_dim,proj_dim", [(8, 4), (5, 3)])
@pytest.mark.parametrize("B", [1, 7])
@pytest.mark.parametrize("kind", ENCODER_KINDS)
def test_encoder_forward_shapes_and_head(kind, rep_dim, proj_dim, B):
    x, mask = random_batch(B, 9, seed=rep_dim)
    model = small_encoder(rep_dim=rep_dim, proj_dim=proj_dim, kind=kind)
    with torch.no_grad():
        rep, z = model(x, mask)
        torch.testing.assert_close(rep, model.represent(x, mask))
        torch.testing.assert_close(z, model.head(rep))
    assert rep.shape == (B, rep_dim) and z.shape == (B, proj_dim)
    assert torch.isfinite(rep).all() and torch.isfinite(z).all()


@pytest.mark.parametrize("kind", ENCODER_KINDS)
def test_encoder_pt_enters_only_as_fractions(kind):
    """The embedding sees pT/ΣpT: scaling every pT of a jet leaves its representation unchanged."""
    x, mask = random_batch(5, 8, seed=4)
    scaled = x.clone()
    scaled[..., 0] *= torch.tensor([0.5, 2.0, 3.0, 10.0, 100.0])[:, None]
    model = small_encoder(seed=5, kind=kind)
    with torch.no_grad():
        torch.testing.assert_close(model.represent(scaled, mask), model.represent(x, mask), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kwargs", [dict(d_model=15, n_heads=2), dict(n_layers=0), dict(rep_dim=0), dict(proj_dim=0),
                                    dict(R=0.0), dict(R=-1.0), dict(n_heads=0), dict(kind="ircsafe")])
def test_encoder_rejects_bad_settings(kwargs):
    settings = dict(d_model=16, n_heads=2, n_layers=1, rep_dim=8, proj_dim=4)
    settings.update(kwargs)
    with pytest.raises(ConfigError):
        JetCLREncoder(**settings)


# ----------------------------------------------------------------------------- encoder: IRC safety
def _with_zero_pt_constituents(x, mask, n_extra: int, seed: int):
    """The jets with ``n_extra`` real (mask True) constituents of pT = 0 at random, far-flung
    (η, φ), appended and then shuffled among the others."""
    g = torch.Generator().manual_seed(seed)
    B, P, _ = x.shape
    extra = torch.zeros(B, n_extra, 3, dtype=x.dtype)
    extra[..., 1:] = 3.0 * torch.randn(B, n_extra, 2, generator=g, dtype=x.dtype)
    xe = torch.cat([x, extra], 1)
    me = torch.cat([mask, torch.ones(B, n_extra, dtype=torch.bool)], 1)
    idx = torch.argsort(torch.rand(B, P + n_extra, generator=g), 1)
    return torch.gather(xe, 1, idx[..., None].expand(-1, -1, 3)), torch.gather(me, 1, idx)


def _split_by_hand(x, mask, seed: int, rounds: int = 2):
    """Each real constituent split ``rounds`` times (1 → 2 → 4 ...) into collinear pieces with
    random pT fractions, appended in a shuffled order (numpy, independent of collinear_split)."""
    rng = np.random.default_rng(seed)
    xs = x.double().numpy()
    out = []
    for b in range(len(xs)):
        pieces = [row for row, m in zip(xs[b], mask[b].numpy()) if m]
        for _ in range(rounds):
            new = []
            for pt, eta, phi in pieces:
                z = rng.uniform(0.05, 0.95)
                new += [(z * pt, eta, phi), ((1 - z) * pt, eta, phi)]
            pieces = new
        rng.shuffle(pieces)
        out.append(np.array(pieces))
    P = max(len(o) for o in out)
    xo = np.zeros((len(out), P, 3))
    mo = np.zeros((len(out), P), bool)
    for b, o in enumerate(out):
        xo[b, : len(o)], mo[b, : len(o)] = o, True
    return torch.as_tensor(xo, dtype=x.dtype), torch.as_tensor(mo)


IRC_CASES = ["zero pT", "collinear_split", "split by hand", "both"]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("case", IRC_CASES)
@pytest.mark.parametrize("no_grad", [True, False])
def test_irc_safe_encoder_is_unchanged_by_soft_and_collinear_emissions(dtype, case, no_grad):
    """Adding pT = 0 constituents anywhere and splitting constituents collinearly leaves the
    IRC-safe representation unchanged to 1e-5 (the proof is in jetviz.models.jetclr's docstring)."""
    x, mask = random_batch(12, 10, seed=21, max_real=7)
    x = torch.cat([x, torch.zeros(12, 6, 3)], 1).to(dtype)  # free rows for collinear_split
    mask = torch.cat([mask, torch.zeros(12, 6, dtype=torch.bool)], 1)
    model = small_encoder(seed=3, n_layers=3, kind="irc_safe").to(dtype)
    if case == "zero pT":
        xa, ma = _with_zero_pt_constituents(x, mask, 5, seed=1)
    elif case == "collinear_split":
        xa, ma = collinear_split(x, mask, 1.0, generator=torch.Generator().manual_seed(2))
        assert (ma.sum(1) > mask.sum(1)).all()
    elif case == "split by hand":
        xa, ma = _split_by_hand(x, mask, seed=3)
    else:
        xa, ma = _split_by_hand(*_with_zero_pt_constituents(x, mask, 4, seed=4), seed=5, rounds=1)
    with torch.set_grad_enabled(not no_grad):
        ref = model.represent(x, mask)
        out = model.represent(xa, ma)
    assert ref.dtype == dtype and ref.abs().mean() > 0.05
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("case", IRC_CASES)
def test_plain_encoder_is_not_irc_safe(case):
    """The old encoder (kept for the ablation) changes under the same emissions: the IRC test above
    could fail."""
    x, mask = random_batch(12, 10, seed=21, max_real=7)
    x = torch.cat([x, torch.zeros(12, 6, 3)], 1)
    mask = torch.cat([mask, torch.zeros(12, 6, dtype=torch.bool)], 1)
    model = small_encoder(seed=3, n_layers=3, kind="plain")
    if case == "zero pT":
        xa, ma = _with_zero_pt_constituents(x, mask, 5, seed=1)
    elif case == "collinear_split":
        xa, ma = collinear_split(x, mask, 1.0, generator=torch.Generator().manual_seed(2))
    elif case == "split by hand":
        xa, ma = _split_by_hand(x, mask, seed=3)
    else:
        xa, ma = _split_by_hand(*_with_zero_pt_constituents(x, mask, 4, seed=4), seed=5, rounds=1)
    with torch.no_grad():
        assert (model.represent(xa, ma) - model.represent(x, mask)).abs().max() > 1e-2


def test_irc_safe_encoder_is_continuous_in_a_soft_constituent():
    """Infrared safety as a limit: a constituent of pT fraction ε moves the representation by O(ε)."""
    x, mask = random_batch(6, 8, seed=9, max_real=6)
    x, mask = x.double(), mask
    model = small_encoder(seed=4, kind="irc_safe").double()
    changes = []
    with torch.no_grad():
        ref = model.represent(x, mask)
        for eps in (1e-2, 1e-4, 1e-6):
            soft = x.clone()
            n = mask.sum(1)
            rows = torch.arange(len(x))
            soft[rows, n, 0] = eps * x[..., 0].sum(1)
            soft[rows, n, 1:] = torch.tensor([0.5, -0.4], dtype=torch.float64)
            changes.append(float((model.represent(soft, mask | (torch.arange(8) == n[:, None])) - ref).abs().max()))
    assert changes[0] > 1e-5  # a soft constituent does something ...
    assert changes[1] < changes[0] / 30 and changes[2] < changes[1] / 30  # ... that vanishes linearly
    assert changes[2] < 1e-5


@pytest.mark.parametrize("kind", ENCODER_KINDS)
def test_encoder_gives_the_same_output_with_and_without_gradients(kind):
    """PyTorch's eval-mode fast path once gave a different answer for a per-jet attention bias."""
    x, mask = random_batch(7, 9, seed=8)
    model = small_encoder(seed=6, n_layers=2, kind=kind)
    with torch.no_grad():
        fast = model.represent(x, mask)
    torch.testing.assert_close(model.represent(x, mask).detach(), fast, atol=1e-6, rtol=1e-6)


# ----------------------------------------------------------------------------- bad batches
def _bad_batches():
    x, mask = random_batch(3, 5, seed=0, min_real=2)
    empty_mask = mask.clone()
    empty_mask[1] = False
    empty_x = x * empty_mask[..., None]
    nan_x = x.clone()
    nan_x[2, 0, 1] = float("nan")
    inf_x = x.clone()
    inf_x[0, 0, 2] = float("inf")
    neg_x = x.clone()
    neg_x[1, 0, 0] = -1.0
    return [
        ("all padding", empty_x, empty_mask, "all padding"),
        ("nan", nan_x, mask, "nan"),
        ("inf", inf_x, mask, "infinite"),
        ("negative pt", neg_x, mask, "negative pt"),
        ("two features", x[..., :2], mask, "(b, p, 3)"),
        ("2-d x", x[..., 0], mask, "(b, p, 3)"),
        ("numpy x", x.numpy(), mask, "(b, p, 3)"),
        ("float mask", x, mask.float(), "bool"),
        ("int mask", x, mask.long(), "bool"),
        ("mask shape", x, mask[:, :4], "mask"),
        ("numpy mask", x, mask.numpy(), "mask"),
    ]


@pytest.mark.parametrize("case", _bad_batches(), ids=lambda c: c[0])
def test_check_batch_and_represent_reject_bad_batches(case):
    _, x, mask, fragment = case
    with pytest.raises(SchemaError) as info:
        check_batch(x, mask)
    assert fragment in str(info.value).lower()
    with pytest.raises(SchemaError) as info:
        small_encoder().represent(x, mask)
    assert fragment in str(info.value).lower()


def test_check_batch_names_the_first_bad_jet():
    x, mask = random_batch(6, 4, seed=1)
    mask = mask.clone()
    mask[4] = False
    x = x * mask[..., None]
    with pytest.raises(SchemaError, match=r"jet 4"):
        check_batch(x, mask)
    x2, mask2 = random_batch(6, 4, seed=1)
    x2 = x2.clone()
    x2[3, 0, 0] = float("nan")
    with pytest.raises(SchemaError, match=r"jet 3"):
        check_batch(x2, mask2)


@pytest.mark.parametrize("B,P", [(1, 1), (4, 7)])
def test_check_batch_accepts_good_batches(B, P):
    x, mask = random_batch(B, P, seed=P)
    check_batch(x, mask)  # no error
    x2, mask2 = pad_constituents(random_awkward(3, P)[0], 5, 2)
    check_batch(torch.as_tensor(x2), torch.as_tensor(mask2))  # pad_constituents output is a valid batch


def test_check_batch_rejects_nonzero_padded_rows():
    x, mask = random_batch(3, 5, seed=0, max_real=3)
    x = x.clone()
    x[0, 4] = torch.tensor([1.0, 0.2, 0.1])  # a padded row (mask False) that is not zero
    assert not mask[0, 4]
    with pytest.raises(SchemaError, match="padded rows"):
        check_batch(x, mask)


def test_represent_of_a_zero_pt_jet_raises():
    x, mask = random_batch(3, 5, seed=0, min_real=2)
    x = x.clone()
    x[1, :, 0] = 0.0
    with pytest.raises(SchemaError, match="zero total pT"):
        small_encoder().represent(x, mask)


# ----------------------------------------------------------------------------- pad_constituents
def _pad_by_hand(counts, pt, eta, phi, n_constituents, extra_slots):
    """Independent per-jet numpy version of the documented padding."""
    P = n_constituents + extra_slots
    x = np.zeros((len(counts), P, 3))
    mask = np.zeros((len(counts), P), bool)
    start = 0
    for i, c in enumerate(counts):
        sl = slice(start, start + c)
        start += c
        order = np.argsort(-pt[sl], kind="stable")[:n_constituents]
        p, e, f = pt[sl][order], eta[sl][order], phi[sl][order]
        df = f - f[0]
        df = (df + np.pi) % (2 * np.pi) - np.pi
        n = len(p)
        x[i, :n, 0] = p
        x[i, :n, 1] = e - (p * e).sum() / p.sum()
        x[i, :n, 2] = df - (p * df).sum() / p.sum()
        mask[i, :n] = True
    return x, mask


@pytest.mark.parametrize("N", [1, 5, 40])
@pytest.mark.parametrize("n_constituents,extra_slots", [(1, 0), (4, 0), (6, 3), (30, 5)])
def test_pad_constituents_matches_hand_computation(N, n_constituents, extra_slots):
    jets, counts, pt, eta, phi = random_awkward(N, seed=N + n_constituents)
    x, mask = pad_constituents(jets, n_constituents, extra_slots)
    P = n_constituents + extra_slots
    assert x.shape == (N, P, 3) and x.dtype == np.float32
    assert mask.shape == (N, P) and mask.dtype == np.bool_
    expected_x, expected_mask = _pad_by_hand(counts, pt, eta, phi, n_constituents, extra_slots)
    np.testing.assert_array_equal(mask, expected_mask)
    np.testing.assert_allclose(x, expected_x, atol=2e-5, rtol=1e-5)
    # truncated to n_constituents, extra slots are padding, padded rows are zero
    np.testing.assert_array_equal(mask.sum(1), np.minimum(counts, n_constituents))
    assert not mask[:, n_constituents:].any()
    assert (x[~mask] == 0).all()
    # left-aligned
    np.testing.assert_array_equal(mask, np.arange(P)[None, :] < mask.sum(1)[:, None])


@pytest.mark.parametrize("N", [3, 25])
@pytest.mark.parametrize("n_constituents", [3, 10])
def test_pad_constituents_is_centred_and_ordered(N, n_constituents):
    jets, *_ = random_awkward(N, seed=N * n_constituents, spread=0.5)
    x, mask = pad_constituents(jets, n_constituents, 2)
    axis = jet_axis(torch.as_tensor(x), torch.as_tensor(mask))
    np.testing.assert_allclose(axis, 0.0, atol=1e-5)
    assert (np.diff(x[..., 0], axis=1)[mask[:, 1:]] <= 0).all()  # hardest first among the real rows
    assert (x[..., 0][mask] > 0).all()
    # the kept constituents are the hardest of each jet
    for i, jet_pt in enumerate(ak.to_list(jets.pt)):
        kept = np.sort(jet_pt)[::-1][:n_constituents]
        np.testing.assert_allclose(x[i, : len(kept), 0], kept, rtol=1e-6)


@pytest.mark.parametrize("phi_a,phi_b", [(3.1, -3.1), (-3.1, 3.1), (np.pi - 0.01, -np.pi + 0.02)])
@pytest.mark.parametrize("pt_a,pt_b", [(30.0, 10.0), (10.0, 30.0), (20.0, 20.0)])
def test_pad_constituents_wraps_phi_across_pi(phi_a, phi_b, pt_a, pt_b):
    jets = ak.zip({"pt": ak.Array([[pt_a, pt_b]]), "eta": ak.Array([[0.5, 0.5]]), "phi": ak.Array([[phi_a, phi_b]])})
    x, mask = pad_constituents(jets, 4)
    separation = 2 * np.pi - abs(phi_a - phi_b)  # the short way round
    assert mask[0].tolist() == [True, True, False, False]
    assert abs(x[0, 0, 2] - x[0, 1, 2]) == pytest.approx(separation, abs=1e-5)
    assert np.abs(x[0, :2, 2]).max() <= separation + 1e-6  # no constituent near ±π
    assert (x[0, :2, 0] * x[0, :2, 2]).sum() == pytest.approx(0.0, abs=1e-4)
    np.testing.assert_allclose(x[0, :2, 1], 0.0, atol=1e-6)  # same η: Δη = 0


def _jets(pt, eta=None, phi=None, drop=None):
    eta = [[0.1 * i for i in range(len(p))] for p in pt] if eta is None else eta
    phi = [[0.2 * i for i in range(len(p))] for p in pt] if phi is None else phi
    fields = {"pt": ak.Array(pt), "eta": ak.Array(eta), "phi": ak.Array(phi)}
    if drop:
        del fields[drop]
    return ak.zip(fields)


@pytest.mark.parametrize("jets,fragment", [
    (_jets([[10.0, 5.0], []]), "no constituents"),
    (_jets([[]]), "no constituents"),
    (_jets([[10.0, float("nan")], [3.0]]), "nan"),
    (_jets([[10.0, 2.0]], eta=[[0.0, float("inf")]]), "nan or infinite"),
    (_jets([[10.0, 2.0]], phi=[[float("nan"), 0.0]]), "nan"),
    (_jets([[10.0, -2.0]]), "negative"),
    (_jets([[0.0, 0.0], [1.0]]), "zero total pt"),
    (_jets([[10.0, 2.0]], drop="pt"), "'pt'"),
    (_jets([[10.0, 2.0]], drop="eta"), "'eta'"),
    (_jets([[10.0, 2.0]], drop="phi"), "'phi'"),
], ids=["empty jet", "only jet empty", "nan pt", "inf eta", "nan phi", "negative pt", "zero pt", "no pt", "no eta",
        "no phi"])
def test_pad_constituents_rejects_bad_jets(jets, fragment):
    with pytest.raises(SchemaError) as info:
        pad_constituents(jets, 5)
    assert fragment in str(info.value).lower()


@pytest.mark.parametrize("n_constituents,extra_slots", [(0, 0), (-1, 2), (3, -1)])
def test_pad_constituents_rejects_bad_sizes(n_constituents, extra_slots):
    with pytest.raises(ConfigError):
        pad_constituents(_jets([[10.0, 2.0]]), n_constituents, extra_slots)


# ----------------------------------------------------------------------------- collinear_split
def _split_checks(x, mask, out, out_mask):
    """Every documented property of a collinear split, checked jet by jet in numpy."""
    B, P, _ = x.shape
    xn, mn, on, omn = x.double().numpy(), mask.numpy(), out.double().numpy(), out_mask.numpy()
    n_in, n_out = mn.sum(1), omn.sum(1)
    # total pT and the pT-weighted axis are exact invariants (to float32 precision)
    np.testing.assert_allclose(on[..., 0].sum(1), xn[..., 0].sum(1), rtol=2e-6)
    np.testing.assert_allclose(jet_axis(out, out_mask), jet_axis(x, mask), atol=2e-6)
    # an IRC-safe observable: girth Σ pT r / Σ pT about the origin
    girth = lambda a, m: (a[..., 0] * m * np.hypot(a[..., 1], a[..., 2])).sum(1) / (a[..., 0] * m).sum(1)
    np.testing.assert_allclose(girth(on, omn), girth(xn, mn), rtol=1e-5)
    # grows by at most the free slots, never beyond P; left-aligned; padded rows zero
    assert (n_out >= n_in).all() and (n_out <= np.minimum(P, 2 * n_in)).all()
    np.testing.assert_array_equal(omn, np.arange(P)[None, :] < n_out[:, None])
    assert (on[~omn] == 0).all()
    for b in range(B):
        parents = []
        for k in range(n_in[b], n_out[b]):
            # a new constituent sits exactly at the (η, φ) of one parent
            hits = np.flatnonzero((on[b, k, 1] == xn[b, : n_in[b], 1]) & (on[b, k, 2] == xn[b, : n_in[b], 2]))
            assert len(hits) == 1, (b, k)
            j = hits[0]
            parents.append(j)
            assert on[b, k, 0] >= 0 and on[b, j, 0] >= 0
            assert on[b, k, 0] + on[b, j, 0] == pytest.approx(xn[b, j, 0], rel=1e-6)
        assert len(set(parents)) == len(parents)  # each parent splits at most once
        assert parents == sorted(parents)  # next free slot in order of the parents
        # the parents keep their (η, φ); unsplit constituents are untouched
        np.testing.assert_array_equal(on[b, : n_in[b], 1:], xn[b, : n_in[b], 1:])
        unsplit = np.setdiff1d(np.arange(n_in[b]), parents)
        np.testing.assert_array_equal(on[b, unsplit], xn[b, unsplit])


@pytest.mark.parametrize("B,P", [(1, 4), (7, 6), (64, 12)])
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("probability", [0.3, 0.5, 1.0])
def test_collinear_split_keeps_pt_axis_and_places_daughters_on_parents(B, P, seed, probability):
    x, mask = random_batch(B, P, seed=seed)
    out, out_mask = collinear_split(x, mask, probability, generator=torch.Generator().manual_seed(seed))
    _split_checks(x, mask, out, out_mask)
    full = mask.all(1)
    torch.testing.assert_close(out[full], x[full], rtol=0, atol=0)  # no free slot: unchanged
    if probability == 1.0:  # every constituent splits until the slots run out, hardest first
        n_in = mask.sum(1)
        np.testing.assert_array_equal(out_mask.sum(1).numpy(), torch.minimum(2 * n_in, torch.tensor(P)).numpy())
        for b in range(B):
            n = int(n_in[b])
            new = int(out_mask[b].sum()) - n
            torch.testing.assert_close(out[b, n : n + new, 1:], x[b, :new, 1:], rtol=0, atol=0)


@pytest.mark.parametrize("B,P", [(3, 5), (20, 8)])
def test_collinear_split_splits_into_many_free_slots(B, P):
    """Mostly empty jets (one or two constituents) with p = 0.5 do get split in a good fraction of draws."""
    x, mask = random_batch(B, P, seed=3, max_real=2)
    grown = 0
    for seed in range(10):
        out, out_mask = collinear_split(x, mask, 0.5, generator=torch.Generator().manual_seed(seed))
        _split_checks(x, mask, out, out_mask)
        grown += int((out_mask.sum(1) > mask.sum(1)).sum())
    n_real = int(mask.sum())
    assert 0.3 * n_real < grown  # about half the constituents split, each growing its jet


@pytest.mark.parametrize("B,P", [(1, 3), (10, 6)])
def test_collinear_split_with_no_free_slot_or_zero_probability_is_identity(B, P):
    x, mask = random_batch(B, P, seed=B, min_real=P)  # every jet full
    out, out_mask = collinear_split(x, mask, 1.0, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(out, x, rtol=0, atol=0)
    assert torch.equal(out_mask, mask)
    x, mask = random_batch(B, P, seed=B, max_real=max(1, P - 2))
    out, out_mask = collinear_split(x, mask, 0.0, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(out, x, rtol=0, atol=0)
    assert torch.equal(out_mask, mask)


def test_collinear_split_is_reproducible_and_seed_dependent():
    x, mask = random_batch(16, 10, seed=5, max_real=6)
    a = collinear_split(x, mask, generator=torch.Generator().manual_seed(9))
    b = collinear_split(x, mask, generator=torch.Generator().manual_seed(9))
    c = collinear_split(x, mask, generator=torch.Generator().manual_seed(10))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


@pytest.mark.parametrize("probability", [-0.1, 1.5, float("nan")])
def test_collinear_split_rejects_bad_probability(probability):
    x, mask = random_batch(2, 4, seed=0)
    with pytest.raises(ConfigError):
        collinear_split(x, mask, probability)


# ----------------------------------------------------------------------------- rotate
def _centred_batch(N: int, seed: int, n_constituents: int = 8, extra_slots: int = 2):
    jets, *_ = random_awkward(N, seed=seed, spread=0.4)
    x, mask = pad_constituents(jets, n_constituents, extra_slots)
    return torch.as_tensor(x), torch.as_tensor(mask)


@pytest.mark.parametrize("N", [1, 6, 50])
@pytest.mark.parametrize("seed", [0, 1])
def test_rotate_keeps_axis_distances_and_pt(N, seed):
    x, mask = _centred_batch(N, seed)
    out, out_mask = rotate(x, mask, generator=torch.Generator().manual_seed(seed))
    assert torch.equal(out_mask, mask)
    np.testing.assert_allclose(jet_axis(out, mask), 0.0, atol=1e-5)  # axis stays at the origin
    assert torch.equal(out[..., 0], x[..., 0])  # pT untouched
    assert (out[~mask] == 0).all()
    d_in = torch.cdist(x[..., 1:].double(), x[..., 1:].double())
    d_out = torch.cdist(out[..., 1:].double(), out[..., 1:].double())
    both = mask[:, :, None] & mask[:, None, :]
    torch.testing.assert_close(d_out[both], d_in[both], atol=1e-5, rtol=1e-5)
    # distance to the axis (ΔR) of every constituent is kept too
    torch.testing.assert_close(out[..., 1:].norm(dim=-1), x[..., 1:].norm(dim=-1), atol=1e-6, rtol=1e-5)
    # random angles actually move something when a jet has two or more constituents
    if (mask.sum(1) > 1).any():
        assert (out[..., 1:] - x[..., 1:]).abs().max() > 1e-3


@pytest.mark.parametrize("N", [1, 5, 20])
@pytest.mark.parametrize("turns", [1, 2, -1])
def test_rotate_by_whole_turns_is_identity(N, turns):
    x, mask = _centred_batch(N, seed=N)
    out, _ = rotate(x, mask, angles=torch.full((N,), 2 * np.pi * turns))
    torch.testing.assert_close(out, x, atol=2e-6, rtol=0)


@pytest.mark.parametrize("N", [1, 4, 30])
@pytest.mark.parametrize("seed", [0, 3])
def test_rotate_matches_hand_written_rotation(N, seed):
    x, mask = _centred_batch(N, seed=seed + 10)
    angles = np.random.default_rng(seed).uniform(-2 * np.pi, 2 * np.pi, N)
    out, _ = rotate(x, mask, angles=torch.as_tensor(angles))
    xn = x.double().numpy()
    expected = xn.copy()
    for i, a in enumerate(angles):
        R = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        expected[i, :, 1:] = xn[i, :, 1:] @ R.T
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-6)
    # a quarter turn sends (η, φ) → (−φ, η)
    q, _ = rotate(x, mask, angles=torch.full((N,), np.pi / 2))
    np.testing.assert_allclose(q[..., 1].numpy(), -xn[..., 2], atol=1e-6)
    np.testing.assert_allclose(q[..., 2].numpy(), xn[..., 1], atol=1e-6)


# ----------------------------------------------------------------------------- translate
@pytest.mark.parametrize("B,P", [(1, 3), (8, 10), (40, 20)])
@pytest.mark.parametrize("seed", [0, 1])
def test_translate_shifts_every_real_constituent_by_the_given_shift(B, P, seed):
    x, mask = random_batch(B, P, seed=seed)
    shifts = torch.as_tensor(np.random.default_rng(seed).uniform(-1, 1, (B, 2)), dtype=torch.float32)
    out, out_mask = translate(x, mask, shifts=shifts)
    assert torch.equal(out_mask, mask)
    assert torch.equal(out[..., 0], x[..., 0])
    assert (out[~mask] == 0).all()
    xn, on, sn = x.double().numpy(), out.double().numpy(), shifts.double().numpy()
    for b in range(B):
        n = int(mask[b].sum())
        np.testing.assert_allclose(on[b, :n, 1:] - xn[b, :n, 1:], np.broadcast_to(sn[b], (n, 2)), atol=1e-6)
    # the jet axis moves by the shift, relative positions are kept
    np.testing.assert_allclose(jet_axis(out, mask) - jet_axis(x, mask), sn, atol=1e-5)


@pytest.mark.parametrize("width", [0.05, 0.2, 1.0])
def test_translate_random_shifts_are_common_to_a_jet_and_within_width(width):
    x, mask = random_batch(300, 6, seed=2, min_real=2)
    out, _ = translate(x, mask, width=width, generator=torch.Generator().manual_seed(4), unit="rad")
    delta = (out - x)[..., 1:]
    first = delta[:, :1, :]
    torch.testing.assert_close((delta - first) * mask[..., None], torch.zeros_like(delta), atol=1e-6, rtol=0)
    shifts = first[:, 0].numpy()
    assert (np.abs(shifts) <= width + 1e-6).all()
    assert np.abs(shifts).max() > 0.8 * width  # spread over the whole range
    assert abs(shifts.mean()) < 0.1 * width


def test_jet_extent_matches_hand_computation_over_real_constituents():
    x, mask = random_batch(20, 9, seed=5, max_real=6)
    x = x.clone()
    xn, mn = x.double().numpy(), mask.numpy()
    expected = np.array([[np.ptp(xn[b, mn[b], c]) for c in (1, 2)] for b in range(len(xn))])
    np.testing.assert_allclose(jet_extent(x, mask).double().numpy(), expected, atol=1e-6)
    # the padded rows (zeros at the origin) do not count: a jet far from the origin keeps its extent
    shifted, _ = translate(x, mask, shifts=torch.full((20, 2), 5.0))
    np.testing.assert_allclose(jet_extent(shifted, mask).double().numpy(), expected, atol=1e-5)


@pytest.mark.parametrize("width", [0.5, 1.0])
def test_translate_in_jet_extents_scales_each_jet_by_its_own_size(width):
    """The reference's translations: δη ~ U(±width·Δη_jet), δφ ~ U(±width·Δφ_jet)."""
    x, mask = random_batch(400, 6, seed=3, min_real=2)
    x = x.clone()
    x[:200, :, 1:] *= 4.0  # two populations: wide jets and narrow ones
    extent = jet_extent(x, mask).double().numpy()
    out, out_mask = translate(x, mask, width=width, generator=torch.Generator().manual_seed(5))
    assert torch.equal(out_mask, mask) and (out[~mask] == 0).all()
    shifts = (out - x)[:, 0, 1:].double().numpy()
    torch.testing.assert_close(((out - x)[..., 1:] - (out - x)[:, :1, 1:]) * mask[..., None],
                               torch.zeros_like(x[..., 1:]), atol=1e-5, rtol=0)
    ratio = shifts / extent
    assert (np.abs(ratio) <= width + 1e-5).all()
    assert np.abs(ratio).max() > 0.9 * width and abs(ratio.mean()) < 0.1 * width
    # uniform in the jet's units: |ratio| has mean width/2 in both populations
    for part in (slice(0, 200), slice(200, 400)):
        assert np.abs(ratio[part]).mean() == pytest.approx(width / 2, rel=0.15)
    assert np.abs(shifts[:200]).mean() > 3 * np.abs(shifts[200:]).mean()
    # an explicit extent replaces the jet's own
    given, _ = translate(x, mask, width=width, generator=torch.Generator().manual_seed(5), extent=torch.ones(400, 2))
    assert (np.abs((given - x)[:, 0, 1:].numpy()) <= width + 1e-6).all()


@pytest.mark.parametrize("kwargs", [dict(unit="radians"), dict(width=-0.1), dict(width=float("nan"))])
def test_translate_rejects_bad_settings(kwargs):
    x, mask = random_batch(2, 3, seed=0)
    with pytest.raises(ConfigError):
        translate(x, mask, **kwargs)


# ----------------------------------------------------------------------------- soft_smear
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("lambda_soft", [LAMBDA_SOFT, 0.3])
def test_soft_smear_width_scales_as_inverse_pt(seed, lambda_soft):
    n = 20000
    pts = np.array([0.5, 5.0, 50.0])
    jet = torch.tensor([[0.5, 0.3, -0.2], [5.0, -0.1, 0.15], [50.0, 0.05, 0.02], [0.0, 0.0, 0.0]])
    x = jet.expand(n, -1, -1).contiguous()
    mask = torch.tensor([True, True, True, False]).expand(n, -1).contiguous()
    out, out_mask = soft_smear(x, mask, lambda_soft, generator=torch.Generator().manual_seed(seed))
    assert torch.equal(out_mask, mask)
    assert torch.equal(out[..., 0], x[..., 0])  # pT untouched
    assert (out[:, 3] == 0).all()  # padded rows untouched
    delta = (out - x)[:, :3, 1:].double().numpy()  # (n, 3 constituents, η/φ)
    std = delta.std(0)
    expected = lambda_soft / pts
    for c in range(2):  # η and φ
        np.testing.assert_allclose(std[:, c], expected, rtol=0.05)
        # 1/pT scaling: ratio of widths = ratio of inverse pT (10 between neighbours here)
        np.testing.assert_allclose(std[:-1, c] / std[1:, c], pts[1:] / pts[:-1], rtol=0.07)
        assert (np.abs(delta[:, :, c].mean(0)) < 5 * expected / np.sqrt(n)).all()  # no mean shift
    # η and φ smearing are independent
    assert abs(np.corrcoef(delta[:, 0, 0], delta[:, 0, 1])[0, 1]) < 0.05


@pytest.mark.parametrize("B,P", [(1, 2), (12, 9)])
def test_soft_smear_with_zero_lambda_is_identity(B, P):
    x, mask = random_batch(B, P, seed=P)
    out, out_mask = soft_smear(x, mask, 0.0, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(out, x, rtol=0, atol=0)
    assert torch.equal(out_mask, mask)


@pytest.mark.parametrize("lambda_soft", [-0.1, float("nan")])
def test_soft_smear_rejects_bad_lambda(lambda_soft):
    x, mask = random_batch(2, 3, seed=0)
    with pytest.raises(ConfigError):
        soft_smear(x, mask, lambda_soft)


@pytest.mark.parametrize("pt_clip_min,expected_width", [
    (PT_CLIP_MIN, [1.0, 1.0, 1.0, 0.2, 0.01]),  # the default clip: no constituent moves by more than ~1 rad
    (0.0, [100.0, 2.0, 1.0, 0.2, 0.01]),  # unclipped σ = Λ_soft/pT (jetviz before issue 18)
    (1.0, [0.1, 0.1, 0.1, 0.1, 0.01]),
])
def test_soft_smear_clips_the_pt_in_its_width(pt_clip_min, expected_width):
    """σ = Λ_soft / max(pT, pt_clip_min): the reference's clip at 0.1 GeV."""
    n = 20000
    pts = torch.tensor([0.001, 0.05, 0.1, 0.5, 10.0])
    jet = torch.stack([pts, torch.zeros(5), torch.zeros(5)], -1)
    x = jet.expand(n, -1, -1).contiguous()
    mask = torch.ones(n, 5, dtype=torch.bool)
    out, _ = soft_smear(x, mask, LAMBDA_SOFT, torch.Generator().manual_seed(3), pt_clip_min=pt_clip_min)
    std = (out - x)[..., 1:].double().numpy().std(0)  # (5, 2)
    for c in range(2):
        np.testing.assert_allclose(std[:, c], expected_width, rtol=0.05)


def test_soft_smear_after_collinear_splits_keeps_constituents_near_the_jet():
    """Issue 18: collinear splits make constituents of a few MeV; unclipped, the smearing threw
    them hundreds of radians. With the clip nothing moves by more than 6 σ_max = 6 rad."""
    x, mask = _centred_batch(400, seed=7, n_constituents=8, extra_slots=8)
    x = x.clone()
    x[..., 0] *= 0.02  # soft jets: many constituents below 0.1 GeV after splitting
    g = torch.Generator().manual_seed(1)
    split, split_mask = collinear_split(x, mask, 1.0, generator=g)
    assert (split[..., 0][split_mask] < 0.01).any()
    clipped, _ = soft_smear(split, split_mask, generator=torch.Generator().manual_seed(2))
    unclipped, _ = soft_smear(split, split_mask, generator=torch.Generator().manual_seed(2), pt_clip_min=0.0)
    moved = lambda out: (out - split)[..., 1:].norm(dim=-1)[split_mask]  # noqa: E731
    assert moved(clipped).max() < 6 * LAMBDA_SOFT / PT_CLIP_MIN
    assert moved(unclipped).max() > 50


def test_soft_smear_rejects_bad_clip():
    x, mask = random_batch(2, 3, seed=0)
    with pytest.raises(ConfigError):
        soft_smear(x, mask, pt_clip_min=-1.0)


# ----------------------------------------------------------------------------- augment
@pytest.mark.parametrize("which", [("colinear",), ("rotations", "flip"), ("ALL",), "rotations"])
def test_augment_rejects_unknown_names(which):
    x, mask = random_batch(2, 4, seed=0)
    with pytest.raises(ConfigError):
        augment(x, mask, which)


@pytest.mark.parametrize("B,P", [(1, 3), (9, 8)])
def test_augment_with_nothing_is_identity(B, P):
    x, mask = random_batch(B, P, seed=B)
    out, out_mask = augment(x, mask, which=(), generator=torch.Generator().manual_seed(0))
    assert torch.equal(out, x) and torch.equal(out_mask, mask)


_SINGLE = [
    ("collinear", lambda x, m, g: collinear_split(x, m, 0.7, generator=g)),
    ("soft", lambda x, m, g: soft_smear(x, m, generator=g)),
    ("rotations", lambda x, m, g: rotate(x, m, generator=g)),
    ("translations", lambda x, m, g: translate(x, m, generator=g)),
    ("rotations given", lambda x, m, g: rotate(x, m, angles=torch.ones(len(x)))),
    ("translations given", lambda x, m, g: translate(x, m, shifts=torch.ones(len(x), 2))),
] + [(f"augment {name}", (lambda w: lambda x, m, g: augment(x, m, w, generator=g))(w)) for name, w in ABLATION.items()]


@pytest.mark.parametrize("name,fn", _SINGLE, ids=[s[0] for s in _SINGLE])
@pytest.mark.parametrize("B,P", [(1, 4), (10, 8)])
def test_no_augmentation_writes_into_its_inputs(name, fn, B, P):
    x, mask = random_batch(B, P, seed=B + P, max_real=P - 1)
    x0, mask0 = x.clone(), mask.clone()
    out, out_mask = fn(x, mask, torch.Generator().manual_seed(1))
    assert torch.equal(x, x0) and torch.equal(mask, mask0)
    assert out.shape == x.shape and out_mask.shape == mask.shape and out_mask.dtype == torch.bool
    # and a later in-place change of the output x does not reach the input (the mask may be shared
    # when an augmentation leaves it unchanged; augment with no augmentation hands back its input)
    if name != "augment none":
        out.add_(1.0)
        assert torch.equal(x, x0)


@pytest.mark.parametrize("row", list(ABLATION), ids=list(ABLATION))
@pytest.mark.parametrize("seed", [0, 1])
def test_augment_keeps_total_pt_padding_and_validity(row, seed):
    x, mask = _centred_batch(30, seed=seed, n_constituents=6, extra_slots=4)
    g = torch.Generator().manual_seed(seed)
    out, out_mask = augment(x, mask, ABLATION[row], generator=g)
    check_batch(out, out_mask)  # still a valid batch
    np.testing.assert_allclose(out[..., 0].sum(1).numpy(), x[..., 0].sum(1).numpy(), rtol=2e-6)  # every one keeps ΣpT
    assert (out[~out_mask] == 0).all()
    np.testing.assert_array_equal(out_mask.numpy(), np.arange(10)[None, :] < out_mask.sum(1).numpy()[:, None])
    if "collinear" not in ABLATION[row]:
        assert torch.equal(out_mask, mask)
    if ABLATION[row] and row != "soft+collinear":
        assert not torch.equal(out, x)
    again = augment(x, mask, ABLATION[row], generator=torch.Generator().manual_seed(seed))
    assert torch.equal(again[0], out) and torch.equal(again[1], out_mask)


@pytest.mark.parametrize("row", list(ABLATION), ids=list(ABLATION))
def test_reference_views_split_and_smear_only_the_second_view(row):
    """make_views(scheme="reference"): view a is only rotated/translated, view b gets everything."""
    which = ABLATION[row]
    x, mask = _centred_batch(64, seed=2, n_constituents=6, extra_slots=6)
    (xa, ma), (xb, mb) = make_views(x, mask, which, "reference", torch.Generator().manual_seed(3))
    check_batch(xa, ma), check_batch(xb, mb)
    assert torch.equal(ma, mask)  # no split in view a
    assert torch.equal(xa[..., 0], x[..., 0])  # its constituents keep their pT
    # view a is a rigid motion of the jet: the distances between its constituents are kept
    pair = lambda v: torch.cdist(v[..., 1:].double(), v[..., 1:].double())  # noqa: E731
    real_pairs = mask[:, :, None] & mask[:, None, :]
    torch.testing.assert_close(pair(xa)[real_pairs], pair(x)[real_pairs], atol=1e-5, rtol=1e-5)
    if not {"rotations", "translations"} & set(which):
        assert torch.equal(xa, x)
    if "collinear" in which:
        assert (mb.sum(1) > mask.sum(1)).any()
    else:
        assert torch.equal(mb, mask)
    if "soft" in which:  # smeared: the distances between the (parent) constituents of view b change
        assert not torch.allclose(pair(xb)[real_pairs], pair(x)[real_pairs], atol=1e-4)
    if not which:
        assert torch.equal(xa, x) and torch.equal(xb, x)
    if "rotations" in which or "translations" in which:  # each view draws its own motion
        assert not torch.allclose(xa[:, 0], xb[:, 0], atol=1e-4)


def test_symmetric_views_augment_both_views():
    x, mask = _centred_batch(64, seed=2, n_constituents=6, extra_slots=6)
    (xa, ma), (xb, mb) = make_views(x, mask, ("collinear", "soft"), "symmetric", torch.Generator().manual_seed(3))
    assert (ma.sum(1) > mask.sum(1)).any() and (mb.sum(1) > mask.sum(1)).any()
    assert not torch.equal(xa, xb)
    # the same draws as two augment calls in a row
    g = torch.Generator().manual_seed(3)
    first, second = augment(x, mask, ("collinear", "soft"), generator=g), augment(x, mask, ("collinear", "soft"), generator=g)
    assert torch.equal(first[0], xa) and torch.equal(second[0], xb)


def test_make_views_rejects_an_unknown_scheme():
    x, mask = random_batch(2, 3, seed=0)
    assert set(VIEW_SCHEMES) == {"reference", "symmetric"}
    with pytest.raises(ConfigError, match="view scheme"):
        make_views(x, mask, AUGMENTATIONS, "both")


def test_augment_translates_by_the_unaugmented_jets_extent():
    """augment translates by ±width times the extent of the jet it is given (or ±width rad)."""
    x, mask = _centred_batch(2000, seed=4, n_constituents=6, extra_slots=0)
    extent = jet_extent(x, mask)
    g = torch.Generator().manual_seed(0)
    # with no rotation, the shift of the pT-weighted axis is the translation (smearing is zero-mean)
    out, _ = augment(x, mask, ("translations",), translation_width=1.0, generator=g)
    shift = torch.as_tensor(jet_axis(out, mask) - jet_axis(x, mask))
    assert (shift.abs() <= extent.double() + 1e-5).all()
    wide = extent > 0.1
    assert (shift.abs()[wide] / extent.double()[wide]).max() > 0.95
    rad, _ = augment(x, mask, ("translations",), translation_width=0.2, translation_unit="rad", generator=g)
    assert (torch.as_tensor(jet_axis(rad, mask) - jet_axis(x, mask)).abs() <= 0.2 + 1e-5).all()


def test_augmentation_constants():
    assert set(AUGMENTATIONS) == {"collinear", "soft", "rotations", "translations"}
    assert all(set(v) <= set(AUGMENTATIONS) for v in ABLATION.values())
    assert ABLATION["none"] == () and set(ABLATION["all"]) == set(AUGMENTATIONS)
    assert LAMBDA_SOFT == pytest.approx(0.1)
    assert PT_CLIP_MIN == pytest.approx(0.1)  # the reference's clip (GeV)


# ----------------------------------------------------------------------------- NT-Xent
def _nt_xent_by_hand(z, zp, tau):
    v = np.concatenate([z, zp]).astype(np.float64)
    v = v / np.linalg.norm(v, axis=1, keepdims=True)
    n = len(v)
    B = n // 2
    total = 0.0
    for i in range(n):
        partner = (i + B) % n
        s = lambda k: float(np.dot(v[i], v[k])) / tau
        denominator = sum(np.exp(s(k)) for k in range(n) if k != i)
        total += -np.log(np.exp(s(partner)) / denominator)
    return total / n


@pytest.mark.parametrize("B", [2, 3, 4, 5])
@pytest.mark.parametrize("temperature", [0.1, 0.5])
@pytest.mark.parametrize("seed", [0, 1])
def test_nt_xent_equals_hand_computation(B, temperature, seed):
    rng = np.random.default_rng(seed * 10 + B)
    z, zp = rng.standard_normal((B, 4)), rng.standard_normal((B, 4))
    loss = nt_xent(torch.as_tensor(z), torch.as_tensor(zp), temperature)
    assert loss.ndim == 0
    assert float(loss) == pytest.approx(_nt_xent_by_hand(z, zp, temperature), abs=1e-6)
    # float32 inputs give the same to float32 precision
    loss32 = nt_xent(torch.as_tensor(z, dtype=torch.float32), torch.as_tensor(zp, dtype=torch.float32), temperature)
    assert float(loss32) == pytest.approx(_nt_xent_by_hand(z, zp, temperature), rel=1e-5)


@pytest.mark.parametrize("B", [3, 5])
def test_nt_xent_is_scale_invariant_and_symmetric(B):
    rng = np.random.default_rng(B)
    z, zp = torch.as_tensor(rng.standard_normal((B, 4))), torch.as_tensor(rng.standard_normal((B, 4)))
    ref = nt_xent(z, zp, 0.2)
    torch.testing.assert_close(nt_xent(3.0 * z, 0.5 * zp, 0.2), ref)
    torch.testing.assert_close(nt_xent(zp, z, 0.2), ref)  # swapping the two views
    perm = torch.as_tensor(rng.permutation(B))
    torch.testing.assert_close(nt_xent(z[perm], zp[perm], 0.2), ref)  # reordering the pairs


@pytest.mark.parametrize("B,D", [(8, 4), (32, 16)])
@pytest.mark.parametrize("temperature", [0.1, 0.5])
def test_nt_xent_is_lower_for_aligned_positives(B, D, temperature):
    g = torch.Generator().manual_seed(B + D)
    z = torch.randn(B, D, generator=g)
    aligned = nt_xent(z, z + 0.05 * torch.randn(B, D, generator=g), temperature)
    random = nt_xent(z, torch.randn(B, D, generator=g), temperature)
    assert aligned < random
    # the positive is in the denominator, so every term is positive
    assert 0 < float(aligned) < float(random)


@pytest.mark.parametrize("z,zp", [
    (torch.randn(1, 4), torch.randn(1, 4)),
    (torch.randn(3, 4), torch.randn(4, 4)),
    (torch.randn(3, 4), torch.randn(3, 5)),
    (torch.randn(4), torch.randn(4)),
    (torch.randn(2, 3, 4), torch.randn(2, 3, 4)),
], ids=["B=1", "B mismatch", "D mismatch", "1-d", "3-d"])
def test_nt_xent_rejects_bad_shapes(z, zp):
    with pytest.raises(SchemaError):
        nt_xent(z, zp)


@pytest.mark.parametrize("temperature", [0.0, -0.1, float("nan")])
def test_nt_xent_rejects_bad_temperature(temperature):
    with pytest.raises(ConfigError):
        nt_xent(torch.randn(3, 4), torch.randn(3, 4), temperature)


# ----------------------------------------------------------------------------- alignment / uniformity
@pytest.mark.parametrize("B,D", [(2, 3), (16, 8)])
def test_alignment_zero_for_identical_views_and_matches_formula(B, D):
    g = torch.Generator().manual_seed(B)
    z = torch.randn(B, D, generator=g, dtype=torch.float64)
    assert alignment(z, z.clone()) == pytest.approx(0.0, abs=1e-12)
    assert alignment(z, 4.0 * z) == pytest.approx(0.0, abs=1e-12)  # positives along the same direction
    zp = torch.randn(B, D, generator=g, dtype=torch.float64)
    a = z.numpy() / np.linalg.norm(z.numpy(), axis=1, keepdims=True)
    b = zp.numpy() / np.linalg.norm(zp.numpy(), axis=1, keepdims=True)
    for alpha in (1.0, 2.0):
        expected = np.mean([np.linalg.norm(a[i] - b[i]) ** alpha for i in range(B)])
        assert alignment(z, zp, alpha) == pytest.approx(expected, rel=1e-10)
    assert alignment(z, -z) == pytest.approx(4.0)  # opposite directions: ‖ẑ − (−ẑ)‖² = 4
    cos = cosine_similarity(z, zp).numpy()
    np.testing.assert_allclose(cos, (a * b).sum(1), atol=1e-12)


@pytest.mark.parametrize("B,D", [(8, 2), (32, 8)])
@pytest.mark.parametrize("t", [1.0, 2.0])
def test_uniformity_lower_for_spread_points_and_matches_formula(B, D, t):
    g = torch.Generator().manual_seed(B * D)
    spread = torch.randn(B, D, generator=g, dtype=torch.float64)
    direction = torch.randn(D, generator=g, dtype=torch.float64)
    clustered = direction + 0.05 * torch.randn(B, D, generator=g, dtype=torch.float64)
    assert uniformity(spread, t) < uniformity(clustered, t)
    assert uniformity(clustered, t) > -0.1 and uniformity(clustered, t) <= 0.0  # nearly one point: log 1 = 0
    a = spread.numpy() / np.linalg.norm(spread.numpy(), axis=1, keepdims=True)
    pairs = [np.exp(-t * np.sum((a[i] - a[j]) ** 2)) for i in range(B) for j in range(i + 1, B)]
    assert uniformity(spread, t) == pytest.approx(np.log(np.mean(pairs)), rel=1e-10)
    if D == 2:  # evenly spaced on the circle beats random points
        angles = torch.arange(B, dtype=torch.float64) * 2 * np.pi / B
        circle = torch.stack([torch.cos(angles), torch.sin(angles)], 1)
        assert uniformity(circle, t) <= uniformity(spread, t) + 1e-12


# ----------------------------------------------------------------------------- linear classifier test
def _mann_whitney_auc(labels, scores):
    pos, neg = scores[labels == 1], scores[labels == 0]
    greater = (pos[:, None] > neg[None, :]).sum()
    equal = (pos[:, None] == neg[None, :]).sum()
    return (greater + 0.5 * equal) / (len(pos) * len(neg))


def _blobs(n, D, separation, seed, feature=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    features = rng.standard_normal((n, D)) * rng.uniform(0.5, 3.0, D)  # unequal scales: standardisation matters
    features[:, feature] += separation * (labels - 0.5) * 2
    return features, labels


@pytest.mark.parametrize("D", [1, 4, 16])
@pytest.mark.parametrize("seed", [0, 1])
def test_linear_classifier_separates_blobs(D, seed):
    feature = D - 1
    train, y_train = _blobs(600, D, 4.0, seed, feature)
    test, y_test = _blobs(600, D, 4.0, seed + 100, feature)
    result = linear_classifier_test(train, y_train, test, y_test)
    assert result["auc"] > 0.95
    assert result["rejection"] > 10
    assert result["scores"].shape == (600,)
    assert result["auc"] == pytest.approx(_mann_whitney_auc(y_test, result["scores"]), abs=1e-12)
    assert result["auc"] == pytest.approx(roc_auc(y_test, result["scores"]), abs=1e-12)
    fpr, tpr = result["fpr"], result["tpr"]
    assert fpr[0] == 0 and tpr[0] == 0 and fpr[-1] == 1 and tpr[-1] == 1
    assert (np.diff(fpr) >= 0).all() and (np.diff(tpr) >= 0).all()
    # flipping the labels flips the classifier, not the AUC
    flipped = linear_classifier_test(train, 1 - y_train, test, 1 - y_test)
    assert flipped["auc"] == pytest.approx(result["auc"], abs=0.01)


@pytest.mark.parametrize("D", [2, 8])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_linear_classifier_at_chance_on_identical_classes(D, seed):
    train, y_train = _blobs(500, D, 0.0, seed)
    test, y_test = _blobs(2000, D, 0.0, seed + 50)
    result = linear_classifier_test(train, y_train, test, y_test)
    assert result["auc"] == pytest.approx(0.5, abs=0.1)
    assert result["auc"] == pytest.approx(_mann_whitney_auc(y_test, result["scores"]), abs=1e-12)


@pytest.mark.parametrize("labels", [np.zeros(20, int), np.ones(20, int)])
def test_linear_classifier_needs_both_classes(labels):
    features = np.random.default_rng(0).standard_normal((20, 3))
    test, y_test = _blobs(20, 3, 1.0, 1)
    with pytest.raises(ConfigError):
        linear_classifier_test(features, labels, test, y_test)


@pytest.mark.parametrize("train_shape,test_shape", [((20, 3), (10, 4)), ((20,), (10,)), ((20, 3), (10, 3, 1))])
def test_linear_classifier_rejects_bad_feature_shapes(train_shape, test_shape):
    rng = np.random.default_rng(0)
    with pytest.raises(SchemaError):
        linear_classifier_test(rng.standard_normal(train_shape), np.arange(20) % 2, rng.standard_normal(test_shape),
                               np.arange(10) % 2)


def test_linear_classifier_on_encoder_representations():
    """End to end: representations of two jet classes (one-prong vs two-prong) are linearly separable."""
    rng = np.random.default_rng(0)

    def jets(n, prongs):
        x = np.zeros((n, 6, 3), np.float32)
        x[:, :, 0] = rng.uniform(5, 20, (n, 6))
        if prongs == 1:
            x[:, :, 1:] = 0.02 * rng.standard_normal((n, 6, 2))
        else:
            x[:, :3, 1] = 0.3 + 0.02 * rng.standard_normal((n, 3))
            x[:, 3:, 1] = -0.3 + 0.02 * rng.standard_normal((n, 3))
            x[:, :, 2] = 0.02 * rng.standard_normal((n, 6))
        return torch.as_tensor(x)

    model = small_encoder(seed=3)
    mask = torch.ones(200, 6, dtype=torch.bool)
    with torch.no_grad():
        rep = np.concatenate([model.represent(jets(200, 1), mask).numpy(), model.represent(jets(200, 2), mask).numpy()])
    labels = np.r_[np.zeros(200, int), np.ones(200, int)]
    order = rng.permutation(400)
    rep, labels = rep[order], labels[order]
    result = linear_classifier_test(rep[:200], labels[:200], rep[200:], labels[200:])
    assert result["auc"] > 0.9
