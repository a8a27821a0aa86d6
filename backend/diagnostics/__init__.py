"""Time-series diagnostics, change points, Getis-Ord Gi*, emerging hot spots and time-series clustering."""
