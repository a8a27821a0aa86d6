"""Torch networks for sensor networks (N located sensors observed on a regular time axis).

Input x: float32[B, L, N, C] with C = value (normalised, 0 where missing) + validity mask + (anchored networks)
the anomaly from the historical average by time of week + calendar features; future: float32[B, H, F] calendar
features of the target steps; anchors (anchored networks): float32[B, H, N], the historical average of the target
steps minus the last value, which the per-sensor head reads so that the network learns on top of the profile.
Output float32[B, 3, H, N]: the change from each sensor's last observed value (mean) and the 10 % / 90 % quantiles.

- ``graph_gru``: diffusion-convolution GRU (DCRNN-style gates, Li et al. 2018) encoder over the L input
  steps, with a direct multi-horizon head (no autoregressive decoder: one pass gives all H steps).
- ``st_transformer``: alternating attention over time (per sensor) and over sensors (per step), with
  learnable sensor and step embeddings.
- ``fc_lstm``: one LSTM shared by all sensors, no graph (the ablation).
"""

from __future__ import annotations

import torch
from torch import nn


class _NodeHead(nn.Module):
    """Per-sensor MLP: [features, future calendar features, (anchored) the sensor's H anchors] → 3 × H outputs."""

    def __init__(self, in_features: int, horizon: int, n_calendar: int, hidden: int, anchored: bool = False) -> None:
        super().__init__()
        self.horizon = horizon
        width = in_features + horizon * n_calendar + (horizon if anchored else 0)
        self.net = nn.Sequential(nn.Linear(width, 2 * hidden), nn.GELU(), nn.Linear(2 * hidden, 3 * horizon))

    def forward(self, features, future, anchors=None):
        b, n, _ = features.shape
        parts = [features, future.reshape(b, 1, -1).expand(b, n, future.shape[1] * future.shape[2])]
        if anchors is not None:
            parts.append(anchors.permute(0, 2, 1))  # [B, N, H]
        out = self.net(torch.cat(parts, dim=-1))  # [B, N, 3H]
        return out.reshape(b, n, 3, self.horizon).permute(0, 2, 3, 1)


class DiffusionConv(nn.Module):
    """Σ_s Σ_k P_s^k X W_{s,k} over the support matrices P_s (forward/backward random walks), k = 0..hops."""

    def __init__(self, in_features: int, out_features: int, n_supports: int, hops: int) -> None:
        super().__init__()
        self.hops = hops
        self.linear = nn.Linear(in_features * (1 + n_supports * hops), out_features)

    def forward(self, x, supports):  # x [N, B, F] (sensor-major), supports: S matrices [N, N] (dense or sparse)
        n, b, f = x.shape
        flat = x.reshape(n, b * f)  # one matrix product per hop
        terms = [x]
        for support in supports:
            term = flat
            for _ in range(self.hops):
                term = torch.sparse.mm(support, term) if support.is_sparse else support @ term
                terms.append(term.reshape(n, b, f))
        return self.linear(torch.cat(terms, dim=-1))


class GraphGRUCell(nn.Module):
    def __init__(self, in_features: int, hidden: int, n_supports: int, hops: int) -> None:
        super().__init__()
        self.hidden = hidden
        self.gates = DiffusionConv(in_features + hidden, 2 * hidden, n_supports, hops)
        self.candidate = DiffusionConv(in_features + hidden, hidden, n_supports, hops)

    def forward(self, x, h, supports):
        r, u = torch.chunk(torch.sigmoid(self.gates(torch.cat([x, h], dim=-1), supports)), 2, dim=-1)
        c = torch.tanh(self.candidate(torch.cat([x, r * h], dim=-1), supports))
        return u * h + (1 - u) * c


class GraphGRUForecaster(nn.Module):
    def __init__(
        self,
        supports,
        in_features: int,
        n_calendar: int,
        horizon: int,
        hidden: int = 32,
        layers: int = 2,
        hops: int = 2,
        anchored: bool = False,
    ) -> None:
        super().__init__()
        self.register_buffer("supports", torch.as_tensor(supports, dtype=torch.float32))
        n_supports = self.supports.shape[0]
        self.cells = nn.ModuleList(
            GraphGRUCell(in_features if i == 0 else hidden, hidden, n_supports, hops) for i in range(layers)
        )
        self.head = _NodeHead(hidden, horizon, n_calendar, hidden, anchored)

    def _operators(self):
        """The supports as sparse matrices when under 20 % of the entries are links (cheaper products)."""
        if (self.supports != 0).float().mean() < 0.2:
            return [s.to_sparse() for s in self.supports]
        return list(self.supports)

    def forward(self, x, future, anchors=None):
        b, steps, n, _ = x.shape
        sequence = x.permute(1, 2, 0, 3).contiguous()  # [L, N, B, C]: sensor-major states
        states = [x.new_zeros(n, b, cell.hidden) for cell in self.cells]
        operators = self._operators()
        for t in range(steps):
            inp = sequence[t]
            for i, cell in enumerate(self.cells):
                states[i] = cell(inp, states[i], operators)
                inp = states[i]
        return self.head(inp.permute(1, 0, 2), future, anchors)


class _AttentionBlock(nn.Module):
    def __init__(self, hidden: int, heads: int) -> None:
        super().__init__()
        self.attention = nn.MultiheadAttention(hidden, heads, batch_first=True)
        self.norm1, self.norm2 = nn.LayerNorm(hidden), nn.LayerNorm(hidden)
        self.ffn = nn.Sequential(nn.Linear(hidden, 2 * hidden), nn.GELU(), nn.Linear(2 * hidden, hidden))

    def forward(self, tokens):  # [batch, sequence, hidden]
        attended, _ = self.attention(tokens, tokens, tokens, need_weights=False)
        tokens = self.norm1(tokens + attended)
        return self.norm2(tokens + self.ffn(tokens))


class STTransformerForecaster(nn.Module):
    def __init__(
        self,
        n_nodes: int,
        lookback: int,
        in_features: int,
        n_calendar: int,
        horizon: int,
        hidden: int = 32,
        layers: int = 2,
        heads: int = 4,
        anchored: bool = False,
    ) -> None:
        super().__init__()
        self.embed = nn.Linear(in_features, hidden)
        self.node_embedding = nn.Parameter(torch.randn(n_nodes, hidden) * 0.1)
        self.step_embedding = nn.Parameter(torch.randn(lookback, hidden) * 0.1)
        self.temporal = nn.ModuleList(_AttentionBlock(hidden, heads) for _ in range(layers))
        self.spatial = nn.ModuleList(_AttentionBlock(hidden, heads) for _ in range(layers))
        self.head = _NodeHead(lookback * hidden, horizon, n_calendar, hidden, anchored)

    def forward(self, x, future, anchors=None):
        b, steps, n, _ = x.shape
        tokens = self.embed(x) + self.node_embedding[None, None] + self.step_embedding[None, :, None]
        for temporal, spatial in zip(self.temporal, self.spatial):
            tokens = temporal(tokens.permute(0, 2, 1, 3).reshape(b * n, steps, -1))
            tokens = tokens.reshape(b, n, steps, -1).permute(0, 2, 1, 3)
            tokens = spatial(tokens.reshape(b * steps, n, -1)).reshape(b, steps, n, -1)
        return self.head(tokens.permute(0, 2, 1, 3).reshape(b, n, -1), future, anchors)


class FCLSTMForecaster(nn.Module):
    def __init__(
        self, in_features: int, n_calendar: int, horizon: int, hidden: int = 32, layers: int = 2, anchored: bool = False
    ) -> None:
        super().__init__()
        self.lstm = nn.LSTM(in_features, hidden, num_layers=layers, batch_first=True)
        self.head = _NodeHead(hidden, horizon, n_calendar, hidden, anchored)

    def forward(self, x, future, anchors=None):
        b, steps, n, c = x.shape
        _, (last, _) = self.lstm(x.permute(0, 2, 1, 3).reshape(b * n, steps, c))
        return self.head(last[-1].reshape(b, n, -1), future, anchors)


NETWORK_ARCHITECTURES = ("graph_gru", "st_transformer", "fc_lstm")


def build_sensor_network(
    architecture: str,
    supports,
    n_nodes: int,
    lookback: int,
    horizon: int,
    hidden: int,
    n_calendar: int,
    anchored: bool = False,
) -> nn.Module:
    """The network for ``architecture``; ``supports`` float32[S, N, N] is used by the graph model only;
    ``anchored``: it reads the historical average (an anomaly channel and the anchors; see the module)."""
    in_features = 2 + n_calendar + (1 if anchored else 0)
    if architecture == "graph_gru":
        return GraphGRUForecaster(supports, in_features, n_calendar, horizon, hidden, anchored=anchored)
    if architecture == "st_transformer":
        return STTransformerForecaster(n_nodes, lookback, in_features, n_calendar, horizon, hidden, anchored=anchored)
    if architecture == "fc_lstm":
        return FCLSTMForecaster(in_features, n_calendar, horizon, hidden, anchored=anchored)
    raise ValueError(f"unknown architecture {architecture!r}")
