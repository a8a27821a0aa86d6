"""Torch networks for raster sequences: ConvLSTM encoder–forecaster and CNN-LSTM.

Input x: float32[B, L, C, H, W] (C = 1 value channel + 1 validity mask + 4 time features);
future: float32[B, H_out, 4] time features of the target steps. Output: float32[B, 3, H_out, H, W]
— the change from the last input frame (mean) and the 10 % / 90 % quantiles of the target.
"""

from __future__ import annotations

import torch
from torch import nn

QUANTILES = (0.1, 0.9)
N_TIME_FEATURES = 4
IN_CHANNELS = 2 + N_TIME_FEATURES


class ConvLSTMCell(nn.Module):
    """One ConvLSTM layer (Shi et al. 2015): LSTM gates computed by a convolution over [x, h]."""

    def __init__(self, in_channels: int, hidden: int, kernel: int = 3) -> None:
        super().__init__()
        self.hidden = hidden
        self.gates = nn.Conv2d(in_channels + hidden, 4 * hidden, kernel, padding=kernel // 2)

    def forward(self, x, state):
        h, c = state
        i, f, o, g = torch.chunk(self.gates(torch.cat([x, h], dim=1)), 4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, c


class _Head(nn.Module):
    """Conv head: [hidden, future time features] → 3 × horizon channels."""

    def __init__(self, hidden: int, horizon: int) -> None:
        super().__init__()
        self.horizon = horizon
        self.net = nn.Sequential(
            nn.Conv2d(hidden + horizon * N_TIME_FEATURES, hidden, 3, padding=1),
            nn.GELU(),
            nn.Conv2d(hidden, 3 * horizon, 1),
        )

    def forward(self, features, future):
        b, _, h, w = features.shape
        planes = future.reshape(b, -1, 1, 1).expand(b, future.shape[1] * future.shape[2], h, w)
        out = self.net(torch.cat([features, planes], dim=1))
        return out.reshape(b, 3, self.horizon, h, w)


class ConvLSTMForecaster(nn.Module):
    def __init__(self, horizon: int, hidden: int = 32, layers: int = 2, kernel: int = 3) -> None:
        super().__init__()
        self.cells = nn.ModuleList(
            ConvLSTMCell(IN_CHANNELS if i == 0 else hidden, hidden, kernel) for i in range(layers)
        )
        self.head = _Head(hidden, horizon)
        self.kernel = kernel

    def receptive_radius(self, lookback: int) -> int:
        """Pixels that can influence an output: each step and layer widens it by kernel // 2, the head by 1."""
        return lookback * len(self.cells) * (self.kernel // 2) + 1

    def forward(self, x, future):
        b, steps, _, h, w = x.shape
        states = [(x.new_zeros(b, cell.hidden, h, w), x.new_zeros(b, cell.hidden, h, w)) for cell in self.cells]
        for t in range(steps):
            inp = x[:, t]
            for i, cell in enumerate(self.cells):
                states[i] = cell(inp, states[i])
                inp = states[i][0]
        return self.head(inp, future)


class CnnLstmForecaster(nn.Module):
    """Per-step CNN encoder → LSTM over time at every pixel → conv decoder."""

    def __init__(self, horizon: int, hidden: int = 32, kernel: int = 3) -> None:
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(IN_CHANNELS, hidden, kernel, padding=kernel // 2),
            nn.GELU(),
            nn.Conv2d(hidden, hidden, kernel, padding=kernel // 2),
            nn.GELU(),
        )
        self.lstm = nn.LSTM(hidden, hidden, batch_first=True)
        self.head = _Head(hidden, horizon)
        self.kernel = kernel

    def receptive_radius(self, lookback: int) -> int:  # noqa: ARG002 (the LSTM mixes no pixels)
        return 2 * (self.kernel // 2) + 1

    def forward(self, x, future):
        b, steps, c, h, w = x.shape
        features = self.encoder(x.reshape(b * steps, c, h, w)).reshape(b, steps, -1, h, w)
        sequence = features.permute(0, 3, 4, 1, 2).reshape(b * h * w, steps, -1)
        _, (last, _) = self.lstm(sequence)
        last = last[-1].reshape(b, h, w, -1).permute(0, 3, 1, 2)
        return self.head(last, future)


ARCHITECTURES = {"convlstm": ConvLSTMForecaster, "cnnlstm": CnnLstmForecaster}


def build_raster_model(architecture: str, horizon: int, hidden: int) -> nn.Module:
    return ARCHITECTURES[architecture](horizon=horizon, hidden=hidden)
