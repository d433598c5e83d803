"""vae_emd page: a β-VAE on QCD jet images vs the Energy Mover's Distance (seed 002), top jets as the anomaly.

The default run (``jetviz.ui.vae_emd.PAGE_DEFAULTS``: top_qcd, 600 jets, 5 epochs, 8 channels,
40 jets for the pair correlations) is small enough for a CPU. ``JETVIZ_VAE_EMD_<PARAM>`` env
vars change any config default (tests: ``JETVIZ_VAE_EMD_SAMPLE=toy_top_qcd``,
``JETVIZ_VAE_EMD_N_JETS=200`` ...); the URL query (``?page=vae_emd&n_jets=1000&beta=1e-6``)
overrides both.
"""
from jetviz.ui.vae_emd import VaeEmdPage


def page() -> VaeEmdPage:
    """A new vae_emd page for this session."""
    return VaeEmdPage(url_query=True)


#: the dashboard calls it once per server process: every session then shows the reference run in its first render
warm = VaeEmdPage.warm
