"""Write the categorised QML styles of resources/styles/ from the plugin's style functions.

Run with the plugin importable (scripts/qgis_env.sh sourced):  .venv/bin/python scripts/make_styles.py
Continuous ramps (predictions, variance, scores) follow each result's value range and are set when it loads.
"""

import tempfile
from pathlib import Path

import numpy as np
import rasterio
from qgis.core import QgsApplication, QgsRasterLayer, QgsVectorLayer

from backend.diagnostics.hotspots import CATEGORIES

STYLES = Path(__file__).resolve().parents[1] / "st_analyzer" / "resources" / "styles"


def one_band_raster(folder: Path) -> str:
    path = folder / "band.tif"
    from affine import Affine

    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=2,
        height=2,
        count=1,
        dtype="float32",
        crs="EPSG:4326",
        transform=Affine(1, 0, 0, 0, -1, 2),
    ) as dst:
        dst.write(np.zeros((1, 2, 2), dtype=np.float32))
    return str(path)


def main() -> None:
    from backend.diagnostics.hotspots import CATEGORIES as BACKEND_CATEGORIES
    from st_analyzer.styles import HOT_SPOT_COLOURS, style_categories

    assert CATEGORIES == BACKEND_CATEGORIES
    STYLES.mkdir(parents=True, exist_ok=True)
    hot_spots = [(code, name, HOT_SPOT_COLOURS[code]) for code, name in enumerate(CATEGORIES)]
    flags = [(0, "not flagged", "#f0f0f0"), (1, "anomaly", "#d7301f")]
    with tempfile.TemporaryDirectory() as folder:
        points = QgsVectorLayer("Point?field=category_code:integer", "points", "memory")
        style_categories(points, "category_code", 1, hot_spots)
        points.saveNamedStyle(str(STYLES / "emerging_hot_spots_points.qml"))
        for name, classes in (("emerging_hot_spots_raster", hot_spots), ("anomaly_flags_raster", flags)):
            raster = QgsRasterLayer(one_band_raster(Path(folder)), name)
            style_categories(raster, "", 1, classes)
            raster.saveNamedStyle(str(STYLES / f"{name}.qml"))
    print(f"styles written to {STYLES}")


if __name__ == "__main__":
    app = QgsApplication([], False)
    app.initQgis()
    main()
    app.exitQgis()
