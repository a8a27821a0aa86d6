"""The plugin stays loadable on QGIS 4 (Qt 6 / PyQt6): it uses only constructs valid in PyQt5 and PyQt6.

The checks follow what QGIS's pyqt5_to_pyqt6 script rewrites: direct PyQt5 imports, unscoped Qt enums,
exec_(), QVariant types, QRegExp, QDesktopWidget and other Qt5-only names.
"""

import re

import pytest

from tests.paths import REPO

PLUGIN_FILES = sorted((REPO / "st_analyzer").rglob("*.py"))
QT5_ONLY = {
    r"^\s*(from|import)\s+PyQt5\b": "import Qt through qgis.PyQt, not PyQt5",
    r"^\s*(from|import)\s+sip\b": "use qgis.PyQt.sip",
    r"\bQt\.[A-Za-z_]\w*\b(?!\s*\.)": "write Qt enums scoped (Qt.DateFormat.ISODate, not Qt.ISODate)",
    r"\.exec_\(": "exec_() is gone in PyQt6: call exec()",
    r"\bQVariant\.(Int|Double|String|Bool|Date|DateTime|LongLong)\b": "use QMetaType.Type (QVariant types are gone)",
    r"\bQRegExp\b": "QRegExp is gone in Qt 6: use QRegularExpression",
    r"\bQDesktopWidget\b": "QDesktopWidget is gone in Qt 6: use QScreen",
    r"\bQtWidgets\.QAction\b|from qgis\.PyQt\.QtWidgets import[^\n]*\bQAction\b": "QAction lives in QtGui in Qt 6",
    r"\bsetMargin\(": "setMargin() is gone in Qt 6: use setContentsMargins()",
}


@pytest.mark.parametrize("pattern, advice", QT5_ONLY.items(), ids=list(QT5_ONLY.values()))
def test_no_qt5_only_construct_in_the_plugin(pattern, advice):
    found = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path in PLUGIN_FILES
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if re.search(pattern, line) and not line.lstrip().startswith("#")
    ]
    assert not found, f"{advice}:\n" + "\n".join(found)


def test_metadata_lists_the_plugin_for_qgis_4():
    text = (REPO / "st_analyzer" / "metadata.txt").read_text(encoding="utf-8")
    maximum = re.search(r"^qgisMaximumVersion=(\d+)\.(\d+)", text, re.M)
    assert maximum and int(maximum.group(1)) >= 4
