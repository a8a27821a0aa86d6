"""Model folders of every forecaster: ``config.json`` (the model's config) + ``weights.pt`` (a state_dict, loaded
with ``weights_only=True``; never unpickled code), written atomically."""

from __future__ import annotations

import json
from pathlib import Path

from backend.data.atomic import AtomicOutputs
from backend.errors import UserInputError


def save_model(folder: str | Path, config, network, outputs: AtomicOutputs) -> Path:
    """``config`` (with ``to_dict()``) and ``network``'s weights in a temporary folder that ``outputs`` moves onto
    ``folder`` when the run succeeds."""
    import torch

    tmp = outputs.temporary_folder(folder)
    (tmp / "config.json").write_text(json.dumps(config.to_dict(), indent=2), encoding="utf-8")
    torch.save({k: v.detach().cpu() for k, v in network.state_dict().items()}, tmp / "weights.pt")
    return Path(folder)


def read_model_config(folder: str | Path, made_by: str) -> dict:
    """config.json of a model folder as a dict; a clear error for a missing or corrupt folder."""
    folder = Path(folder)
    config_path, weights_path = folder / "config.json", folder / "weights.pt"
    if not config_path.exists() or not weights_path.exists():
        raise UserInputError(
            f"{folder} is not a forecaster model folder: it needs config.json and weights.pt (made by '{made_by}')."
        )
    try:
        return json.loads(config_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserInputError(f"{config_path} is not valid JSON: {exc}.") from exc


def load_weights(network, folder: str | Path, device: str):
    """Load weights.pt (a state_dict, ``weights_only=True``) into ``network``; returns it on ``device``, in eval
    mode."""
    import pickle

    import torch

    weights_path = Path(folder) / "weights.pt"
    try:
        state = torch.load(weights_path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise UserInputError(
            f"{weights_path} holds Python objects, not only weights; st_analyzer never loads such "
            "files because they can run code. Use a model folder made by st_analyzer, or retrain "
            "the model."
        ) from exc
    except Exception as exc:  # torch raises several types for truncated or foreign files
        raise UserInputError(
            f"{weights_path} is not a readable weights file ({type(exc).__name__}). Retrain the "
            "model or restore the folder."
        ) from exc
    if not isinstance(state, dict):
        raise UserInputError(
            f"{weights_path} does not hold a model's weights. Retrain the model or restore the folder."
        )
    try:
        network.load_state_dict(state)
    except RuntimeError as exc:  # missing, unexpected or mis-shaped tensors
        first = str(exc).strip().splitlines()[0][:200]
        raise UserInputError(
            f"{weights_path} does not fit the model described by config.json ({first}). Retrain "
            "the model or restore the folder."
        ) from exc
    return network.to(device).eval()
