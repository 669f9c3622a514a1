"""habla: a self-hostable chatbot platform.

One engine (personas, history, context window, guards, accounting) behind several
channels. This package root only exposes the version; everything else lives in the
layers described in DESIGN.md.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("habla")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
