"""JetCLR (seed 004, arXiv:2108.04253): a permutation-invariant transformer over jet
constituents, the NT-Xent contrastive loss, alignment/uniformity and the linear classifier test.

:class:`JetCLREncoder` embeds each constituent of ``x`` ``(B, P, 3)`` = (pT [GeV], Δη, Δφ)
(see :mod:`jetviz.models.constituents`) as (pT/ΣpT, Δη/R, Δφ/R), runs a transformer encoder
whose attention ignores padded rows (``src_key_padding_mask``), and pools the real
constituents by their mean: no positional encoding and a symmetric pooling make the output
invariant under any permutation of the constituents (tested). ``represent`` gives the
representation r ``(B, rep_dim)`` used by the linear classifier test and the invariance
curve; ``forward`` also returns the projection-head output z ``(B, proj_dim)`` that the loss
sees (SimCLR's split).

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
from jetviz.models.constituents import check_batch
from jetviz.models.metrics import background_rejection, roc_auc, roc_curve

__all__ = [
    "JetCLREncoder",
    "nt_xent",
    "cosine_similarity",
    "alignment",
    "uniformity",
    "linear_classifier_test",
]


class JetCLREncoder(nn.Module):
    """Transformer encoder over constituents + projection head.

    Arguments:
        d_model: width of the constituent embedding and the transformer.
        n_heads: attention heads (must divide d_model).
        n_layers: transformer encoder layers.
        rep_dim: size of the representation r.
        proj_dim: size of the projection-head output z.
        R: jet radius scaling Δη, Δφ.
        dropout: dropout inside the transformer layers.
    """

    def __init__(self, d_model: int = 64, n_heads: int = 4, n_layers: int = 2, rep_dim: int = 64, proj_dim: int = 32,
                 R: float = 0.8, dropout: float = 0.0):
        super().__init__()
        if d_model < 1 or n_heads < 1 or d_model % n_heads or n_layers < 1 or rep_dim < 1 or proj_dim < 1 or not R > 0:
            raise ConfigError(f"bad JetCLR encoder settings: d_model={d_model} (divisible by n_heads={n_heads}), "
                              f"n_layers={n_layers}, rep_dim={rep_dim}, proj_dim={proj_dim}, R={R}")
        self.settings = dict(d_model=d_model, n_heads=n_heads, n_layers=n_layers, rep_dim=rep_dim, proj_dim=proj_dim,
                             R=R, dropout=dropout)
        self.R = float(R)
        self.embed = nn.Sequential(nn.Linear(3, d_model), nn.ReLU(), nn.Linear(d_model, d_model))
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
        log_fraction = torch.where(mask, torch.log(fraction.clamp_min(1e-30)), torch.zeros_like(fraction))
        scale = self.R / 4  # angles in units of R/4: O(1) inside the jet
        features = torch.stack([(log_fraction + 4.0) / 2.0 * mask, x[..., 1] / scale, x[..., 2] / scale], dim=-1)
        h = self.embed(features)
        h = self.transformer(h, src_key_padding_mask=~mask)
        weights = mask.to(h.dtype)[..., None]
        pooled = (h * weights).sum(1) / weights.sum(1)
        return self.to_rep(pooled)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(representation r ``(B, rep_dim)``, projection z ``(B, proj_dim)``)."""
        rep = self.represent(x, mask)
        return rep, self.head(rep)


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
