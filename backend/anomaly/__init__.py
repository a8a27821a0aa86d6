"""Anomaly detection: expected values, robust scores, thresholds, events and evaluation on labels."""
