"""Runners: one module per method — config (param) → fit(progress) → results (dataclass + run directory)."""
