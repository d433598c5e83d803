"""jetviz: interactive analysis of machine learning on collider events.

The library (``jetviz.data`` → ``jetviz.models`` → ``jetviz.runners`` →
``jetviz.compute``/``jetviz.plots`` → ``jetviz.ui``) works without any UI; ``app/``
serves it with Panel.
"""
from jetviz.errors import JetvizError, DataFileError, SchemaError

__all__ = ["JetvizError", "DataFileError", "SchemaError", "__version__"]
__version__ = "0.1.0"
