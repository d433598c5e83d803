"""Torch models, losses, CRF and EMD used by the runners (no UI, no runner state)."""
