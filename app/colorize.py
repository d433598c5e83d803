"""Colorize page: train the U-Net (+ CRF) jet colorizer of seed 000, reopen runs, scrub CRF iterations.

The default run (``jetviz.ui.colorize.PAGE_DEFAULTS``: ee_6jet, 200 train / 50 test events, 10
epochs) is small enough for a CPU. ``JETVIZ_COLORIZE_<PARAM>`` env vars change any config
default (tests: ``JETVIZ_COLORIZE_SAMPLE=toy_ee_6jet``, ``JETVIZ_COLORIZE_N_TRAIN=32`` ...); the
URL query (``?page=colorize&n_train=500&crf=true``) overrides both.
"""
from jetviz.ui.colorize import ColorizePage


def page() -> ColorizePage:
    """A new colorize page for this session."""
    return ColorizePage(url_query=True)


#: the dashboard calls it once per server process: every session then shows the reference run in its first render
warm = ColorizePage.warm
