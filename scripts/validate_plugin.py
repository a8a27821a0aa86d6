#!/usr/bin/env python3
"""Applies the QGIS plugin repository's upload checks to a plugin zip, offline.

    python scripts/validate_plugin.py st_analyzer.0.2.0.zip

Errors (exit 1) are what the repository refuses: size over 25 MB, paths with '..' or a leading '/',
.pyc files or __pycache__/.git/__MACOSX folders, a damaged zip, more or less than one top-level folder,
no __init__.py, metadata.txt or LICENSE in it, missing required metadata, an invalid package or author
name, URLs without scheme and host, a missing icon; and, for this project, compiled binaries (.so, .pyd,
.dll, .dylib, .exe), an empty changelog or no qgisMaximumVersion ≥ 4 (QGIS 4 lists only such plugins).
Warnings (exit 0): what can only be checked online — URLs that do not exist yet (placeholders on the
reserved .invalid domain, kept in metadata.txt only).
"""

from __future__ import annotations

import configparser
import re
import sys
import zipfile
from pathlib import Path
from urllib.parse import urlparse

MAX_BYTES = 25_000_000
REQUIRED = ("name", "description", "version", "qgisMinimumVersion", "author", "email", "about", "tracker", "repository")
URL_FIELDS = ("tracker", "repository", "homepage")
FORBIDDEN_DIRS = {"__MACOSX", ".git", "__pycache__"}
BINARY_SUFFIXES = (".pyc", ".pyo", ".so", ".pyd", ".dll", ".dylib", ".exe")
PLACEHOLDER_DOMAIN = ".invalid"


def validate(path: Path) -> tuple[list[str], list[str]]:
    """(errors, warnings) for the plugin zip at ``path``."""
    errors: list[str] = []
    warnings: list[str] = []
    if path.stat().st_size > MAX_BYTES:
        errors.append(f"the zip is {path.stat().st_size / 1e6:.1f} MB; the repository takes at most 25 MB")
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        return [f"{path} is not a zip file"], warnings
    with archive:
        names = archive.namelist()
        for name in names:
            parts = name.split("/")
            if ".." in parts or name.startswith("/"):
                errors.append(f"path information in the zip: {name}")
            if FORBIDDEN_DIRS & set(parts[:-1] if not name.endswith("/") else parts):
                errors.append(f"forbidden folder in the zip: {name}")
            if name.lower().endswith(BINARY_SUFFIXES):
                errors.append(f"compiled file in the zip: {name}")
        damaged = archive.testzip()
        if damaged:
            errors.append(f"damaged entry in the zip: {damaged}")
        tops = sorted({name.split("/")[0] for name in names})
        if len(tops) != 1:
            return errors + [f"the zip must hold one top-level folder, found: {', '.join(tops)}"], warnings
        package = tops[0]
        if not re.match(r"^[A-Za-z][A-Za-z0-9-_]+$", package):
            errors.append(
                f"the top-level folder {package!r} must start with a letter and use only letters, digits, '-' and '_'"
            )
        for required in ("__init__.py", "metadata.txt", "LICENSE"):
            if f"{package}/{required}" not in names:
                errors.append(f"{package}/{required} is missing")
        if f"{package}/metadata.txt" not in names:
            return errors, warnings
        parser = configparser.ConfigParser(interpolation=None)
        parser.optionxform = str
        parser.read_string(archive.read(f"{package}/metadata.txt").decode("utf-8"))
        if not parser.has_section("general"):
            return errors + ["metadata.txt has no [general] section"], warnings
        meta = dict(parser.items("general"))
        missing = [key for key in REQUIRED if not meta.get(key, "").strip()]
        if missing:
            errors.append(f"metadata.txt lacks {', '.join(missing)}")
        if "/" in meta.get("author", ""):
            errors.append("the author name cannot contain '/'")
        icon = meta.get("icon", "").removeprefix("./")
        if not icon or f"{package}/{icon}" not in names:
            errors.append(f"the icon {icon or '(none)'} is not in the zip")
        if not meta.get("changelog", "").strip():
            errors.append("metadata.txt has an empty changelog")
        maximum = meta.get("qgisMaximumVersion", "")
        if not maximum or int(maximum.split(".")[0]) < 4:
            errors.append("qgisMaximumVersion must be ≥ 4.0 for QGIS 4 to list the plugin")
        for key in URL_FIELDS:
            url = meta.get(key, "").strip()
            if not url:
                continue
            parsed = urlparse(url)
            if not (parsed.scheme in ("http", "https") and parsed.netloc):
                errors.append(f"{key} is not a web address: {url}")
            elif parsed.hostname and parsed.hostname.endswith(PLACEHOLDER_DOMAIN):
                warnings.append(f"{key} is a placeholder that does not exist yet: {url}")
        if meta.get("email", "").strip().endswith(PLACEHOLDER_DOMAIN):
            warnings.append(f"email is a placeholder: {meta['email'].strip()}")
    return errors, warnings


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    errors, warnings = validate(Path(argv[0]))
    for error in errors:
        print(f"ERROR: {error}")
    for warning in warnings:
        print(f"WARNING: {warning}")
    print(f"{len(errors)} error(s), {len(warnings)} warning(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
