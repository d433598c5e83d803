"""JetCLR (seed 004, arXiv:2108.04253): a permutation-invariant transformer over jet
constituents, the NT-Xent contrastive loss, alignment/uniformity and the linear classifier test.

:class:`JetCLREncoder` maps jets ``x`` ``(B, P, 3)`` = (pT [GeV], Δη, Δφ) (see
:mod:`jetviz.models.constituents`) to a representation r ``(B, rep_dim)`` (``represent``: the
linear classifier test and the invariance curve use it) and a projection-head output z
``(B, proj_dim)`` that the loss sees (``forward``; SimCLR's split). No positional encoding and
a symmetric pooling make the output invariant under any permutation of the constituents
(tested). Two kinds (``kind``):

``"irc_safe"`` (default; JetCLR's reference with ``cmask``, made exact)
    Each constituent is embedded from its angles (Δη/(R/4), Δφ/(R/4)) alone; every attention
    layer adds log(pT_j/ΣpT) to the logit of key j, so the attention weight of key j in the
    row of query i is

        a_ij = pT_j · exp(s_ij) / Σ_k pT_k · exp(s_ik),   s_ij = q_i·k_j/√d_head,

    and the pooled output is the pT-weighted mean Σ_i (pT_i/ΣpT) h_i of the last layer's states.

    *Infrared safety.* A constituent with pT = 0 gets the logit −∞ as a key (a_ij = 0 exactly)
    and the weight 0 in the pooling, so it changes no other state and not the output, wherever
    it sits (padded rows are such constituents); as pT_j → 0 its influence vanishes linearly.

    *Collinear safety.* Split a constituent j into two with pT fractions z and 1 − z at the same
    (η, φ). The two get the same embedding, since the embedding sees only angles. Inductively
    over the layers, if the two copies carry the state h_j of the unsplit constituent, then for
    every query i the copies enter numerator and denominator of a_ij as
    z·pT_j·exp(s_ij)·v_j + (1 − z)·pT_j·exp(s_ij)·v_j = pT_j·exp(s_ij)·v_j — exactly the unsplit
    term — so every query's attention output, and hence every state after the layer (residual,
    LayerNorm and feed-forward act per constituent), is unchanged, and the copies, being
    identical queries, again both carry the unsplit state. The pooling gives them the weights
    z·pT_j and (1 − z)·pT_j on one state h_j: the output is unchanged. Both hold to rounding
    (tested to 1e-5 in float32 and float64), in eval mode (dropout off).

    JetCLR's reference adds ½·log pT (weights ∝ √pT, not collinear safe) and feeds pT/600 to
    the embedding (which tells the two halves of a split apart); both are dropped here.

``"plain"`` (jetviz before issue 18, kept for the ablation)
    Embedding of (log-pT fraction, Δη/(R/4), Δφ/(R/4)), attention masking only the padding and
    a plain mean over the real constituents: not IRC safe — a soft or split constituent weighs
    as much as a hard one.

:func:`nt_xent` is SimCLR's normalised-temperature cross entropy over the 2B views of a batch:
for view i with positive partner i⁺,
    L_i = −log[ exp(s(z_i, z_i⁺)/τ) / Σ_{k ≠ i} exp(s(z_i, z_k)/τ) ],  s = cosine similarity,
averaged over all 2B views (the positive is in the denominator, as in SimCLR and JetCLR's
code; the seed's slide leaves it out).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from jetviz.errors import ConfigError, SchemaError
from jetviz.models.constituents import check_batch, rotate
from jetviz.models.metrics import background_rejection, roc_auc, roc_curve

__all__ = [
    "representations",
    "invariance_curve",
    "ENCODER_KINDS",
    "JetCLREncoder",
    "nt_xent",
    "cosine_similarity",
    "alignment",
    "uniformity",
    "linear_classifier_test",
]


#: the encoder kinds (see the module docstring)
ENCODER_KINDS = ("irc_safe", "plain")


class JetCLREncoder(nn.Module):
    """Transformer encoder over constituents + projection head.

    Parameters
    ----------
    d_model : int, optional
        Width of the constituent embedding and the transformer.
    n_heads : int, optional
        Attention heads (must divide d_model).
    n_layers : int, optional
        Transformer encoder layers.
    rep_dim : int, optional
        Size of the representation r.
    proj_dim : int, optional
        Size of the projection-head output z.
    R : float, optional
        Jet radius scaling Δη, Δφ.
    dropout : float, optional
        Dropout inside the transformer layers.
    kind : str, optional
        ``"irc_safe"`` (pT-weighted attention and pooling) or ``"plain"`` (see the module
        docstring).
    """

    def __init__(self, d_model: int = 64, n_heads: int = 4, n_layers: int = 2, rep_dim: int = 64, proj_dim: int = 32,
                 R: float = 0.8, dropout: float = 0.0, kind: str = "irc_safe"):
        super().__init__()
        if d_model < 1 or n_heads < 1 or d_model % n_heads or n_layers < 1 or rep_dim < 1 or proj_dim < 1 or not R > 0:
            raise ConfigError(f"bad JetCLR encoder settings: d_model={d_model} (divisible by n_heads={n_heads}), "
                              f"n_layers={n_layers}, rep_dim={rep_dim}, proj_dim={proj_dim}, R={R}")
        if kind not in ENCODER_KINDS:
            raise ConfigError(f"JetCLR encoder kind must be one of {ENCODER_KINDS}, got {kind!r}")
        self.settings = dict(d_model=d_model, n_heads=n_heads, n_layers=n_layers, rep_dim=rep_dim, proj_dim=proj_dim,
                             R=R, dropout=dropout, kind=kind)
        self.R = float(R)
        self.kind = kind
        n_inputs = 2 if kind == "irc_safe" else 3
        self.embed = nn.Sequential(nn.Linear(n_inputs, d_model), nn.ReLU(), nn.Linear(d_model, d_model))
        layer = nn.TransformerEncoderLayer(d_model, n_heads, dim_feedforward=2 * d_model, dropout=dropout,
                                           batch_first=True, norm_first=True)
        self.transformer = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.to_rep = nn.Sequential(nn.LayerNorm(d_model), nn.Linear(d_model, rep_dim))
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(rep_dim, rep_dim), nn.ReLU(), nn.Linear(rep_dim, proj_dim))

    def represent(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Representation ``(B, rep_dim)`` of jets ``x`` ``(B, P, 3)`` with ``mask`` ``(B, P)``."""
        check_batch(x, mask)
        pt = x[..., 0] * mask
        fraction = pt / pt.sum(1, keepdim=True)
        angles = x[..., 1:] / (self.R / 4)  # angles in units of R/4: O(1) inside the jet
        if self.kind == "plain":
            log_fraction = torch.where(mask, torch.log(fraction.clamp_min(1e-30)), torch.zeros_like(fraction))
            features = torch.cat([((log_fraction + 4.0) / 2.0 * mask)[..., None], angles], dim=-1)
            h = self.transformer(self.embed(features), src_key_padding_mask=~mask)
            weights = mask.to(h.dtype)[..., None]
            return self.to_rep((h * weights).sum(1) / weights.sum(1))
        # irc_safe: log(pT_j/ΣpT) on every key's logit (−∞ for pT = 0 and padding), pT-weighted pooling
        weighted = mask & (pt > 0)
        bias = torch.where(weighted, torch.log(fraction.clamp_min(1e-30)), torch.full_like(fraction, float("-inf")))
        h = self.embed(angles)
        for layer in self.transformer.layers:
            h = _biased_layer(layer, h, bias[:, None, None, :])
        pooled = torch.where(weighted[..., None], h * fraction[..., None], torch.zeros_like(h)).sum(1)
        return self.to_rep(pooled)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(representation r ``(B, rep_dim)``, projection z ``(B, proj_dim)``)."""
        rep = self.represent(x, mask)
        return rep, self.head(rep)


def _biased_layer(layer: nn.TransformerEncoderLayer, h: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """One pre-norm ``layer`` on states ``h`` ``(B, P, d)`` with ``bias`` ``(B, 1, 1, P)`` added to
    every attention logit (the layer's own weights; its forward is not used because PyTorch's
    eval-mode fast path mishandles a per-jet float mask: up to 0.5 off the exact result)."""
    attention = layer.self_attn
    B, P, d = h.shape
    heads = attention.num_heads
    q, k, v = F.linear(layer.norm1(h), attention.in_proj_weight, attention.in_proj_bias).chunk(3, dim=-1)
    split = lambda t: t.reshape(B, P, heads, d // heads).transpose(1, 2)  # noqa: E731
    out = F.scaled_dot_product_attention(split(q), split(k), split(v), attn_mask=bias,
                                         dropout_p=attention.dropout if layer.training else 0.0)
    h = h + layer.dropout1(attention.out_proj(out.transpose(1, 2).reshape(B, P, d)))
    return h + layer.dropout2(layer.linear2(layer.dropout(layer.activation(layer.linear1(layer.norm2(h))))))


def cosine_similarity(z_a: torch.Tensor, z_b: torch.Tensor) -> torch.Tensor:
    """s(z, z′) = z·z′ / (|z| |z′|) row by row: ``(B, D)``, ``(B, D)`` → ``(B,)``."""
    return F.cosine_similarity(z_a, z_b, dim=-1, eps=1e-12)


def nt_xent(z: torch.Tensor, z_positive: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """SimCLR's NT-Xent loss (scalar) of the views ``z`` ``(B, D)`` and their positives ``z_positive`` ``(B, D)``."""
    if z.ndim != 2 or z.shape != z_positive.shape or len(z) < 2:
        raise SchemaError(f"nt_xent needs two (B, D) batches with B ≥ 2, got {tuple(z.shape)} and {tuple(z_positive.shape)}")
    if not temperature > 0:
        raise ConfigError(f"temperature must be > 0, got {temperature}")
    B = len(z)
    views = F.normalize(torch.cat([z, z_positive]), dim=1, eps=1e-12)
    logits = views @ views.T / temperature
    logits = logits.masked_fill(torch.eye(2 * B, dtype=torch.bool, device=z.device), float("-inf"))
    partner = torch.cat([torch.arange(B, 2 * B), torch.arange(0, B)]).to(z.device)
    return F.cross_entropy(logits, partner)


def alignment(z: torch.Tensor, z_positive: torch.Tensor, alpha: float = 2.0) -> float:
    """Wang & Isola's alignment E ‖ẑ − ẑ⁺‖^α of normalised positive pairs (0 = perfectly invariant)."""
    a, b = F.normalize(z, dim=1), F.normalize(z_positive, dim=1)
    return float((a - b).norm(dim=1).pow(alpha).mean())


def uniformity(z: torch.Tensor, t: float = 2.0) -> float:
    """Wang & Isola's uniformity log E exp(−t ‖ẑ_i − ẑ_j‖²) over pairs i < j (lower = more uniform)."""
    a = F.normalize(z, dim=1)
    distances = torch.pdist(a).pow(2)
    return float(torch.log(torch.exp(-t * distances).mean()))


def linear_classifier_test(train_features: np.ndarray, train_labels: np.ndarray, test_features: np.ndarray,
                           test_labels: np.ndarray, l2: float = 1e-4, max_iter: int = 200) -> dict:
    """The seed's linear classifier test: logistic regression on frozen representations.

    Features are standardised with the training set's mean and spread; the weights are fitted
    by L-BFGS on the mean binary cross entropy + ``l2``·‖w‖². Returns ``auc``,
    ``rejection`` (1/ε_b at ε_s = 0.5), the test ``scores`` ``(N_test,)`` and ``fpr``/``tpr``
    of the test ROC curve.
    """
    train = np.asarray(train_features, dtype=np.float64)
    test = np.asarray(test_features, dtype=np.float64)
    y_train, y_test = np.asarray(train_labels), np.asarray(test_labels)
    if train.ndim != 2 or test.ndim != 2 or train.shape[1] != test.shape[1]:
        raise SchemaError(f"features must be (N, D) with one D, got {train.shape} and {test.shape}")
    if len(np.unique(y_train)) != 2:
        raise ConfigError("the linear classifier test needs both classes in its training set")
    mean, std = train.mean(0), train.std(0) + 1e-8
    xt = torch.as_tensor((train - mean) / std)
    yt = torch.as_tensor(y_train, dtype=torch.float64)
    weight = torch.zeros(train.shape[1], dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.LBFGS([weight, bias], max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure():
        optimiser.zero_grad()
        loss = F.binary_cross_entropy_with_logits(xt @ weight + bias, yt) + l2 * (weight**2).sum()
        loss.backward()
        return loss

    optimiser.step(closure)
    with torch.no_grad():
        scores = (torch.as_tensor((test - mean) / std) @ weight + bias).numpy()
    fpr, tpr, _ = roc_curve(y_test, scores)
    return {"auc": roc_auc(y_test, scores), "rejection": background_rejection(y_test, scores, 0.5),
            "scores": scores, "fpr": fpr, "tpr": tpr}


@torch.no_grad()
def representations(model: JetCLREncoder, x: np.ndarray, mask: np.ndarray, device: str = "cpu",
                    batch_size: int = 1024) -> np.ndarray:
    """Representations ``(N, rep_dim)`` (float64) of jets ``x`` ``(N, P, 3)`` / ``mask`` ``(N, P)``."""
    model.eval()
    out = [model.represent(torch.as_tensor(x[s:s + batch_size], device=device),
                           torch.as_tensor(mask[s:s + batch_size], device=device)).cpu().numpy()
           for s in range(0, len(x), batch_size)]
    return np.concatenate(out).astype(np.float64)


@torch.no_grad()
def invariance_curve(model: JetCLREncoder, x: np.ndarray, mask: np.ndarray, angles: np.ndarray,
                     device: str = "cpu") -> np.ndarray:
    """⟨s(r(x), r(R(θ)x))⟩ over the jets for each rotation angle θ (rad): ``(len(angles),)``."""
    model.eval()
    xt, mt = torch.as_tensor(x, device=device), torch.as_tensor(mask, device=device)
    reference = model.represent(xt, mt)
    out = []
    for angle in angles:
        turned, _ = rotate(xt, mt, angles=torch.full((len(xt),), float(angle)))
        out.append(float(cosine_similarity(reference, model.represent(turned, mt)).mean()))
    return np.array(out)
