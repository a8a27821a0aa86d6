"""Forecasting raster time stacks: ConvLSTM and CNN-LSTM models, their training, config and prediction."""
