"""The learned analysis: background SSTA + gridded observations + land mask -> analysis increment.

One network of kind ``"analysis"`` (DESIGN.md §10, docs/assimilation.md "The learned analysis"):

    prior    = Σ_s w_s · P_s(Σ_d c_d ω·δ) / (P_s(Σ_d c_d ω) + λ_s)             (K; a learned multi-scale
               normalised convolution of the SSTA innovations δ: an OI-like first guess, exactly 0 without data)
    analysis = background + prior + gate(obs) · σ_T · UNet(inputs, prior)   (K; land 0)
    std      = min_std + σ_T · softplus(UNet_std(inputs))                   (K; optional)
    currents = first guess + gate(obs) · σ_u,v · UNet_uv(inputs)             (m s-1; optional, ``currents: true``)

Inputs, per day of the window (today first) and per platform, DINCAE-style: the observation mask,
the innovation (value − background) / σ for SSTA platforms (the value / σ for sea level, which has no
background), the gain-like weight ω = σ²·ivar / (1 + σ²·ivar) of its inverse error variance (0
where nothing was seen, → 1 for exact observations) and log(1 + count); plus the normalised
background and the land mask (and, with ``currents: true``, the first-guess currents / σ_u,v: the
altimetry analysis of the day, which the network corrects from the same observations — the sea-level
tracks, and the SSTA's fronts that the currents carry). σ is the training-years std of the variable (``ssta``; ``zos`` for
sea level).

P_s is an average over 2^s cells upsampled bilinearly (s = 0 .. ``gate_scales`` − 1), w_s, λ_s > 0 and
c_d ≥ 0 are learned: the prior gives skill from the first step (a Cressman/OI-like spreading of the
innovations whose reach and trust are learned), the U-Net learns what it cannot (anisotropy along
fronts, the flow, the platforms' errors, the background's own errors). ``gate`` makes "no observation ⇒
analysis = background" hold **by construction** (and so does the prior): it is
1 − exp(−Σ_s a_s · pool_s(ρ)) with ρ = Σ c_{d,p} ω_{d,p} the (learned, non-negative) density of
observations and pool_s an average over 2^s cells (s = 0 .. ``gate_scales`` − 1, upsampled
bilinearly), so it is exactly 0 when every observation channel is 0, and it lets each cell learn how
far observations reach. The U-Net is fully convolutional (any H, W; padded to a multiple of
2^(levels−1) and cropped), has no normalisation layer (a cell's analysis does not depend on the
rest of the batch), and its read-out starts at zero: training starts from "analysis = background".
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from model_baselines.base import apply_mask
from model_baselines.registry import ModelSpec
from oceane2e.config import StrictModel
from oceane2e.data.info import DataInfo

#: DataInfo roles of an analysis model: the platforms (channel axis 2 of the observations) and the
#: variable each observes (``ssta`` or ``sla``)
OBS_ROLE, OBS_VARIABLES_ROLE = "obs", "obs_variables"
#: the channels of one platform's gridded observations (:mod:`oceane2e.assim.gridding`)
VALUE, COUNT, INV_VAR = 0, 1, 2
#: the statistic that scales each observed variable (sea level anomalies scale like zos)
SCALE_OF: dict[str, str] = {"ssta": "ssta", "sla": "zos"}


class AnalysisUNetConfig(StrictModel):
    """The ``model:`` section of the learned analysis (``name: AnalysisUNet``)."""

    name: Literal["AnalysisUNet"] = "AnalysisUNet"
    base_channels: int = Field(24, ge=4, description="channels of the first U-Net level (doubled per level)")
    max_channels: int = Field(96, ge=4, description="cap on the channels of a level")
    levels: int = Field(3, ge=1, le=6, description="U-Net levels (level k works at 2^k-times coarser cells)")
    convs_per_level: int = Field(2, ge=1, description="3x3 convolutions per level and side")
    gate_scales: int = Field(5, ge=1, le=8, description="footprints of the observation gate: 1, 2, ... 2^(n-1) cells")
    uncertainty: bool = Field(True, description="also output a per-cell error std (trained by Gaussian likelihood)")
    min_std: float = Field(0.02, gt=0, description="floor of the predicted error std, K")
    currents: bool = Field(False, description="also analyse the surface currents: the first-guess u_g, v_g (m s-1; "
                           "the altimetry analysis of the day) are inputs and increments on them outputs, gated "
                           "like the SSTA's (no observation: the first guess)")


def _block(c_in: int, c_out: int, n: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for k in range(n):
        layers += [nn.Conv2d(c_in if k == 0 else c_out, c_out, 3, padding=1), nn.GELU()]
    return nn.Sequential(*layers)


class AnalysisUNet(nn.Module):
    """The learned analysis (see the module docstring).

    Args:
        info: :class:`DataInfo` with ``channels["obs"]`` (platforms), ``channels["obs_variables"]``
            (their variables), ``n_in`` = days of observations per analysis (today first) and the
            statistics of ``ssta`` (and ``zos`` when sea level is observed).
        config: :class:`AnalysisUNetConfig`.
    """

    def __init__(self, info: DataInfo, config: AnalysisUNetConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or AnalysisUNetConfig()
        self.data_info = info
        self.platforms = info.names(OBS_ROLE)
        variables = info.names(OBS_VARIABLES_ROLE)
        if not self.platforms or len(variables) != len(self.platforms):
            raise ValueError(f"AnalysisUNet: DataInfo needs roles {OBS_ROLE!r} and {OBS_VARIABLES_ROLE!r} of equal "
                             f"length, got {self.platforms} and {variables}")
        self.n_days = int(info.n_in)
        scale = [float(info.norm_stats[SCALE_OF[v]]["std"]) for v in variables]
        self.register_buffer("obs_scale", torch.tensor(scale, dtype=torch.float32))
        self.register_buffer("has_background", torch.tensor([v == "ssta" for v in variables]))
        self.ssta_std = float(info.norm_stats["ssta"]["std"])
        n_obs = self.n_days * len(self.platforms)
        n_in = 3 + 4 * n_obs + (2 if cfg.currents else 0)
        if cfg.currents:  # the statistics that scale the currents' inputs and increments (m s-1); only then, so
            # an SSTA-only network keeps the state dict of the checkpoints written before the option existed
            self.register_buffer("vel_scale", torch.tensor([float(info.norm_stats[c]["std"]) for c in ("u_g", "v_g")],
                                                           dtype=torch.float32))
        widths = [min(cfg.base_channels * 2**k, cfg.max_channels) for k in range(cfg.levels)]
        self.widths = widths
        self.down = nn.ModuleList()
        c = n_in
        for w in widths:
            self.down.append(_block(c, w, cfg.convs_per_level))
            c = w
        self.up = nn.ModuleList(_block(widths[k + 1] + widths[k], widths[k], cfg.convs_per_level)
                                for k in reversed(range(cfg.levels - 1)))
        self._currents_at = 2 if cfg.uncertainty else 1  # head channels: SSTA increment, (std), (du, dv)
        self.head = nn.Conv2d(widths[0], self._currents_at + (2 if cfg.currents else 0), 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        # gate: density weights per (day, platform), reach per scale; softplus(x) keeps them >= 0
        init = torch.full((self.n_days, len(self.platforms)), -2.0)
        init[0] = 1.0
        self.gate_density = nn.Parameter(init)
        self.gate_reach = nn.Parameter(torch.zeros(cfg.gate_scales))
        # prior: per-day trust c_d, per-scale weight w_s and background-to-observation ratio λ_s
        self.prior_day = nn.Parameter(torch.tensor([1.0] + [-1.0] * (self.n_days - 1)))
        self.prior_weight = nn.Parameter(torch.zeros(cfg.gate_scales))
        self.prior_lambda = nn.Parameter(torch.zeros(cfg.gate_scales))

    @property
    def analyses_currents(self) -> bool:
        """True when the network also analyses u_g, v_g (``currents: true``): :meth:`forward` then needs the
        first-guess currents and returns their analysis too."""
        return bool(self.config.currents)

    def features(self, background: Tensor, obs: Tensor, ocean: Tensor,
                 currents: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """(B, 2 + 4·D·P (+ 2), H, W) network inputs and (B, D, P, H, W) observation weights ω."""
        b = background[:, None, None]
        scale = self.obs_scale[None, None, :, None, None]
        seen = (obs[:, :, :, COUNT] > 0).to(b.dtype)
        ref = obs[:, :, :, VALUE] - torch.where(self.has_background[None, None, :, None, None], b, torch.zeros_like(b))
        innovation = ref / scale * seen
        s2 = (scale**2) * obs[:, :, :, INV_VAR]
        omega = s2 / (1.0 + s2)
        count = torch.log1p(obs[:, :, :, COUNT])
        o = ocean[:, None].to(b.dtype)
        extra = [] if currents is None else [currents.to(b.dtype) / self.vel_scale[None, :, None, None]]
        stack = torch.cat([background[:, None] / self.ssta_std, o,
                           *(t.flatten(1, 2) for t in (seen, innovation, omega, count)), *extra], dim=1)
        return stack * o, omega

    def _pool(self, x: Tensor, s: int) -> Tensor:
        """Average of (B, C, H, W) over 2^s cells, upsampled bilinearly back to (H, W)."""
        if s == 0:
            return x
        k = 2**s
        return F.interpolate(F.avg_pool2d(x, k, k, ceil_mode=True), size=x.shape[-2:], mode="bilinear",
                             align_corners=False)

    def prior(self, background: Tensor, obs: Tensor, omega: Tensor) -> Tensor:
        """(B, H, W) K: the learned normalised convolution of the SSTA innovations (0 without SSTA data)."""
        ssta = self.has_background[None, None, :, None, None]
        seen = obs[:, :, :, COUNT] > 0
        innov = torch.where(seen & ssta, obs[:, :, :, VALUE] - background[:, None, None], torch.zeros_like(omega))
        w = torch.where(ssta, omega, torch.zeros_like(omega)) * F.softplus(self.prior_day)[None, :, None, None, None]
        num, den = (w * innov).sum(dim=(1, 2))[:, None], w.sum(dim=(1, 2))[:, None]
        weights, lam = F.softplus(self.prior_weight), F.softplus(self.prior_lambda)
        total = torch.zeros_like(num)
        for s in range(self.config.gate_scales):
            total = total + weights[s] * self._pool(num, s) / (self._pool(den, s) + lam[s])
        return total[:, 0] / self.config.gate_scales

    def gate(self, omega: Tensor) -> Tensor:
        """(B, H, W) in [0, 1): 0 exactly where (and only where) no observation weight reaches."""
        rho = (F.softplus(self.gate_density)[None, :, :, None, None] * omega).sum(dim=(1, 2))[:, None]
        total = torch.zeros_like(rho)
        reach = F.softplus(self.gate_reach)
        for s in range(self.config.gate_scales):
            total = total + reach[s] * self._pool(rho, s)
        return (1.0 - torch.exp(-total))[:, 0]

    def unet(self, x: Tensor, learned: Tensor | None = None) -> Tensor:
        """The U-Net on (B, C, H, W) (padded to a multiple of 2^(levels-1), cropped back).

        ``learned`` (B, C', H, W), when given, are the input's last C' channels, kept apart: the ones that depend
        on trained parameters (the prior). The first convolution then runs as two, the same weights split along
        their input channels, so backward computes the input gradient of those C' channels only — the observation
        channels (~120 at a 7-day window) have none to compute — and ``x`` is laid out once in the first
        convolution's memory format (channels-last on CPU, :func:`oceane2e.engine.trainer.fast_layout`) instead
        of converted in forward and again in backward. Measured on the demo's training step (batch 8, 48 × 96,
        one thread): docs/benchmarks.md, "The analysis' training step".
        """
        h, w = x.shape[-2:]
        m = 2 ** (len(self.down) - 1)
        pad = (0, (-w) % m, 0, (-h) % m)
        first, *rest = self.down[0]
        if any(pad):
            x, learned = (None if t is None else F.pad(t, pad) for t in (x, learned))
        if learned is None:
            x = first(x)
        else:
            # a split along the input channels is the same convolution only for an ungrouped, zero-padded one
            assert isinstance(first, nn.Conv2d) and first.groups == 1 and first.padding_mode == "zeros"
            k = x.shape[1]
            weight = first.weight
            layout = torch.channels_last if weight.is_contiguous(memory_format=torch.channels_last) and \
                not weight.is_contiguous() else torch.contiguous_format
            w_obs, w_learned = (part.contiguous(memory_format=layout) for part in (weight[:, :k], weight[:, k:]))
            conv = {"stride": first.stride, "padding": first.padding, "dilation": first.dilation}
            x = F.conv2d(x.contiguous(memory_format=layout), w_obs, first.bias, **conv) + \
                F.conv2d(learned, w_learned, None, **conv)
        for layer in rest:
            x = layer(x)
        skips = [x]
        for block in self.down[1:]:
            x = F.avg_pool2d(x, 2)
            x = block(x)
            skips.append(x)
        for k, block in zip(reversed(range(len(self.down) - 1)), self.up, strict=True):
            x = F.interpolate(x, size=skips[k].shape[-2:], mode="bilinear", align_corners=False)
            x = block(torch.cat([x, skips[k]], dim=1))
        return self.head(x)[..., :h, :w]

    def forward(self, background: Tensor, obs: Tensor, mask: Tensor,
                currents: Tensor | None = None) -> tuple[Tensor, ...]:
        """Analyse one day.

        Args:
            background: (B, H, W) background SSTA, K (land 0).
            obs: (B, D, P, 3, H, W) gridded observations of the day and the D−1 days before (today
                first), platforms in ``info.channels["obs"]`` order, channels value / count / inverse
                variance (:mod:`oceane2e.assim.gridding`).
            mask: (B, H, W) or (H, W), True over the ocean.
            currents: (B, 2, H, W) first-guess u_g, v_g, m s-1 (needed with ``currents: true``, else unused).

        Returns:
            analysis (B, H, W) K and its error std (B, H, W) K (None without ``uncertainty``); land 0; with
            ``currents: true`` also the analysed currents (B, 2, H, W) m s-1.
        """
        if obs.ndim != 6 or obs.shape[1:3] != (self.n_days, len(self.platforms)) or obs.shape[3] != 3:
            raise ValueError(f"AnalysisUNet: obs must be (B, {self.n_days}, {len(self.platforms)}, 3, H, W), "
                             f"got {tuple(obs.shape)}")
        ocean = mask.bool()
        if ocean.ndim == 2:
            ocean = ocean.expand(background.shape[0], *ocean.shape)
        obs = obs.to(background.dtype)
        if self.config.currents and (currents is None or currents.shape != (background.shape[0], 2,
                                                                            *background.shape[-2:])):
            raise ValueError("AnalysisUNet(currents=True): needs the first-guess currents (B, 2, H, W), got "
                             f"{None if currents is None else tuple(currents.shape)}")
        x, omega = self.features(background, obs, ocean, currents if self.config.currents else None)
        prior = self.prior(background, obs, omega)
        y = self.unet(x, (prior / self.ssta_std)[:, None] * ocean[:, None])
        gate = self.gate(omega)
        increment = prior + y[:, 0] * self.ssta_std * gate
        analysis = apply_mask(background + increment, ocean)
        std = None
        if self.config.uncertainty:
            std = apply_mask(self.config.min_std + self.ssta_std * F.softplus(y[:, 1]), ocean)
        if not self.config.currents:
            return analysis, std
        c = self._currents_at
        du = y[:, c : c + 2] * self.vel_scale[None, :, None, None] * gate[:, None]
        return analysis, std, (currents.to(analysis.dtype) + du) * ocean[:, None]


def _build(config: AnalysisUNetConfig, info: DataInfo) -> AnalysisUNet:
    return AnalysisUNet(info, config)


MODEL = ModelSpec("AnalysisUNet", "analysis", AnalysisUNetConfig, _build)

__all__ = ["AnalysisUNet", "AnalysisUNetConfig", "MODEL", "OBS_ROLE", "OBS_VARIABLES_ROLE"]
