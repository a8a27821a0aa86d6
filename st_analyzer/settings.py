"""Plugin settings kept in QGIS Processing's options (Settings → Options → Processing → Providers)."""

SETTING_PYTHON = "STANALYZER_PYTHON"


def configured_python() -> str:
    """The backend interpreter set in the provider settings ('' when unset or Processing is absent)."""
    try:
        from processing.core.ProcessingConfig import ProcessingConfig
    except ImportError:
        return ""
    return ProcessingConfig.getSetting(SETTING_PYTHON) or ""
