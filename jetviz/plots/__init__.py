"""Pure plotting functions: numpy arrays / results → HoloViews elements (no Panel, no torch).

Plot options are set for the bokeh backend (importing :mod:`jetviz.plots.events` registers
HoloViews' bokeh options without choosing a notebook output); to display the elements, a
notebook calls ``hv.extension("bokeh")`` or ``pn.extension()``, and Panel renders them in the app.
"""
from jetviz.plots.events import (
    CHANNELS,
    ETA_LABEL,
    PHI_LABEL,
    detector_image,
    jet_table,
    multiplicity_histogram,
    particle_table,
    particles_scatter,
    pt_histogram,
)

__all__ = [
    "CHANNELS",
    "ETA_LABEL",
    "PHI_LABEL",
    "detector_image",
    "jet_table",
    "multiplicity_histogram",
    "particle_table",
    "particles_scatter",
    "pt_histogram",
]
