"""Stage-2 and baseline dataset: initial SSTA, atmosphere, velocities and the target trajectory.

The implementation lives in the library (:mod:`oceane2e.data.datasets`); this module keeps the
reference release's file name. Example::

    from dataloader import SSTAWindowDataset
    ds = SSTAWindowDataset(cfg.data, "train", n_lead=10, velocity="forecast")
    item = ds[0]
    # {"ssta": (11, H, W) K, "velocity": (11, 2, H, W) m s-1, "atmos": (11, 3, H, W),
    #  "mask": (H, W) bool, "time0": int64}; index 0 is the initial day time0, index k lead k.

With ``velocity="forecast"`` indices 1.. of ``velocity`` are the stage-1 forecasts read from
``MultiConv_data.nc`` (written by ``inference_vel.py``). Land is 0.0 with an explicit mask;
normalisation statistics (training years only) come from :func:`ensure_stats`.
"""

from oceane2e.data.datasets import DataFolder, SSTAWindowDataset, window_starts
from oceane2e.data.normalization import compute_stats, ensure_stats, load_stats

__all__ = ["DataFolder", "SSTAWindowDataset", "compute_stats", "ensure_stats", "load_stats", "window_starts"]
