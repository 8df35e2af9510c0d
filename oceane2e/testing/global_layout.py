"""Small STAND-INS of the reference release's global layout, for tests (issue 18).

Not data of the reference release: files with its names, variables, shapes, orientation and
conventions, on a coarse global grid, filled with analytic fields of (day, lat, lon), so that a test
can compute what a reader must return at any cell of the contract's grid:

* ``ERA5/025res_YYYY.nc``: ``mhws_variables`` (time, 5, lat, lon) without coordinates; channel 2
  u10 = 5 + cos(lat), 3 v10 = lon / 100 (degrees east in [0, 360)), 4 t2m = 280 + lat / 10 + day / 100;
  channels 0 and 1 hold -999 (never read);
* ``highres/CMEMS_YYYY_norm.nc``: ``ssta_highres`` (time, lat, lon) = lat / 100 + lon / 1000 - day / 1000;
* ``low/SSH_low_processed_YYYY.nc``: ``ugos`` = 0.2 + lon / 10000, ``vgos`` = lat / 1000 (time, lat, lon),
  with a ``time`` variable and, if asked, ``lat``/``lon`` coordinate variables;
* ``mask.npy`` at half the files' resolution: 0.0 over the ocean, NaN over land, rows from the south
  and columns from 180°W; land is a continent across the dateline and a polar cap in the south.

The data files run north to south with longitudes from 0°E (the reference's declared layout);
every file's global attribute ``comment`` says it is a stand-in. Land is NaN in every file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from oceane2e.dates import days_in_year

COMMENT = "stand-in of the Ocean-E2E reference release's global layout for tests; analytic values, not data"


def stand_in_fields(day: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> dict[str, np.ndarray]:
    """The analytic values at (day, lat, lon) (broadcast; lon in degrees east, any branch)."""
    lon360 = np.mod(lon, 360.0)
    return {
        "u10": 5.0 + np.cos(np.radians(lat)) + 0.0 * day,
        "v10": lon360 / 100.0 + 0.0 * day + 0.0 * lat,
        "t2m": 280.0 + lat / 10.0 + day / 100.0 + 0.0 * lon,
        "ssta": lat / 100.0 + lon360 / 1000.0 - day / 1000.0,
        "u_g": 0.2 + lon360 / 10000.0 + 0.0 * lat + 0.0 * day,
        "v_g": lat / 1000.0 + 0.0 * lon + 0.0 * day,
    }


def stand_in_land(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Land of the stand-ins at (lat, lon) degrees: a southern polar cap and a continent on 180°."""
    lon180 = (np.asarray(lon) + 180.0) % 360.0 - 180.0
    return (np.asarray(lat) < -60.0) | ((np.abs(lon180) > 150.0) & (np.abs(lat - 20.0) < 25.0))


@dataclass
class GlobalStandIn:
    """What :func:`write_reference_global_stand_in` wrote."""

    root: Path
    mask_path: Path
    years: list[int]
    file_shape: tuple[int, int]
    mask_shape: tuple[int, int]


def write_reference_global_stand_in(
    root: str | Path,
    years: tuple[int, ...] = (2001, 2002),
    mask_shape: tuple[int, int] = (9, 18),
    factor: int = 2,
    with_coords: bool = False,
) -> GlobalStandIn:
    """Write the stand-in layout under ``root`` (``ERA5/``, ``highres/``, ``low/``, ``mask.npy``).

    Args:
        mask_shape: (H, 2H) of the mask (20° cells by default; the reference's is 360 x 720).
        factor: the data files are ``factor`` times finer (the reference's: 2, 0.25° vs 0.5°).
        with_coords: also write ``lat``/``lon`` variables into the currents file (north to south,
            0°E first, as declared).
    """
    import netCDF4

    root = Path(root)
    h, w = mask_shape
    fh, fw = h * factor, w * factor
    lat = 90.0 - 180.0 / fh * (np.arange(fh) + 0.5)  # north to south
    lon = 360.0 / fw * (np.arange(fw) + 0.5)  # 0°E first
    land = stand_in_land(lat[:, None], lon[None, :])
    for year in years:
        n = days_in_year(year)
        day = np.arange(n, dtype=np.float64)[:, None, None]
        vals = {k: np.where(land, np.nan, v).astype(np.float32) for k, v in
                stand_in_fields(day, lat[None, :, None], lon[None, None, :]).items()}
        specs = {
            root / "ERA5" / f"025res_{year}.nc": {"mhws_variables": np.stack(
                [np.full_like(vals["u10"], -999.0), np.full_like(vals["u10"], -999.0), vals["u10"], vals["v10"],
                 vals["t2m"]], axis=1)},
            root / "highres" / f"CMEMS_{year}_norm.nc": {"ssta_highres": vals["ssta"]},
            root / "low" / f"SSH_low_processed_{year}.nc": {"ugos": vals["u_g"], "vgos": vals["v_g"]},
        }
        for path, variables in specs.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            with netCDF4.Dataset(path, "w") as ds:
                ds.comment = COMMENT
                ds.createDimension("time", n)
                ds.createDimension("lat", fh)
                ds.createDimension("lon", fw)
                first = next(iter(variables.values()))
                if first.ndim == 4:
                    ds.createDimension("channel", first.shape[1])
                if path.parent.name == "low":
                    t = ds.createVariable("time", "f8", ("time",))
                    t.units = f"days since {year}-01-01"
                    t[:] = np.arange(n)
                    if with_coords:
                        ds.createVariable("lat", "f8", ("lat",))[:] = lat
                        ds.createVariable("lon", "f8", ("lon",))[:] = lon
                for name, data in variables.items():
                    dims = ("time", "channel", "lat", "lon") if data.ndim == 4 else ("time", "lat", "lon")
                    var = ds.createVariable(name, "f4", dims, fill_value=np.float32(np.nan))
                    var[:] = data
    m_lat = -90.0 + 180.0 / h * (np.arange(h) + 0.5)  # south to north
    m_lon = -180.0 + 360.0 / w * (np.arange(w) + 0.5)  # 180°W first
    # a mask cell is land when its centre is (the files' blocks around it then are too, mostly)
    mask = np.where(stand_in_land(m_lat[:, None], m_lon[None, :]), np.nan, 0.0)
    mask_path = root / "mask.npy"
    np.save(mask_path, mask)
    return GlobalStandIn(root, mask_path, list(years), (fh, fw), (h, w))
