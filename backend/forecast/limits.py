"""Sane bounds for forecaster sizes (from requests and from model folders) and their memory estimates."""

from __future__ import annotations

from backend.errors import UserInputError
from backend.memory import require_memory

MAX_HIDDEN = 1024  # channels / units
MAX_STEPS = 10_000  # lookback or horizon steps
_FLOAT_BYTES = 4
_STATES_PER_UNIT = 6  # recurrent gates (4) + hidden and cell states, kept for the backward pass
_BACKWARD = 2  # gradients roughly double the forward activations


def check_model_sizes(where: str, hidden: int, lookback: int, horizon: int) -> None:
    """Refuse sizes no forecaster here can use (e.g. a damaged or hand-edited config.json)."""
    for name, value, low, high in (
        ("hidden size", hidden, 2, MAX_HIDDEN),
        ("lookback", lookback, 1, MAX_STEPS),
        ("horizon", horizon, 1, MAX_STEPS),
    ):
        if not low <= value <= high:
            raise UserInputError(f"{where}: the {name} must be between {low} and {high}, got {value}.")


def require_training_memory(batch: int, steps: int, cells: int, hidden: int, what: str) -> None:
    """Estimated activations of one training batch: batch × steps × cells × hidden units × states.

    ``cells``: pixels of a training crop (rasters) or sensors (networks)."""
    needed = float(batch) * steps * cells * hidden * _STATES_PER_UNIT * _FLOAT_BYTES * _BACKWARD
    require_memory(needed, what, "Lower HIDDEN or LOOKBACK + HORIZON (or the batch size), or train on a GPU.")
