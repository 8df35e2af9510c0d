"""Pieces shared by every network: per-channel normalisation and grid padding.

The networks of this package see normalised inputs; the physics and the datasets work in physical
units (K, m s⁻¹). :class:`Normalizer` converts between the two with per-channel statistics from the
training years (``norm_stats.json``, ``{name: {"mean": m, "std": s}}``). The statistics are module
buffers, so they travel inside every ``state_dict`` and a checkpoint is self-contained.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

NormStats = Mapping[str, Mapping[str, float]]


class Normalizer(nn.Module):
    """Per-channel affine normalisation ``(x - mean) / std`` with named channels.

    Args:
        stats: ``{name: {"mean": m, "std": s}}`` in physical units, e.g. the content of
            ``norm_stats.json`` written by ``oceane2e.data.normalization``. May hold more names
            than ``channels``; the extra ones are ignored.
        channels: the ordered channel names; channel ``i`` of a tensor given to
            :meth:`normalize` is ``channels[i]``.

    Buffers ``mean`` and ``std`` (float64, cast to the input's dtype on use) have shape
    ``(len(channels),)`` and are saved in ``state_dict``.
    """

    def __init__(self, stats: NormStats, channels: Sequence[str]) -> None:
        super().__init__()
        channels = tuple(channels)
        if not channels:
            raise ValueError("Normalizer: give at least one channel name")
        if len(set(channels)) != len(channels):
            raise ValueError(f"Normalizer: channel names repeat: {channels}")
        means, stds = [], []
        for name in channels:
            if name not in stats:
                raise KeyError(
                    f"Normalizer: no statistics for channel {name!r} (have {sorted(stats)}); "
                    "recompute norm_stats.json from the training years so it covers every channel"
                )
            entry = stats[name]
            if "mean" not in entry or "std" not in entry:
                raise KeyError(f"Normalizer: stats[{name!r}] needs keys 'mean' and 'std', got {sorted(entry)}")
            mean, std = float(entry["mean"]), float(entry["std"])
            if not (math.isfinite(mean) and math.isfinite(std)) or std <= 0.0:
                raise ValueError(
                    f"Normalizer: channel {name!r} has mean={mean}, std={std}; std must be finite and > 0 "
                    "(a constant channel cannot be normalised: check norm_stats.json)"
                )
            means.append(mean)
            stds.append(std)
        self.channels: tuple[str, ...] = channels
        self.register_buffer("mean", torch.tensor(means, dtype=torch.float64))
        self.register_buffer("std", torch.tensor(stds, dtype=torch.float64))

    def extra_repr(self) -> str:
        return f"channels={self.channels}"

    def index(self, name: str) -> int:
        """Position of channel ``name``; a clear error if it is not one of :attr:`channels`."""
        try:
            return self.channels.index(name)
        except ValueError:
            raise KeyError(f"Normalizer: unknown channel {name!r}; channels are {self.channels}") from None

    def stats(self) -> dict[str, dict[str, float]]:
        """The statistics as a plain ``{name: {"mean", "std"}}`` dict (JSON-ready)."""
        return {
            n: {"mean": float(m), "std": float(s)}
            for n, m, s in zip(self.channels, self.mean.tolist(), self.std.tolist(), strict=True)
        }

    def _shape(self, x: Tensor, dim: int, values: Tensor) -> Tensor:
        dim = dim % x.ndim
        if x.shape[dim] != len(self.channels):
            raise ValueError(
                f"Normalizer: tensor of shape {tuple(x.shape)} has {x.shape[dim]} channels on dim {dim}, "
                f"expected {len(self.channels)} ({self.channels})"
            )
        view = [1] * x.ndim
        view[dim] = -1
        return values.to(dtype=x.dtype).view(view)

    def normalize(self, x: Tensor, dim: int = -3) -> Tensor:
        """Physical units -> normalised; ``x`` has ``len(channels)`` channels on ``dim``."""
        return (x - self._shape(x, dim, self.mean)) / self._shape(x, dim, self.std)

    def denormalize(self, x: Tensor, dim: int = -3) -> Tensor:
        """Normalised -> physical units; the inverse of :meth:`normalize`."""
        return x * self._shape(x, dim, self.std) + self._shape(x, dim, self.mean)

    def normalize_channel(self, x: Tensor, name: str) -> Tensor:
        """Normalise a tensor of any shape that holds the single channel ``name``."""
        i = self.index(name)
        return (x - self.mean[i].to(x.dtype)) / self.std[i].to(x.dtype)

    def denormalize_channel(self, x: Tensor, name: str) -> Tensor:
        """Inverse of :meth:`normalize_channel`."""
        i = self.index(name)
        return x * self.std[i].to(x.dtype) + self.mean[i].to(x.dtype)

    def scale(self, name: str) -> Tensor:
        """The std of channel ``name`` (physical units per normalised unit), a 0-d tensor."""
        return self.std[self.index(name)]


def pad_to_multiple(x: Tensor, multiple: int, mode: str = "replicate") -> tuple[Tensor, tuple[int, int]]:
    """Pad the last two dims of ``x`` (..., H, W) at the bottom/right to multiples of ``multiple``.

    Returns the padded tensor and the original ``(H, W)`` for :func:`crop_to`.
    """
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return x, (h, w)
    lead = x.shape[:-2]
    flat = x.reshape(-1, 1, h, w) if x.ndim != 4 else x
    padded = F.pad(flat, (0, pw, 0, ph), mode=mode)
    if x.ndim != 4:
        padded = padded.reshape(*lead, h + ph, w + pw)
    return padded, (h, w)


def crop_to(x: Tensor, size: tuple[int, int]) -> Tensor:
    """Undo :func:`pad_to_multiple`: keep the top-left ``size = (H, W)`` of the last two dims."""
    return x[..., : size[0], : size[1]]
