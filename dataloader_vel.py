"""Stage-1 dataset: windows of past geostrophic-velocity days -> the following days.

The implementation lives in the library (:mod:`oceane2e.data.datasets`); this module keeps the
reference release's file name. Example::

    from dataloader_vel import VelocityWindowDataset
    ds = VelocityWindowDataset(cfg.data, "train", n_in=10, n_out=10)
    item = ds[0]  # {"inputs": (10, 2, H, W), "targets": (10, 2, H, W), "mask": (H, W), "time0": int64}

Velocities are in m s-1 with land set to 0.0 and the ocean mask given explicitly; channels are
``ds.channels == ("u_g", "v_g")``. Files are opened once per process, never per item; windows may
cross from one year into the next when both are in the split.
"""

from oceane2e.data.datasets import DataFolder, VelocityWindowDataset, window_starts

__all__ = ["DataFolder", "VelocityWindowDataset", "window_starts"]
