"""The example models as their dialogs and the modeler show them: inputs in order, outputs with labels."""

import pytest

ORDER = {
    "kriging_clipped_grid": ["stations", "id_field", "time_field", "value_field", "start", "end"],
    "build_and_describe_stack": ["folder", "pattern"],
}


@pytest.mark.parametrize(
    "name",
    ["build_and_describe_stack", "kriging_clipped_grid", "raster_forecast_and_anomalies", "sensor_network_anomalies"],
)
def test_models_resolve_their_steps_and_label_their_outputs(provider, name):
    model = provider.algorithm(name)
    outputs = model.outputDefinitions()
    steps = {child.childId() for child in model.childAlgorithms().values()}
    assert outputs and all(output.description() for output in outputs), [o.name() for o in outputs]
    assert all(child.algorithm() is not None for child in model.childAlgorithms().values()), steps
    inputs = [p.name() for p in model.parameterDefinitions() if not p.isDestination()]
    if name in ORDER:
        assert inputs == ORDER[name]
    if name == "kriging_clipped_grid":
        assert any("Clipped" in output.description() or "clip" in output.name() for output in outputs)
