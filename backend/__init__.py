"""st_analyzer backend: QGIS-free space-time data model, IO and engines.

Every command of the command-line interface (``python -m backend``) is also a plain
Python function in :mod:`backend.commands`.
"""

__version__ = "0.2.0"
