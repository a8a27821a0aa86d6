"""Torch device choice: ``cuda`` when requested or available, else ``cpu`` (torch imported lazily)."""

from __future__ import annotations

import sys

from backend.errors import UserInputError

DEVICES = ("auto", "cpu", "cuda")


def torch_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("torch") is not None


def require_torch(what: str) -> None:
    """A clear error when ``what`` (e.g. "Training") needs PyTorch and this Python has none."""
    if not torch_available():
        raise UserInputError(
            f"{what} needs PyTorch, which is not installed for this Python ({sys.executable}). "
            "Run 'Set up backend' again with the torch build CPU or CUDA (TORCH=0 or 1), or install "
            "it into that Python with pip (README, manual set-up)."
        )


def choose_device(requested: str = "auto") -> str:
    """'cuda' or 'cpu'. 'cuda' requested without a GPU is an error; 'auto' falls back to the CPU."""
    if requested not in DEVICES:
        raise UserInputError(f"Unknown device {requested!r}; use one of {', '.join(DEVICES)}.")
    if requested == "cpu":
        return "cpu"
    has_cuda = False
    if torch_available():
        import torch

        has_cuda = bool(torch.cuda.is_available())
    if requested == "cuda" and not has_cuda:
        raise UserInputError(
            "CUDA was requested but no GPU is usable here (torch missing, a CPU-only torch build, "
            "or no NVIDIA driver). Choose DEVICE auto or cpu, or install the CUDA build of torch."
        )
    return "cuda" if has_cuda else "cpu"
