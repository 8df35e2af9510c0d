"""Building blocks of the SimVP family (MultiConv and the SimVP baseline).

SimVP (Gao et al. 2022; Tan et al. 2023, "gSTA" translator) is a purely convolutional video
predictor: a spatial **encoder** applied to every frame, a **translator** that mixes the frames'
latent maps (stacked on the channel axis) with gated large-kernel attention, and a **decoder**
with a skip connection from the first encoder layer. :class:`SimVPCore` puts the three together for
any grid size (padding to a multiple of the downsampling factor and cropping back).

Differences from OpenSTL's ``SimVP_Model`` (deliberate): GroupNorm instead of BatchNorm (results
do not depend on the per-rank batch under DDP, nor on train/eval mode), a 1×1 projection in and out
of the translator so the number of output frames may differ from the number of input frames, and a
zero-initialised read-out so an untrained residual model starts as persistence.
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import Tensor, nn

from model_baselines.common import crop_to, pad_to_multiple
from oceane2e.config import StrictModel


def sampling_pattern(n_layers: int, reverse: bool = False) -> list[bool]:
    """Which of ``n_layers`` conv layers change resolution: ``[False, True, False, True, ...]``.

    The first encoder layer keeps full resolution (its output is the decoder's skip); every second
    layer halves it. The decoder uses the reversed pattern.
    """
    pattern = [i % 2 == 1 for i in range(n_layers)]
    return pattern[::-1] if reverse else pattern


def downsampling_factor(n_layers: int) -> int:
    """Total spatial downsampling of an encoder with ``n_layers`` layers: ``2 ** (n_layers // 2)``."""
    return 2 ** sum(sampling_pattern(n_layers))


class ConvNormAct(nn.Module):
    """k×k conv → GroupNorm → SiLU, optionally halving (stride 2) or doubling (pixel shuffle) H, W."""

    def __init__(
        self, c_in: int, c_out: int, kernel_size: int = 3, downsample: bool = False, upsample: bool = False
    ) -> None:
        super().__init__()
        if downsample and upsample:
            raise ValueError("ConvNormAct: downsample and upsample are exclusive")
        if kernel_size % 2 != 1:
            raise ValueError(f"ConvNormAct: kernel_size must be odd, got {kernel_size}")
        pad = kernel_size // 2
        if upsample:
            self.conv: nn.Module = nn.Sequential(
                nn.Conv2d(c_in, 4 * c_out, kernel_size, padding=pad), nn.PixelShuffle(2)
            )
        else:
            self.conv = nn.Conv2d(c_in, c_out, kernel_size, stride=2 if downsample else 1, padding=pad)
        self.norm = nn.GroupNorm(2 if c_out % 2 == 0 else 1, c_out)
        self.act = nn.SiLU()

    def forward(self, x: Tensor) -> Tensor:
        """(N, c_in, H, W) → (N, c_out, H', W')."""
        return self.act(self.norm(self.conv(x)))


class Encoder(nn.Module):
    """``n_layers`` :class:`ConvNormAct` layers; returns the latent map and the first layer's output."""

    def __init__(self, c_in: int, c_hid: int, n_layers: int, kernel_size: int = 3) -> None:
        super().__init__()
        if n_layers < 1:
            raise ValueError(f"Encoder: n_layers (N_S) must be >= 1, got {n_layers}")
        pattern = sampling_pattern(n_layers)
        self.layers = nn.ModuleList(
            ConvNormAct(c_in if i == 0 else c_hid, c_hid, kernel_size, downsample=down)
            for i, down in enumerate(pattern)
        )

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(N, c_in, H, W) → latent (N, c_hid, H/f, W/f) and skip (N, c_hid, H, W)."""
        skip = self.layers[0](x)
        z = skip
        for layer in self.layers[1:]:
            z = layer(z)
        return z, skip


class Decoder(nn.Module):
    """Mirror of :class:`Encoder`; the skip is added before the last layer, then a 1×1 read-out."""

    def __init__(self, c_hid: int, c_out: int, n_layers: int, kernel_size: int = 3) -> None:
        super().__init__()
        pattern = sampling_pattern(n_layers, reverse=True)
        self.layers = nn.ModuleList(ConvNormAct(c_hid, c_hid, kernel_size, upsample=up) for up in pattern)
        self.readout = nn.Conv2d(c_hid, c_out, 1)

    def forward(self, z: Tensor, skip: Tensor) -> Tensor:
        """latent (N, c_hid, H/f, W/f), skip (N, c_hid, H, W) → (N, c_out, H, W)."""
        for layer in self.layers[:-1]:
            z = layer(z)
        return self.readout(self.layers[-1](z + skip))


class DropPath(nn.Module):
    """Stochastic depth: drop a whole residual branch per sample with probability ``p`` in training."""

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"DropPath: p must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if self.p == 0.0 or not self.training:
            return x
        keep = torch.rand(x.shape[0], *([1] * (x.ndim - 1)), device=x.device, dtype=x.dtype) >= self.p
        return x * keep / (1.0 - self.p)


class GatedLargeKernelAttention(nn.Module):
    """Spatial attention of gSTA: a large receptive field from cheap depthwise convolutions, gated.

    A ``kernel_size``×``kernel_size`` depthwise conv is decomposed into a small depthwise conv
    (``2·dilation − 1``) followed by a dilated depthwise conv; a 1×1 conv then produces a value
    and a gate, and the output is ``sigmoid(gate) · value``.
    """

    def __init__(self, dim: int, kernel_size: int = 21, dilation: int = 3) -> None:
        super().__init__()
        if kernel_size < 3:
            raise ValueError(f"GatedLargeKernelAttention: kernel_size must be >= 3, got {kernel_size}")
        dilation = max(1, min(dilation, kernel_size // 3))
        local_k = 2 * dilation - 1
        dilated_k = kernel_size // dilation
        dilated_k += 1 - dilated_k % 2  # odd
        self.local = nn.Conv2d(dim, dim, local_k, padding=local_k // 2, groups=dim)
        self.dilated = nn.Conv2d(
            dim, dim, dilated_k, padding=dilation * (dilated_k // 2), dilation=dilation, groups=dim
        )
        self.value_gate = nn.Conv2d(dim, 2 * dim, 1)

    def forward(self, x: Tensor) -> Tensor:
        """(N, dim, h, w) → (N, dim, h, w)."""
        value, gate = self.value_gate(self.dilated(self.local(x))).chunk(2, dim=1)
        return torch.sigmoid(gate) * value


class GatedSpatioTemporalBlock(nn.Module):
    """One translator block: pre-norm gated attention and a conv MLP, each a scaled residual branch."""

    def __init__(
        self, dim: int, kernel_size: int = 21, mlp_ratio: float = 4.0, drop_path: float = 0.0,
        layer_scale: float = 1e-2,
    ) -> None:
        super().__init__()
        hidden = max(1, int(round(dim * mlp_ratio)))
        self.norm1 = nn.GroupNorm(1, dim)
        self.attn = nn.Sequential(
            nn.Conv2d(dim, dim, 1), nn.GELU(), GatedLargeKernelAttention(dim, kernel_size), nn.Conv2d(dim, dim, 1)
        )
        self.norm2 = nn.GroupNorm(1, dim)
        self.mlp = nn.Sequential(
            nn.Conv2d(dim, hidden, 1),
            nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden),
            nn.GELU(),
            nn.Conv2d(hidden, dim, 1),
        )
        self.scale1 = nn.Parameter(torch.full((dim, 1, 1), layer_scale))
        self.scale2 = nn.Parameter(torch.full((dim, 1, 1), layer_scale))
        self.drop_path = DropPath(drop_path)

    def forward(self, x: Tensor) -> Tensor:
        """(N, dim, h, w) → (N, dim, h, w)."""
        x = x + self.drop_path(self.scale1 * self.attn(self.norm1(x)))
        return x + self.drop_path(self.scale2 * self.mlp(self.norm2(x)))


class Translator(nn.Module):
    """1×1 projection to ``c_hid``, ``n_blocks`` gated blocks, 1×1 projection to ``c_out``."""

    def __init__(
        self, c_in: int, c_hid: int, c_out: int, n_blocks: int, kernel_size: int = 21,
        mlp_ratio: float = 4.0, drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        if n_blocks < 1:
            raise ValueError(f"Translator: n_blocks (N_T) must be >= 1, got {n_blocks}")
        rates = torch.linspace(0.0, drop_path, n_blocks).tolist()
        self.proj_in = nn.Conv2d(c_in, c_hid, 1)
        self.blocks = nn.Sequential(
            *(GatedSpatioTemporalBlock(c_hid, kernel_size, mlp_ratio, p) for p in rates)
        )
        self.proj_out = nn.Conv2d(c_hid, c_out, 1)

    def forward(self, x: Tensor) -> Tensor:
        """(N, c_in, h, w) → (N, c_out, h, w)."""
        return self.proj_out(self.blocks(self.proj_in(x)))


class SimVPCore(nn.Module):
    """Encoder → gated translator → decoder for sequences of maps of any size.

    Args:
        in_channels, out_channels: channels per frame of input and output.
        n_in, n_out: number of input and output frames.
        hid_S: channels of the spatial encoder/decoder.
        hid_T: channels of the translator.
        N_S: encoder (and decoder) layers; spatial downsampling ``2 ** (N_S // 2)``.
        N_T: translator blocks.
        spatio_kernel_enc, spatio_kernel_dec: kernel sizes of encoder / decoder convs (odd).
        attn_kernel: receptive field of the translator's large-kernel attention, in latent cells.
        mlp_ratio: hidden width of the translator's MLP relative to ``hid_T``.
        drop_path: maximum stochastic-depth rate of the translator (linearly increasing).
        zero_init_readout: start with an output of exactly zero (useful for residual predictions).

    Input ``(B, n_in, in_channels, H, W)``, output ``(B, n_out, out_channels, H, W)``, in whatever
    (normalised) units the caller uses. ``H, W`` need not be multiples of the downsampling: the
    input is padded (edge replication) and the output cropped back.
    """

    def __init__(
        self, in_channels: int, out_channels: int, n_in: int = 1, n_out: int = 1, hid_S: int = 16,
        hid_T: int = 64, N_S: int = 2, N_T: int = 4, spatio_kernel_enc: int = 3, spatio_kernel_dec: int = 3,
        attn_kernel: int = 21, mlp_ratio: float = 4.0, drop_path: float = 0.0, zero_init_readout: bool = True,
    ) -> None:
        super().__init__()
        for name, value in {"in_channels": in_channels, "out_channels": out_channels, "n_in": n_in,
                            "n_out": n_out, "hid_S": hid_S, "hid_T": hid_T}.items():
            if value < 1:
                raise ValueError(f"SimVPCore: {name} must be >= 1, got {value}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.n_in, self.n_out, self.hid_S = n_in, n_out, hid_S
        self.factor = downsampling_factor(N_S)
        self.encoder = Encoder(in_channels, hid_S, N_S, spatio_kernel_enc)
        self.translator = Translator(n_in * hid_S, hid_T, n_out * hid_S, N_T, attn_kernel, mlp_ratio, drop_path)
        self.skip_proj = nn.Conv2d(n_in * hid_S, n_out * hid_S, 1) if n_in != n_out else nn.Identity()
        self.decoder = Decoder(hid_S, out_channels, N_S, spatio_kernel_dec)
        if zero_init_readout:
            nn.init.zeros_(self.decoder.readout.weight)
            nn.init.zeros_(self.decoder.readout.bias)

    def forward(self, x: Tensor) -> Tensor:
        """(B, n_in, in_channels, H, W) → (B, n_out, out_channels, H, W)."""
        if x.ndim != 5 or x.shape[1] != self.n_in or x.shape[2] != self.in_channels:
            raise ValueError(
                f"{type(self).__name__}: expected input (B, {self.n_in}, {self.in_channels}, H, W), "
                f"got {tuple(x.shape)}"
            )
        b = x.shape[0]
        latent, skip = self.encode(x.reshape(b * self.n_in, *x.shape[2:]))
        return self.decode(latent, skip, x.shape[-2:])

    def encode(self, frames: Tensor) -> tuple[Tensor, Tensor]:
        """The encoder, frame by frame: (N, in_channels, H, W) → latent (N, hid_S, h, w) and skip (N, hid_S, H', W')
        (H', W': H, W padded to the downsampling). Frames are encoded independently of each other, so an
        autoregressive forecast may encode each frame once and reuse it (:meth:`decode`)."""
        padded, _ = pad_to_multiple(frames, self.factor)
        return self.encoder(padded)

    def decode(self, latent: Tensor, skip: Tensor, size: tuple[int, int] | torch.Size) -> Tensor:
        """Translator and decoder from the encodings of ``n_in`` frames per sample, sample-major as :meth:`encode`
        returns them for ``(B·n_in, ...)`` frames → (B, n_out, out_channels, H, W) with ``size = (H, W)``."""
        b = latent.shape[0] // self.n_in
        h, w = latent.shape[-2:]
        hp, wp = skip.shape[-2:]
        z = self.translator(latent.reshape(b, self.n_in * self.hid_S, h, w))
        z = z.reshape(b * self.n_out, self.hid_S, h, w)
        skip = self.skip_proj(skip.reshape(b, self.n_in * self.hid_S, hp, wp))
        y = self.decoder(z, skip.reshape(b * self.n_out, self.hid_S, hp, wp))
        return crop_to(y.reshape(b, self.n_out, self.out_channels, hp, wp), tuple(size))


class SimVPSizes(StrictModel):
    """Sizes of the SimVP encoder / translator / decoder (shared by MultiConv and SimVP configs)."""

    hid_S: int = Field(16, ge=1, description="channels of the spatial encoder and decoder")
    hid_T: int = Field(64, ge=1, description="channels of the gated spatio-temporal translator")
    N_S: int = Field(2, ge=1, description="encoder/decoder conv layers; spatial downsampling 2**(N_S//2)")
    N_T: int = Field(4, ge=1, description="translator blocks")
    spatio_kernel_enc: int = Field(3, ge=1, description="encoder conv kernel size (odd)")
    spatio_kernel_dec: int = Field(3, ge=1, description="decoder conv kernel size (odd)")
    attn_kernel: int = Field(21, ge=3, description="receptive field of the large-kernel attention, latent cells")
    mlp_ratio: float = Field(4.0, gt=0, description="translator MLP width relative to hid_T")
    drop_path: float = Field(0.0, ge=0, lt=1, description="maximum stochastic-depth rate of the translator")

    def core_sizes(self) -> dict:
        """The keyword arguments of :class:`SimVPCore` these sizes set."""
        return self.model_dump(include=set(SimVPSizes.model_fields))
