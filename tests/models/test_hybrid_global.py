"""The hybrid on a global grid: its kernel is periodic without any setting (issue 18)."""

from __future__ import annotations

import numpy as np
import torch

from model_baselines.hybrid import HybridConfig, Oceane2e
from oceane2e.data.info import DataInfo
from oceane2e.physics import KernelOptions, advect

LAT = -85.0 + 10.0 * np.arange(18)
LON = -175.0 + 10.0 * np.arange(36)
NAMES = ("ssta", "u_g", "v_g", "u10", "v10", "t2m")


def test_untrained_hybrid_advects_across_the_seam_with_the_periodic_kernel() -> None:
    mask = np.ones((18, 36), dtype=bool)
    mask[:2] = False  # an Antarctica
    info = DataInfo(LAT, LON, mask, {"state": ("ssta",), "velocity": ("u_g", "v_g"), "atmos": ("u10", "v10", "t2m")},
                    {n: {"mean": 0.0, "std": 1.0} for n in NAMES})
    cfg = HybridConfig(gm={"hid_S": 4, "hid_T": 8}, source={"hid_S": 4, "hid_T": 8},
                       kernel={"polar_cap_deg": 80.0}, velocity_time="now")
    model = Oceane2e(info, cfg)
    grid = model.grid(torch.device("cpu"), torch.float32)
    assert grid.periodic
    m = torch.as_tensor(mask)
    ssta = torch.zeros(1, 2, 18, 36)
    ssta[0, 0, 10, -1] = 1.0  # next to the seam, carried east across it
    vel = torch.zeros(1, 2, 2, 18, 36)
    vel[:, :, 0] = 3.0 * m
    batch = {"ssta": ssta, "velocity": vel, "atmos": torch.zeros(1, 2, 3, 18, 36), "mask": m[None]}
    with torch.no_grad():
        out = model(batch, 1)[:, 0]
    expected = advect(ssta[:, 0], vel[:, 0, 0], vel[:, 0, 1], grid, info.dt_s,
                      KernelOptions(**{**model.kernel_options.__dict__, "substep_policy": "batch"}))
    torch.testing.assert_close(out, expected * m)
    assert out[0, 10, 0] > 0.05  # heat arrived in the first column, across the seam
