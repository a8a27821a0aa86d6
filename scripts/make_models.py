"""Write the example graphical-modeler models of resources/models/ with the PyQGIS model API.

Run with the plugin importable (scripts/qgis_env.sh sourced):  .venv/bin/python scripts/make_models.py
"""

from pathlib import Path

from qgis.core import (QgsApplication, QgsProcessingModelAlgorithm, QgsProcessingModelChildAlgorithm,
                       QgsProcessingModelChildParameterSource, QgsProcessingModelOutput,
                       QgsProcessingModelParameter, QgsProcessingParameterFile, QgsProcessingParameterString)
from qgis.PyQt.QtCore import QPointF

MODELS = Path(__file__).resolve().parents[1] / "st_analyzer" / "resources" / "models"


def child(model, alg_id, child_id, description, x, y, sources, outputs):
    step = QgsProcessingModelChildAlgorithm(alg_id)
    step.setChildId(child_id)
    step.setDescription(description)
    step.setPosition(QPointF(x, y))
    for name, source in sources.items():
        step.addParameterSources(name, [source])
    model_outputs = {}
    for name, label in outputs.items():
        output = QgsProcessingModelOutput(label)
        output.setChildId(child_id)
        output.setChildOutputName(name)
        model_outputs[label] = output
    step.setModelOutputs(model_outputs)
    model.addChildAlgorithm(step)


def build_and_describe() -> QgsProcessingModelAlgorithm:
    model = QgsProcessingModelAlgorithm("Build and describe a raster time stack", "Space-time analyzer")
    model.setHelpContent({"ALG_DESC": "Stacks a folder of rasters into a time stack (times from the file "
                                      "names) and writes its space-time summary report."})
    for parameter, x in ((QgsProcessingParameterFile("folder", "Folder of rasters",
                                                     behavior=QgsProcessingParameterFile.Folder), 120),
                         (QgsProcessingParameterString("pattern", "File name time pattern",
                                                       defaultValue="%Y%m%d"), 320)):
        component = QgsProcessingModelParameter(parameter.name())
        component.setPosition(QPointF(x, 60))
        model.addModelParameter(parameter, component)
    Source = QgsProcessingModelChildParameterSource
    child(model, "stanalyzer:buildrasterstack", "build", "Build raster time stack", 220, 180,
          {"FOLDER": Source.fromModelParameter("folder"), "FILENAME_PATTERN": Source.fromModelParameter("pattern"),
           "FILE_FILTER": Source.fromStaticValue("*.tif"), "TIME_SOURCE": Source.fromStaticValue(0)},
          {"OUTPUT": "Raster time stack"})
    child(model, "stanalyzer:describespacetime", "describe", "Describe space-time data", 220, 320,
          {"INPUT": Source.fromChildOutput("build", "OUTPUT")},
          {"OUTPUT_HTML": "Summary report", "OUTPUT_TABLE": "Per time step table"})
    return model


if __name__ == "__main__":
    app = QgsApplication([], False)
    app.initQgis()
    MODELS.mkdir(parents=True, exist_ok=True)
    path = MODELS / "build_and_describe_stack.model3"
    assert build_and_describe().toFile(str(path))
    print(f"written {path}")
    app.exitQgis()
