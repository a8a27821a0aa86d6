"""Space-time variograms and kriging (sample variogram, gstat-compatible models, fitting, kriging, CV)."""
