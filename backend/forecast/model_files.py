"""Model folders of every forecaster: ``config.json`` (the model's config) + ``weights.pt`` (a state_dict, loaded
with ``weights_only=True``; never unpickled code), written atomically."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import ClassVar

from backend.data.atomic import AtomicOutputs
from backend.data.time_parsing import format_time
from backend.data.time_step import TimeStep
from backend.errors import UserInputError
from backend.forecast.limits import check_model_sizes
from backend.forecast.windows import Normalisation, Split


@dataclass(kw_only=True)
class ModelConfig:
    """What every forecaster's config.json holds: architecture, windows, size, normalisation, time step (fixed
    ``step_seconds`` or calendar ``step_months``: 1 month, 3 quarter, 12 year) and the training record.
    Subclasses add what their model needs and set FORMAT (the folder kind) and TIME_FEATURES (a description)."""

    FORMAT: ClassVar[str] = ""
    VERSION: ClassVar[int] = 1
    TIME_FEATURES: ClassVar[str] = ""
    KIND: ClassVar[str] = "forecaster"

    architecture: str
    lookback: int
    horizon: int
    hidden: int
    normalisation: Normalisation
    step_seconds: float
    step_months: int = 0
    training: dict = field(default_factory=dict)
    blend: dict = field(default_factory=dict)  # Combination.to_dict(); empty: the network alone (older folders)

    @property
    def step(self) -> TimeStep:
        return TimeStep.from_fields(self.step_seconds, self.step_months)

    @classmethod
    def trained(cls, config, normalisation: Normalisation, step: TimeStep, training: dict, blend: dict, **own):
        """The config of a model just trained with ``config`` (architecture, lookback, horizon, hidden) on data
        of ``step``, blended with the baselines by ``blend`` (``Combination.to_dict()``); ``own``: this kind's
        fields."""
        return cls(
            architecture=config.architecture,
            lookback=config.lookback,
            horizon=config.horizon,
            hidden=config.hidden,
            normalisation=normalisation,
            step_seconds=step.nominal_seconds,
            step_months=step.months,
            training=training,
            blend=blend,
            **own,
        )

    def common_dict(self) -> dict:
        """The shared keys of config.json."""
        return {
            "format": self.FORMAT,
            "version": self.VERSION,
            "architecture": self.architecture,
            "lookback": self.lookback,
            "horizon": self.horizon,
            "hidden": self.hidden,
            "quantiles": [0.1, 0.9],
            "normalisation": self.normalisation.to_dict(),
            "step_seconds": self.step_seconds,
            "step_months": self.step_months,
            "time_features": self.TIME_FEATURES,
            "training": self.training,
            "blend": self.blend,
        }

    @classmethod
    def parse(cls, data: dict, where: str, read_own):
        """A config from config.json's ``data``: the shared keys, plus ``read_own(data)`` → this kind's fields;
        a clear error naming the folder for anything missing or bad."""
        try:
            if data.get("format") != cls.FORMAT:
                raise KeyError(f"format (not a {cls.KIND} folder)")
            check_model_sizes(f"{where}/config.json", int(data["hidden"]), int(data["lookback"]), int(data["horizon"]))
            return cls(
                architecture=str(data["architecture"]),
                lookback=int(data["lookback"]),
                horizon=int(data["horizon"]),
                hidden=int(data["hidden"]),
                normalisation=Normalisation.from_dict(data["normalisation"]),
                step_seconds=float(data["step_seconds"]),
                step_months=int(data.get("step_months") or 0),
                training=dict(data.get("training") or {}),
                blend=dict(data.get("blend") or {}),
                **read_own(data),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise UserInputError(f"{where} is not a {cls.KIND} folder (config.json: missing or bad {exc}).") from exc


def held_out_scores_text(metric: str, model_scores: list[float], skill: list[float]) -> str:
    """The log line of a model's held-out scores: ``metric`` per horizon step and the skill vs the best baseline."""
    return (
        f"Test {metric} per step — model: "
        + ", ".join(f"{v:.4g}" for v in model_scores)
        + "; skill vs best baseline: "
        + ", ".join(f"{v:+.1%}" for v in skill)
    )


def negative_skill_text(metric: str, skill: list[float], best_baseline: list[str], causes: list[str]) -> str | None:
    """None when the model is at least as good as the best baseline at every horizon step on the test period;
    else the steps where it loses (and to which baseline) with the likely ``causes``, for the top of the report and
    the log."""
    worse = [h for h, value in enumerate(skill) if value < 0]
    if not worse:
        return None
    steps = ", ".join(f"+{h + 1} ({best_baseline[h]}, {skill[h]:+.0%})" for h in worse)
    return (
        f"This model is worse than a simple baseline on the test period at {len(worse)} of {len(skill)} horizon "
        f"steps ({metric}; skill −x % = x % more error): {steps}. Where it loses, the baseline (baselineforecast) "
        "is the better forecast. Likely causes: " + "; ".join(causes) + "."
    )


def training_causes(config, history) -> list[str]:
    """The usual reasons a trained forecaster loses to the baselines, those that apply first."""
    causes = []
    run = len(history.train_loss)
    stopped_early = run < config.epochs and run - history.best_epoch >= config.patience  # best_epoch counts from 1
    if stopped_early:
        causes.append(
            f"training stopped after {run} of {config.epochs} epochs (no improvement on the "
            "validation windows: the network found nothing beyond the baselines with these settings)"
        )
    elif run < config.epochs:
        causes.append(
            f"TIME_BUDGET ended training after {run} of {config.epochs} epochs; a longer TIME_BUDGET (or a GPU) "
            "trains more"
        )
    elif history.best_epoch >= run:
        causes.append(
            f"too little training: the best epoch was the last ({history.best_epoch} of {config.epochs}); "
            "raise EPOCHS (or the batches per epoch)"
        )
    causes.append(
        "the series are mostly the daily/weekly profile or persistence that the baselines already give; a longer "
        "LOOKBACK or more training data help the network learn the rest"
    )
    return causes


def training_record(config, device: str, times, split: Split, history, evaluation) -> dict:
    """The ``training`` entry of config.json: settings, device, the periods of the split, history, test scores."""
    return {
        "config": asdict(config),
        "device": device,
        "first_time": format_time(times[0]),
        "train_until": format_time(times[split.train_end - 1]),
        "validation_until": format_time(times[split.val_end - 1]),
        "last_time": format_time(times[-1]),
        "history": asdict(history),
        "test": evaluation.to_dict(),
    }


BASELINES_FILE = "baselines.npz"  # the fitted baselines of a blended model (numpy arrays only, no pickles)


def save_model(folder: str | Path, config, network, outputs: AtomicOutputs, combination=None) -> Path:
    """``config`` (with ``to_dict()``), ``network``'s weights and the baselines' parameters of ``combination``
    (a ``blend.Combination``; None: none) in a temporary folder that ``outputs`` moves onto ``folder`` when the
    run succeeds."""
    import numpy as np
    import torch

    tmp = outputs.temporary_folder(folder)
    (tmp / "config.json").write_text(json.dumps(config.to_dict(), indent=2), encoding="utf-8")
    torch.save({k: v.detach().cpu() for k, v in network.state_dict().items()}, tmp / "weights.pt")
    if combination is not None:
        with open(tmp / BASELINES_FILE, "wb") as handle:
            np.savez(handle, **combination.parameters)
    return Path(folder)


def load_combination(folder: str | Path, config):
    """The ``blend.Combination`` of a model folder (None for a folder of the network alone)."""
    import zipfile

    import numpy as np

    from backend.forecast.blend import Combination

    if not config.blend:
        return None
    path = Path(folder) / BASELINES_FILE
    if not path.exists():
        raise UserInputError(
            f"{folder}: config.json blends the network with baselines but {BASELINES_FILE} is missing. Restore "
            "the whole model folder or retrain the model."
        )
    try:
        with np.load(path, allow_pickle=False) as data:
            parameters = {name: data[name] for name in data.files}
        return Combination.from_dict(config.blend, parameters)
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
        raise UserInputError(
            f"{path} is not a readable baselines file ({exc}). Restore the model folder or retrain the model."
        ) from exc


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
