"""Batched kriging systems: ordinary (GLS mean, as gstat ``krigeST``) or simple (known mean).

All systems of a batch have the same size n; solved with numpy (CPU) or torch (CUDA).
"""

from __future__ import annotations

import numpy as np

from backend.errors import UserInputError


def _solve_numpy(v_bnn: np.ndarray, rhs_bnk: np.ndarray) -> np.ndarray:
    return np.linalg.solve(v_bnn, rhs_bnk)


def _solve_torch(v_bnn: np.ndarray, rhs_bnk: np.ndarray, device: str) -> np.ndarray:
    import torch

    v = torch.as_tensor(v_bnn, dtype=torch.float64, device=device)
    rhs = torch.as_tensor(rhs_bnk, dtype=torch.float64, device=device)
    solution, info = torch.linalg.solve_ex(v, rhs)
    if bool((info != 0).any()):
        raise np.linalg.LinAlgError("singular matrix")
    return solution.cpu().numpy()


def solve_systems(v_bnn: np.ndarray, rhs_bnk: np.ndarray, device: str = "numpy", warn=None) -> np.ndarray:
    """Solve V x = rhs for a batch; a singular system gets a tiny diagonal jitter and a warning."""
    solve = _solve_numpy if device == "numpy" else (lambda a, b: _solve_torch(a, b, device))
    try:
        return solve(v_bnn, rhs_bnk)
    except np.linalg.LinAlgError:
        scale = np.abs(np.diagonal(v_bnn, axis1=-2, axis2=-1)).max()
        jitter = 1e-9 * scale * np.eye(v_bnn.shape[-1])
        if warn is not None:
            warn(
                "A kriging system is singular (e.g. two stations at the same place with a zero nugget); "
                f"a jitter of {1e-9 * scale:.3g} was added to its diagonal."
            )
        try:
            return solve(v_bnn + jitter, rhs_bnk)
        except np.linalg.LinAlgError as exc:
            raise UserInputError(
                "The kriging system is singular even with a jitter: check for duplicate stations "
                "and use a model with a nugget."
            ) from exc


def krige_batch(
    v_bnn: np.ndarray,
    v0_bn: np.ndarray,
    z_bn: np.ndarray,
    c0: float,
    mean: float | None = None,
    device: str = "numpy",
    warn=None,
) -> tuple[np.ndarray, np.ndarray]:
    """Predictions and kriging variances [B] for B systems.

    v_bnn: covariances among the neighbours; v0_bn: neighbours–target covariances; z_bn: neighbour
    values; c0: covariance at lag 0. ``mean`` None = ordinary kriging (GLS mean), else simple kriging.
    """
    ones = np.ones_like(v0_bn)
    solution = solve_systems(v_bnn, np.stack([v0_bn, ones], axis=-1), device, warn)
    a, b = solution[..., 0], solution[..., 1]  # V⁻¹v0, V⁻¹1
    if mean is None:
        denominator = b.sum(axis=-1)
        beta = (b * z_bn).sum(axis=-1) / denominator
        q = 1.0 - a.sum(axis=-1)
        variance = c0 - (v0_bn * a).sum(axis=-1) + q * q / denominator
    else:
        beta = np.full(v0_bn.shape[0], float(mean))
        variance = c0 - (v0_bn * a).sum(axis=-1)
    prediction = beta + (a * (z_bn - beta[:, None])).sum(axis=-1)
    return prediction, variance
