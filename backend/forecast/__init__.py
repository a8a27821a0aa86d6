"""Forecasting raster time stacks: baselines, ConvLSTM / CNN-LSTM (torch), evaluation, model folders."""
