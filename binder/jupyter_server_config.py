# Jupyter server config for Binder, copied by binder/postBuild into `jupyter --config-dir`
# (~/.jupyter). jupyter-server-proxy serves the jetviz dashboard at {base_url}panel/app and adds
# a "jetviz dashboard" tile to the JupyterLab launcher. See jetviz/binder.py.
from jetviz.binder import servers

c.ServerProxy.servers = servers()  # noqa: F821 (`c` is provided by Jupyter's config loader)
