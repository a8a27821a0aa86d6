"""Forecasting at networks of located sensors: graph GRU, ST Transformer and FC-LSTM, the sensor graph, their
training, config and prediction."""
