"""Plugin name and version, read once from metadata.txt (the single source of both)."""

from configparser import ConfigParser
from pathlib import Path

DIR_PLUGIN_ROOT = Path(__file__).parent
_METADATA = ConfigParser(interpolation=None)
_METADATA.read(DIR_PLUGIN_ROOT / "metadata.txt", encoding="utf-8")

__title__ = _METADATA.get("general", "name")
__version__ = _METADATA.get("general", "version")
