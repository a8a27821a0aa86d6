"""Plugin settings kept in QGIS Processing's options (Settings → Options → Processing → Providers)."""

SETTING_PYTHON = "STANALYZER_PYTHON"


def store_python(python: str) -> None:
    """Remember the backend interpreter in the provider settings (kept in the QGIS profile)."""
    from qgis.core import QgsSettings

    QgsSettings().setValue(f"Processing/Configuration/{SETTING_PYTHON}", python)
    try:
        from processing.core.ProcessingConfig import ProcessingConfig
    except ImportError:
        return
    if SETTING_PYTHON in ProcessingConfig.settings:
        ProcessingConfig.setSettingValue(SETTING_PYTHON, python)


def profile_environment_python() -> str:
    """The interpreter of the environment 'Set up backend' makes by default in this QGIS profile ('' if none)."""
    try:
        from qgis.core import QgsApplication
    except ImportError:
        return ""
    from st_analyzer.backend_setup import default_folder, venv_python

    python = venv_python(default_folder(QgsApplication.qgisSettingsDirPath()))
    return str(python) if python.is_file() else ""


def configured_python() -> str:
    """The backend interpreter set in the provider settings ('' when unset or Processing is absent)."""
    try:
        from processing.core.ProcessingConfig import ProcessingConfig
    except ImportError:
        return profile_environment_python()
    return ProcessingConfig.getSetting(SETTING_PYTHON) or profile_environment_python()
