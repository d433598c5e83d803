"""jetclr page: contrastive jet representations (JetCLR, seed 004) on top vs QCD jets.

The default run (``jetviz.ui.jetclr.PAGE_DEFAULTS``: top_qcd, 800 jets, 3 epochs, a one-layer
transformer of width 32) is small enough for a CPU. ``JETVIZ_JETCLR_<PARAM>`` env vars change
any config default (tests: ``JETVIZ_JETCLR_SAMPLE=toy_top_qcd``, ``JETVIZ_JETCLR_N_JETS=200`` ...);
the URL query (``?page=jetclr&n_jets=2000&augmentations=rotations``) overrides both.
"""
from jetviz.ui.jetclr import JetclrPage


def page() -> JetclrPage:
    """A new jetclr page for this session."""
    return JetclrPage(url_query=True)


#: the dashboard calls it once per server process: every session then shows the reference run in its first render
warm = JetclrPage.warm
