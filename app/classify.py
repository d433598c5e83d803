"""Classify page: ResNet18 on event images vs XGBoost on features (seed 003), sphalerons vs black holes.

The default run (``jetviz.ui.classify.PAGE_DEFAULTS``: bh_sph, 400 events, 3 folds, ResNet18 of
width 4 for 3 epochs) is small enough for a CPU. ``JETVIZ_CLASSIFY_<PARAM>`` env vars change any
config default (tests: ``JETVIZ_CLASSIFY_SAMPLE=toy_bh_sph``, ``JETVIZ_CLASSIFY_N_EVENTS=120`` ...);
the URL query (``?page=classify&n_events=1000&models=resnet,xgb_high``) overrides both.
"""
from jetviz.ui.classify import ClassifyPage


def page() -> ClassifyPage:
    """A new classify page for this session."""
    return ClassifyPage(url_query=True)


#: the dashboard calls it once per server process: every session then shows the reference run in its first render
warm = ClassifyPage.warm
