"""MultiConv: the velocity model M_θ of stage 1 (SimVP-style, gated spatio-temporal translator).

It maps the last ``n_in`` days of surface geostrophic velocity (u_g, v_g) to the next ``n_out``
days. Input and output are in normalised units (stage 1 normalises with
:class:`model_baselines.common.Normalizer`); by default the network predicts the change from the
last input day, so an untrained model is persistence.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import torch
from pydantic import Field
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint as grad_checkpoint_fn

from model_baselines.blocks import SimVPCore, SimVPSizes
from model_baselines.common import Normalizer
from model_baselines.registry import ModelSpec
from oceane2e.data.contract import stack_channels
from oceane2e.data.info import DataInfo


class MultiConvConfig(SimVPSizes):
    """Stage-1 velocity model M_θ. Channels and days come from the data (:class:`DataInfo`)."""

    name: Literal["MultiConv"] = "MultiConv"
    residual: bool = Field(True, description="predict the change from the last input day")


class MultiConv(nn.Module):
    """Encoder / gated-attention translator / decoder for (B, T_in, C, H, W) → (B, T_out, C, H, W).

    Args:
        channels: channels per frame (2 for u_g, v_g); input and output have the same channels.
        n_in, n_out: input and output days.
        residual: predict ``x[:, -1] + Δ`` for every output day (True) or the fields themselves.
        hid_S, hid_T, N_S, N_T, spatio_kernel_enc, spatio_kernel_dec, attn_kernel, mlp_ratio,
            drop_path: sizes of :class:`model_baselines.blocks.SimVPCore`.
    """

    def __init__(
        self, channels: int = 2, n_in: int = 4, n_out: int = 1, *, residual: bool = True, hid_S: int = 16,
        hid_T: int = 64, N_S: int = 2, N_T: int = 4, spatio_kernel_enc: int = 3, spatio_kernel_dec: int = 3,
        attn_kernel: int = 21, mlp_ratio: float = 4.0, drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        self.channels, self.n_in, self.n_out, self.residual = channels, n_in, n_out, residual
        self.core = SimVPCore(
            channels, channels, n_in, n_out, hid_S=hid_S, hid_T=hid_T, N_S=N_S, N_T=N_T,
            spatio_kernel_enc=spatio_kernel_enc, spatio_kernel_dec=spatio_kernel_dec,
            attn_kernel=attn_kernel, mlp_ratio=mlp_ratio, drop_path=drop_path, zero_init_readout=residual,
        )

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """Forecast ``n_out`` days.

        Args:
            x: (B, n_in, channels, H, W) normalised fields, oldest day first.
            mask: optional (B, H, W) or (H, W), 1/True over ocean; the output is set to 0 over land.

        Returns:
            (B, n_out, channels, H, W) normalised fields, day 1 first.
        """
        return self.finish(self.core(x), x, mask)

    def finish(self, y: Tensor, x: Tensor, mask: Tensor | None) -> Tensor:
        """The core's output ``y`` made the forecast: plus the last input day (``residual``), land 0."""
        if self.residual:
            y = y + x[:, -1:]
        if mask is not None:
            m = mask.to(dtype=y.dtype)
            m = m.reshape(-1, 1, 1, *m.shape[-2:]) if m.ndim == 3 else m
            y = y * m
        return y


class VelocityForecaster(nn.Module):
    """M_θ with its normalisation: physical current history -> autoregressive forecast.

    Args:
        net: a :class:`MultiConv` mapping (B, n_in, C, H, W) -> (B, n_out, C, H, W) in normalised units.
        normalizer: per-channel statistics of the training years (buffers; saved with the weights);
            its channels (the data's ``state`` names, ``u_g, v_g``) name the channel axis.
    """

    def __init__(self, net: MultiConv, normalizer: Normalizer) -> None:
        super().__init__()
        self.net, self.normalizer = net, normalizer
        self.n_in, self.n_out = int(net.n_in), int(net.n_out)

    @property
    def channels(self) -> tuple[str, ...]:
        """Names of the channel axis (``("u_g", "v_g")``)."""
        return self.normalizer.channels

    def forward(self, inputs: Tensor, mask: Tensor, n_days: int, grad_checkpoint: bool = False) -> Tensor:
        """Autoregressive forecast.

        Args:
            inputs: (B, n_in, C, H, W) velocity in m s⁻¹ (land 0), oldest day first.
            mask: (B, H, W) bool, True over the ocean.
            n_days: days to forecast (ceil(n_days / n_out) calls of the network).
            grad_checkpoint: recompute each call in the backward pass (memory for long rollouts).

        Returns:
            (B, n_days, C, H, W) normalised velocity, land 0; day 1 first.
        """
        m = mask.to(inputs.dtype)[:, None, None]
        x = self.normalizer.normalize(inputs, dim=2) * m
        if not torch.is_grad_enabled():
            return self._forward_reusing_encodings(x, mask, n_days)
        outs: list[Tensor] = []
        produced = 0
        while produced < n_days:
            if grad_checkpoint:
                y = grad_checkpoint_fn(self.net, x, mask, use_reentrant=False)
            else:
                y = self.net(x, mask)
            outs.append(y)
            produced += y.shape[1]
            x = torch.cat([x, y.to(x.dtype)], dim=1)[:, -self.n_in :]
        return torch.cat(outs, dim=1)[:, :n_days]

    def _forward_reusing_encodings(self, x: Tensor, mask: Tensor, n_days: int) -> Tensor:
        """:meth:`forward` without gradients, each day encoded once: a day stays in the input window for
        ``n_in`` calls, and the encoder (applied to every frame on its own) gives it the same encoding each time.
        The forecast of calling the network on every window up to round-off (oneDNN may sum a batch of B frames in
        another order than one of B·n_in; test); 5.5 -> 3.9 s for 40 days of 32 start dates of the demo's M_θ
        (4 input days, one thread)."""
        core = self.net.core
        b, size = x.shape[0], x.shape[-2:]

        def encode(frames: Tensor) -> list[tuple[Tensor, Tensor]]:
            latent, skip = core.encode(frames.reshape(-1, *frames.shape[2:]))
            t = frames.shape[1]
            return list(zip(latent.reshape(b, t, *latent.shape[1:]).unbind(1),
                            skip.reshape(b, t, *skip.shape[1:]).unbind(1), strict=True))

        window = encode(x)
        last = x[:, -1:]  # the day the residual forecast adds its change to
        outs: list[Tensor] = []
        produced = 0
        while produced < n_days:
            latent = torch.stack([e[0] for e in window], dim=1)
            skip = torch.stack([e[1] for e in window], dim=1)
            y = core.decode(latent.reshape(-1, *latent.shape[2:]), skip.reshape(-1, *skip.shape[2:]), size)
            y = self.net.finish(y, last, mask)
            outs.append(y)
            produced += y.shape[1]
            if produced < n_days:
                new_days = y.to(x.dtype)
                last = new_days[:, -1:]
                window = (window + encode(new_days))[-self.n_in :]
        return torch.cat(outs, dim=1)[:, :n_days]

    def forecast(self, inputs: Tensor, mask: Tensor, n_days: int,
                 initial: Mapping[str, Tensor] | None = None) -> Tensor:
        """(B, n_days, C, H, W) forecast in m s⁻¹, land 0.

        ``initial``: optional external state of day 0, name → (B, H, W) in m s⁻¹ (e.g. the
        currents of an altimetry analysis); it replaces the last input day, every channel given.
        """
        if initial is not None:
            unknown = sorted(set(initial) - set(self.channels))
            if unknown or set(initial) != set(self.channels):
                raise KeyError(f"forecast: initial must give every channel {self.channels}, got {sorted(initial)}")
            inputs = torch.cat([inputs[:, :-1], stack_channels(initial, self.channels, dim=1)[:, None]], dim=1)
        y = self.normalizer.denormalize(self.forward(inputs, mask, n_days).float(), dim=2)
        return y * mask.to(y.dtype)[:, None, None]


def _build(config: MultiConvConfig, info: DataInfo) -> VelocityForecaster:
    names = info.names("state")
    net = MultiConv(len(names), info.n_in, info.n_out, residual=config.residual, **config.core_sizes())
    return VelocityForecaster(net, Normalizer(info.norm_stats, names))


MODEL = ModelSpec("MultiConv", "velocity", MultiConvConfig, _build)
