"""Forecasting: baselines, training windows, the training loop and model folders shared by the raster
(``raster/``) and sensor-network (``sensors/``) forecasters."""
