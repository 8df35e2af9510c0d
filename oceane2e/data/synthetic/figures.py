"""Figure of one day of a data folder: SSTA, sea level and surface currents (docs/figures/synthetic_day.png).

``python -m oceane2e.data.synthetic.figures --root data/GS --date 2008-08-20 --out docs/figures/synthetic_day.png``
Reads the files through the data contract, so it draws what users get; land is drawn from mask.npy.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from oceane2e.data.contract import YearFile, date_to_year_day, read_clim, read_mask, year_path


def plot_day(root: str | Path, date: str, out: str | Path) -> Path:
    """Draw SSTA (with the MHW-threshold contour), zos and the current speed and arrows of ``date``."""
    import cmocean
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    root, out = Path(root), Path(out)
    day = np.datetime64(date, "D")
    year, i = date_to_year_day(day)
    mask = read_mask(root)
    with YearFile(year_path(root, "mhw", year), "mhw") as f:
        block = f.read(i, i + 1)[0]
        ssta, zos = block[f.index("ssta")], block[f.index("zos")]
        coords = f.coords
    with YearFile(year_path(root, "geo", year), "geo") as f:
        block = f.read(i, i + 1)[0]
        u, v = block[f.index("u_g")], block[f.index("v_g")]
    clim = read_clim(root / "clim.nc")
    seas, thresh = clim.for_dates(np.array([day]))
    margin = (thresh - seas)[0]
    lon, lat = coords.lon, coords.lat
    extent = (
        lon[0] - (lon[1] - lon[0]) / 2,
        lon[-1] + (lon[1] - lon[0]) / 2,
        lat[0] - (lat[1] - lat[0]) / 2,
        lat[-1] + (lat[1] - lat[0]) / 2,
    )
    land = np.where(mask, np.nan, 1.0)
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6), constrained_layout=True)
    speed = np.hypot(u, v)
    panels = (
        (ssta, cmocean.cm.balance, (-4, 4), "SSTA (K); black: MHW threshold"),
        (zos, cmocean.cm.delta, (-0.8, 0.8), "zos (m)"),
        (speed, cmocean.cm.speed, (0, 1.5), "geostrophic current (m s$^{-1}$)"),
    )
    for ax, (field, cmap, (lo, hi), title) in zip(axes, panels, strict=True):
        im = ax.imshow(field, origin="lower", extent=extent, cmap=cmap, vmin=lo, vmax=hi, aspect="auto")
        ax.imshow(land, origin="lower", extent=extent, cmap="Greys", vmin=0, vmax=1.6, aspect="auto")
        fig.colorbar(im, ax=ax, shrink=0.9)
        ax.set_title(title)
        ax.set_xlabel("longitude (°E)")
    axes[0].set_ylabel("latitude (°N)")
    exceed = np.where(mask, (ssta > margin).astype(float), 0.0)
    axes[0].contour(lon, lat, exceed, levels=[0.5], colors="k", linewidths=0.8)
    step = max(1, lon.size // 32)
    lo2, la2 = np.meshgrid(lon[::step], lat[::step])
    axes[2].quiver(lo2, la2, u[::step, ::step], v[::step, ::step], scale=25, width=0.0025, color="k")
    fig.suptitle(f"Ocean-E2E synthetic ocean (synthetic data), {date}")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path("data/GS"))
    parser.add_argument("--date", default="2008-08-20")
    parser.add_argument("--out", type=Path, default=Path("docs/figures/synthetic_day.png"))
    args = parser.parse_args(argv)
    print(plot_day(args.root, args.date, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
