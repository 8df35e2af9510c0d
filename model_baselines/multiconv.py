"""MultiConv: the velocity model M_θ of stage 1 (SimVP-style, gated spatio-temporal translator).

It maps the last ``n_in`` days of surface geostrophic velocity (u_g, v_g) to the next ``n_out``
days. Input and output are in normalised units (stage 1 normalises with
:class:`model_baselines.common.Normalizer`); by default the network predicts the change from the
last input day, so an untrained model is persistence.
"""

from __future__ import annotations

from torch import Tensor, nn

from model_baselines.blocks import SimVPCore


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
        y = self.core(x)
        if self.residual:
            y = y + x[:, -1:]
        if mask is not None:
            m = mask.to(dtype=y.dtype)
            m = m.reshape(-1, 1, 1, *m.shape[-2:]) if m.ndim == 3 else m
            y = y * m
        return y
