"""The on-disk data contract of Ocean-E2E (DESIGN.md §3).

Yearly NetCDF files in one folder, one time step per calendar day:

* ``geo_YYYY.nc``: variable ``mhws_variables`` (time, channel, lat, lon), channels ``u_g, v_g`` (m s-1).
* ``mhw_YYYY.nc``: variable ``mhws_variables`` (time, channel, lat, lon), channels
  ``ssta`` (K), ``zos`` (m), ``u10``, ``v10`` (m s-1), ``t2m`` (K).
* ``mask.npy`` (lat, lon): 1 ocean, 0 land.
* ``clim.nc``: day-of-year (1..366) ``seas`` and ``thresh`` of the variable MHWs are judged on.

This module is the only place in the project that knows channel *positions*; everything else
asks for channels by name. Files are written with netCDF4 directly so that chunking (one day per
chunk) and fill values are under our control; they are read with netCDF4 handles that are opened
once and then sliced lazily.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from oceane2e.dates import date_to_year_day as date_to_year_day  # re-exported: the contract's calendar
from oceane2e.dates import days_in_year as days_in_year
from oceane2e.dates import leap_doy_index as leap_doy_index
from oceane2e.dates import to_datetime as to_datetime
from oceane2e.dates import year_dates as year_dates
from oceane2e.errors import UserError
from oceane2e.outputs import save_npy, written

VARIABLE = "mhws_variables"
GEO_CHANNELS: tuple[str, ...] = ("u_g", "v_g")
MHW_CHANNELS: tuple[str, ...] = ("ssta", "zos", "u10", "v10", "t2m")
KIND_CHANNELS: dict[str, tuple[str, ...]] = {"geo": GEO_CHANNELS, "mhw": MHW_CHANNELS}
#: the atmosphere forcing channels of the mhw files (the source term's inputs)
ATMOS_CHANNELS: tuple[str, ...] = ("u10", "v10", "t2m")

CHANNEL_UNITS: dict[str, str] = {
    "u_g": "m s-1",
    "v_g": "m s-1",
    "ssta": "K",
    "zos": "m",
    "u10": "m s-1",
    "v10": "m s-1",
    "t2m": "K",
}
CHANNEL_LONG_NAMES: dict[str, str] = {
    "u_g": "eastward surface geostrophic velocity",
    "v_g": "northward surface geostrophic velocity",
    "ssta": "sea surface temperature anomaly",
    "zos": "sea surface height above geoid",
    "u10": "eastward wind at 10 m",
    "v10": "northward wind at 10 m",
    "t2m": "air temperature at 2 m",
}
MASK_FILE = "mask.npy"
CLIM_FILE = "clim.nc"
TIME_UNITS_TEMPLATE = "days since {year:04d}-01-01 00:00:00"


class DataContractError(UserError, ValueError):
    """A data file or folder breaks the contract. The message names the file and the fix."""


def missing_file_error(path: Path, fix: str) -> DataContractError:
    """The error for a missing data file: names the folder when the whole folder is absent."""
    folder = path.parent
    if path.is_symlink():
        return DataContractError(f"{path}: a broken or looping symbolic link ({os.readlink(path)}); fix or remove it")
    if not folder.is_dir():
        if folder.is_symlink():
            what = f"is a broken or looping symbolic link ({os.readlink(folder)})"
        else:
            what = "is not a folder" if folder.exists() else "does not exist"
        return DataContractError(
            f"{folder}: data folder {what}; generate the data there (`oceane2e synth --out {folder}`) "
            "or set data.root to the folder that holds geo_YYYY.nc, mhw_YYYY.nc and mask.npy")
    return DataContractError(f"{path}: missing; {fix}")


def year_path(root: str | Path, kind: str, year: int) -> Path:
    """Path of the yearly file of ``kind`` (``"geo"`` or ``"mhw"``) in ``root``."""
    if kind not in KIND_CHANNELS:
        raise ValueError(f"unknown file kind {kind!r}; expected one of {sorted(KIND_CHANNELS)}")
    return Path(root) / f"{kind}_{year:04d}.nc"


def split_channels(x: Any, names: Sequence[str], dim: int) -> dict[str, Any]:
    """Name the channels of an array/tensor: ``x`` has ``len(names)`` channels on axis ``dim``
    (non-negative) -> ``{name: x[..., i, ...]}`` with that axis removed (views, no copy)."""
    if x.shape[dim] != len(names):
        raise DataContractError(f"{x.shape[dim]} channels on axis {dim} of shape {tuple(x.shape)}, "
                                f"but {len(names)} names {tuple(names)}")
    lead = (slice(None),) * dim
    return {name: x[(*lead, i)] for i, name in enumerate(names)}


def stack_channels(fields: Mapping[str, Any], names: Sequence[str], dim: int) -> Any:
    """Inverse of :func:`split_channels`: the fields ``names`` stacked on a new axis ``dim``."""
    missing = [n for n in names if n not in fields]
    if missing:
        raise DataContractError(f"channels {missing} missing (have {sorted(fields)})")
    first = fields[names[0]]
    if hasattr(first, "detach"):  # a torch tensor
        import torch

        return torch.stack([fields[n] for n in names], dim=dim)
    return np.stack([fields[n] for n in names], axis=dim)


def channel_index(kind: str, name: str, channels: Sequence[str] | None = None) -> int:
    """Position of channel ``name`` in a file of ``kind`` (or in the explicit ``channels``)."""
    names = tuple(channels) if channels is not None else KIND_CHANNELS[kind]
    if name not in names:
        raise DataContractError(
            f"channel {name!r} is not among the {kind} channels {list(names)}; "
            f"check the channel names in the config"
        )
    return names.index(name)


# --------------------------------------------------------------------------------------------
# grid coordinates


@dataclass(frozen=True)
class GridCoords:
    """Cell-centre coordinates of a regular lat-lon grid, in degrees, both strictly increasing."""

    lat: np.ndarray  # (H,)
    lon: np.ndarray  # (W,)

    def __post_init__(self) -> None:
        for name in ("lat", "lon"):
            values = np.asarray(getattr(self, name), dtype=np.float64)
            if values.ndim != 1 or values.size < 2:
                raise DataContractError(f"{name} must be a 1-D coordinate with at least 2 values")
            if not np.all(np.diff(values) > 0):
                raise DataContractError(f"{name} coordinate is not strictly increasing")
            object.__setattr__(self, name, values)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.lat.size, self.lon.size)

    @classmethod
    def from_bounds(
        cls, lat_bounds: Sequence[float], lon_bounds: Sequence[float], shape: Sequence[int]
    ) -> GridCoords:
        """Cell centres of a regular grid of ``shape`` (H, W) filling the given edge bounds.

        Used for files of the reference release, which carry no coordinates: the config gives
        the region's edges (degrees) and the file gives the number of cells.
        """
        (lat0, lat1), (lon0, lon1), (h, w) = lat_bounds, lon_bounds, shape
        if not (lat1 > lat0 and lon1 > lon0):
            raise DataContractError(f"region bounds must increase: lat {lat_bounds}, lon {lon_bounds}")
        dlat, dlon = (lat1 - lat0) / h, (lon1 - lon0) / w
        lat = lat0 + dlat * (np.arange(h) + 0.5)
        lon = lon0 + dlon * (np.arange(w) + 0.5)
        return cls(lat=lat, lon=lon)

    def allclose(self, other: GridCoords, atol: float = 1e-6) -> bool:
        return (
            self.shape == other.shape
            and np.allclose(self.lat, other.lat, atol=atol)
            and np.allclose(self.lon, other.lon, atol=atol)
        )


# --------------------------------------------------------------------------------------------
# channel names


def write_channel_names(ds, names: Sequence[str], dim: str = "channel") -> None:
    """Write the ``channel`` coordinate of an open netCDF4 dataset as a CF character array.

    A fixed-length char array (``channel, name_strlen``, ``_Encoding = "ascii"``) rather than a
    variable-length string: HDF5 2.x can crash (segfault in ``H5T__conv_vlen``) when a file with
    a VLEN-string variable is opened several times in one process, as DataLoader datasets do.
    The dimension ``dim`` must already exist.
    """
    width = max(1, max(len(n) for n in names))
    strlen = f"{dim}_strlen"
    ds.createDimension(strlen, width)
    var = ds.createVariable(dim, "S1", (dim, strlen))
    var.long_name = "channel name"
    var._Encoding = "ascii"
    var[:] = np.array(list(names), dtype=f"S{width}")


def read_channel_names(var) -> tuple[str, ...]:
    """Channel names from a ``channel`` variable: a char array (ours) or VLEN strings (older files)."""
    import netCDF4

    values = np.asarray(var[:])
    if values.dtype.kind == "S" and values.ndim == 2:
        values = netCDF4.chartostring(values)
    return tuple(
        (x.decode("ascii") if isinstance(x, bytes) else str(x)).strip() for x in np.atleast_1d(values)
    )


def write_grid_coords(ds, coords: GridCoords) -> None:
    """Write the CF ``lat``/``lon`` coordinate variables of ``coords`` into an open netCDF4 dataset
    whose ``lat`` and ``lon`` dimensions exist."""
    for name, values, units, standard_name in (
        ("lat", coords.lat, "degrees_north", "latitude"),
        ("lon", coords.lon, "degrees_east", "longitude"),
    ):
        var = ds.createVariable(name, "f8", (name,))
        var.units, var.standard_name, var.long_name = units, standard_name, standard_name
        var[:] = values


# --------------------------------------------------------------------------------------------
# writing


def write_year(
    path: str | Path,
    kind: str,
    year: int,
    data: np.ndarray,
    coords: GridCoords,
    *,
    mask: np.ndarray | None = None,
    channels: Sequence[str] | None = None,
    attrs: Mapping[str, object] | None = None,
    zlib: bool = False,
) -> Path:
    """Write one yearly file of the contract.

    Args:
        path: output file, conventionally ``year_path(root, kind, year)``.
        kind: ``"geo"`` or ``"mhw"``.
        year: calendar year; ``data`` must hold one step per day of it.
        data: (T, C, H, W) float array in the units of ``CHANNEL_UNITS``.
        coords: grid coordinates (degrees).
        mask: (H, W), 1/True ocean; land cells are written as NaN (the fill value).
        channels: channel names in order; default: all channels of ``kind``.
        attrs: extra global attributes (e.g. ``source``, ``synthetic``).
        zlib: compress (off by default: reading speed matters more than disk).
    Returns:
        The written path. The file is written to a temporary name and renamed, so an
        interrupted write never leaves a half file under the final name.
    """
    import netCDF4

    names = tuple(channels) if channels is not None else KIND_CHANNELS[kind]
    data = np.asarray(data, dtype=np.float32)
    n_days = days_in_year(year)
    expected = (n_days, len(names), *coords.shape)
    if data.shape != expected:
        raise DataContractError(f"{path}: data shape {data.shape} != expected {expected} (T, C, H, W)")
    if mask is not None:
        land = ~np.asarray(mask, dtype=bool)
        if land.shape != coords.shape:
            raise DataContractError(f"{path}: mask shape {land.shape} != grid {coords.shape}")
        data = np.where(land[None, None], np.float32(np.nan), data)

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with written(path) as tmp, netCDF4.Dataset(tmp, "w", format="NETCDF4") as ds:
        ds.createDimension("time", n_days)
        ds.createDimension("channel", len(names))
        ds.createDimension("lat", coords.shape[0])
        ds.createDimension("lon", coords.shape[1])
        t = ds.createVariable("time", "f8", ("time",))
        t.units = TIME_UNITS_TEMPLATE.format(year=year)
        t.calendar = "standard"
        t.standard_name = "time"
        t[:] = np.arange(n_days, dtype=np.float64)
        write_grid_coords(ds, coords)
        write_channel_names(ds, names)
        var = ds.createVariable(
            VARIABLE,
            "f4",
            ("time", "channel", "lat", "lon"),
            chunksizes=(1, len(names), *coords.shape),
            zlib=zlib,
            fill_value=np.float32(np.nan),
        )
        var.long_name = "; ".join(CHANNEL_LONG_NAMES.get(n, n) for n in names)
        var.units = "; ".join(CHANNEL_UNITS.get(n, "1") for n in names)
        var.channel_names = ",".join(names)
        var.set_auto_maskandscale(False)
        for i in range(n_days):
            var[i] = data[i]
        if mask is not None:
            m = ds.createVariable("mask", "i1", ("lat", "lon"))
            m.long_name = "ocean mask (1 ocean, 0 land)"
            m[:] = np.asarray(mask, dtype=np.int8)
        ds.Conventions = "CF-1.8"
        ds.title = f"Ocean-E2E {kind} file for {year}"
        ds.ocean_e2e_kind = kind
        ds.ocean_e2e_year = np.int32(year)
        for key, value in (attrs or {}).items():
            ds.setncattr(key, value if not isinstance(value, bool) else int(value))
    return path


def write_mask(root: str | Path, mask: np.ndarray) -> Path:
    """Write ``mask.npy`` (lat, lon) as uint8, 1 ocean / 0 land."""
    path = Path(root) / MASK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    save_npy(path, np.asarray(mask, dtype=bool).astype(np.uint8))
    return path


def read_mask(root: str | Path) -> np.ndarray:
    """Read ``mask.npy`` as a bool array (True = ocean)."""
    path = Path(root) / MASK_FILE
    if not path.exists():
        raise missing_file_error(path, "write the land mask (1 ocean, 0 land) as mask.npy")
    try:
        mask = np.load(path)
    except Exception as err:  # noqa: BLE001 - any failure to parse is a corrupt file
        raise DataContractError(f"{path}: unreadable ({err}); regenerate or re-download it") from err
    if mask.ndim != 2:
        raise DataContractError(f"{path}: mask must be 2-D (lat, lon), got shape {mask.shape}")
    values = np.unique(mask)
    if not np.all(np.isin(values, (0, 1))):
        raise DataContractError(
            f"{path}: mask holds values {values[~np.isin(values, (0, 1))][:5].tolist()} other than 0/1; "
            "save 1 for ocean and 0 for land (`oceane2e check` lists every problem)")
    return mask.astype(bool)


def write_clim(
    path: str | Path,
    seas: np.ndarray,
    thresh: np.ndarray,
    coords: GridCoords,
    *,
    variable: str,
    baseline: tuple[int, int],
    window_half_width: int,
    smooth_width: int,
    percentile: float,
    mask: np.ndarray | None = None,
    attrs: Mapping[str, object] | None = None,
) -> Path:
    """Write ``clim.nc``: day-of-year (1..366) ``seas`` and ``thresh`` of ``variable``.

    Args:
        seas, thresh: (366, H, W) in the variable's units (K for ``ssta``/``sst``).
        variable: what the climatology is of (``"ssta"`` or ``"sst"``).
        baseline: first and last year of the baseline period (inclusive).
    """
    import netCDF4

    seas = np.asarray(seas, dtype=np.float32)
    thresh = np.asarray(thresh, dtype=np.float32)
    expected = (366, *coords.shape)
    for name, arr in (("seas", seas), ("thresh", thresh)):
        if arr.shape != expected:
            raise DataContractError(f"{path}: {name} shape {arr.shape} != {expected} (doy, lat, lon)")
    if mask is not None:
        land = ~np.asarray(mask, dtype=bool)
        seas = np.where(land[None], np.float32(np.nan), seas)
        thresh = np.where(land[None], np.float32(np.nan), thresh)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with written(path) as tmp, netCDF4.Dataset(tmp, "w", format="NETCDF4") as ds:
        ds.createDimension("doy", 366)
        ds.createDimension("lat", coords.shape[0])
        ds.createDimension("lon", coords.shape[1])
        d = ds.createVariable("doy", "i2", ("doy",))
        d.long_name = "day of year (1..366, leap-year numbering: 60 is 29 February)"
        d[:] = np.arange(1, 367)
        write_grid_coords(ds, coords)
        unit = CHANNEL_UNITS.get(variable, "K")
        for name, arr, long_name in (
            ("seas", seas, f"seasonal climatology of {variable}"),
            ("thresh", thresh, f"{percentile:g}th percentile threshold of {variable}"),
        ):
            v = ds.createVariable(name, "f4", ("doy", "lat", "lon"), fill_value=np.float32(np.nan))
            v.units, v.long_name = unit, long_name
            v.set_auto_maskandscale(False)
            v[:] = arr
        ds.Conventions = "CF-1.8"
        ds.variable = variable
        ds.baseline_start_year = np.int32(baseline[0])
        ds.baseline_end_year = np.int32(baseline[1])
        ds.window_half_width = np.int32(window_half_width)
        ds.smooth_width = np.int32(smooth_width)
        ds.percentile = float(percentile)
        for key, value in (attrs or {}).items():
            ds.setncattr(key, value if not isinstance(value, bool) else int(value))
    return path


@dataclass
class Climatology:
    """Day-of-year climatology read from ``clim.nc``; arrays are (366, H, W), index 0 is doy 1, read-only as read
    (copy one to change it)."""

    seas: np.ndarray
    thresh: np.ndarray
    coords: GridCoords
    variable: str
    baseline: tuple[int, int]
    attrs: dict

    def for_dates(self, dates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``seas`` and ``thresh`` for each of ``dates`` (datetime64[D]) -> two (N, H, W) arrays."""
        idx = leap_doy_index(dates)
        return self.seas[idx], self.thresh[idx]


def read_clim(path: str | Path) -> Climatology:
    """Read ``clim.nc`` written by :func:`write_clim` (or a converter)."""
    import netCDF4

    path = Path(path)
    if not path.exists():
        raise DataContractError(f"{path}: missing; run the data preparation (or `oceane2e synth`) to write it")
    try:
        with netCDF4.Dataset(path) as ds:
            for name in ("seas", "thresh", "lat", "lon"):
                if name not in ds.variables:
                    raise DataContractError(f"{path}: variable {name!r} missing; rewrite clim.nc")
            ds.set_auto_mask(False)
            seas = np.asarray(ds["seas"][:], dtype=np.float32)
            thresh = np.asarray(ds["thresh"][:], dtype=np.float32)
            coords = GridCoords(lat=np.asarray(ds["lat"][:]), lon=np.asarray(ds["lon"][:]))
            attrs = {k: ds.getncattr(k) for k in ds.ncattrs()}
    except DataContractError:
        raise
    except Exception as err:  # noqa: BLE001
        raise DataContractError(f"{path}: unreadable ({err}); regenerate it") from err
    if seas.shape[0] != 366:
        raise DataContractError(f"{path}: seas has {seas.shape[0]} days of year, expected 366")
    for array in (seas, thresh):  # read-only: the MHW detection keeps its float64 copy (oceane2e.mhw.forecast)
        array.flags.writeable = False
    baseline = (int(attrs.get("baseline_start_year", -1)), int(attrs.get("baseline_end_year", -1)))
    return Climatology(
        seas=seas,
        thresh=thresh,
        coords=coords,
        variable=str(attrs.get("variable", "ssta")),
        baseline=baseline,
        attrs=attrs,
    )


# --------------------------------------------------------------------------------------------
# reading


class NetCDFHandle:
    """Lifetime of one open netCDF4 handle (``self._ds``, opened in process ``self._pid``).

    Closes deterministically (not whenever the cyclic GC frees the netCDF4 objects) and only in the
    process that opened it: a forked DataLoader worker must not close its parent's HDF5 state.
    Handles cannot be pickled; datasets reopen them lazily in each worker.
    """

    _ds = None
    _pid: int | None = None

    def close(self) -> None:
        ds = self._ds
        if ds is not None and ds.isopen():
            ds.close()

    def __del__(self) -> None:
        if self._pid == os.getpid():
            try:
                self.close()
            except Exception:  # noqa: BLE001 - interpreter shutdown
                pass

    def __enter__(self):  # noqa: ANN204 - returns the subclass
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getstate__(self) -> dict:
        raise TypeError(f"{type(self).__name__} holds an open NetCDF handle; open it inside the worker instead")


class YearFile(NetCDFHandle):
    """A yearly contract file opened once; days are read lazily by slicing.

    Args:
        path: ``geo_YYYY.nc`` or ``mhw_YYYY.nc``.
        kind: ``"geo"`` or ``"mhw"``.
        coords: grid to use when the file has no coordinates (reference-release layout);
            when the file has coordinates they must match it.

    Attributes:
        channels: channel names in file order (from the ``channel`` coordinate, the
            ``channel_names`` attribute, or the contract default for files without them).
        coords: grid coordinates.
        n_days: number of time steps.
    """

    open_count = 0  # class-wide counter of file opens (tests use it to prove files are opened once)

    def __init__(self, path: str | Path, kind: str, coords: GridCoords | None = None) -> None:
        import netCDF4

        self.path = Path(path)
        self.kind = kind
        if not self.path.exists():
            raise missing_file_error(self.path, "generate or convert this year first")
        try:
            self._ds = netCDF4.Dataset(self.path, "r")
        except Exception as err:  # noqa: BLE001
            raise DataContractError(
                f"{self.path}: unreadable or corrupt NetCDF ({err}); delete and regenerate it"
            ) from err
        self._pid = os.getpid()
        YearFile.open_count += 1
        if VARIABLE not in self._ds.variables:
            self.close()
            raise DataContractError(f"{self.path}: variable {VARIABLE!r} missing; is this a {kind} file?")
        self._var = self._ds[VARIABLE]
        self._var.set_auto_maskandscale(False)
        if self._var.ndim != 4:
            self.close()
            raise DataContractError(
                f"{self.path}: {VARIABLE} has dims {self._var.dimensions}, expected (time, channel, lat, lon)"
            )
        try:
            self.channels = self._read_channel_names()
        except DataContractError:
            self.close()
            raise
        self.n_days = int(self._var.shape[0])
        shape = tuple(int(s) for s in self._var.shape[2:])
        if "lat" in self._ds.variables and "lon" in self._ds.variables:
            try:
                own = GridCoords(lat=np.asarray(self._ds["lat"][:]), lon=np.asarray(self._ds["lon"][:]))
            except DataContractError as err:
                self.close()
                raise DataContractError(f"{self.path}: {err}; fix the file's coordinates") from err
            if coords is not None and not own.allclose(coords):
                self.close()
                raise DataContractError(
                    f"{self.path}: grid ({own.shape[0]}x{own.shape[1]}, lat {own.lat[0]:.4f}..{own.lat[-1]:.4f}, "
                    f"lon {own.lon[0]:.4f}..{own.lon[-1]:.4f}) differs from the expected grid "
                    f"({coords.shape[0]}x{coords.shape[1]}, lat {coords.lat[0]:.4f}..{coords.lat[-1]:.4f}, "
                    f"lon {coords.lon[0]:.4f}..{coords.lon[-1]:.4f}); all files must share one grid"
                )
            self.coords = own
            self.has_coords = True
        else:
            if coords is None:
                self.close()
                raise DataContractError(
                    f"{self.path}: no lat/lon coordinates in the file (reference-release layout); "
                    f"set data.lat_bounds and data.lon_bounds in the config"
                )
            if coords.shape != shape:
                self.close()
                raise DataContractError(
                    f"{self.path}: grid shape {shape} differs from the configured grid {coords.shape}"
                )
            self.coords = coords
            self.has_coords = False
        if coords is not None and self.coords.shape != shape:
            self.close()
            raise DataContractError(f"{self.path}: data shape {shape} != coordinate shape {self.coords.shape}")

    def _read_channel_names(self) -> tuple[str, ...]:
        n = int(self._var.shape[1])
        if "channel" in self._ds.variables:
            names = read_channel_names(self._ds["channel"])
        elif "channel_names" in self._var.ncattrs():
            names = tuple(self._var.getncattr("channel_names").split(","))
        else:
            # reference-release layout: the channels are in the contract's order, all of them
            default = KIND_CHANNELS[self.kind]
            if n != len(default):
                raise DataContractError(
                    f"{self.path}: {n} channels but no channel names; a {self.kind} file without names "
                    f"must hold exactly {list(default)} in this order (add a 'channel' coordinate otherwise)"
                )
            names = default
        if len(names) != n:
            raise DataContractError(f"{self.path}: {n} channels but {len(names)} channel names")
        return names

    def index(self, name: str) -> int:
        """Position of channel ``name`` in this file."""
        if name not in self.channels:
            raise DataContractError(
                f"{self.path}: channel {name!r} missing (file has {list(self.channels)}); "
                f"re-run the data preparation with that input, or drop it from the config"
            )
        return self.channels.index(name)

    def read(self, start: int, stop: int, channels: Sequence[str] | None = None) -> np.ndarray:
        """Days ``start:stop`` (0-based within the year) of the named channels -> (T, C, H, W) float32.

        Land is NaN exactly as stored; callers apply the mask.
        """
        if channels is None:
            return np.asarray(self._var[start:stop], dtype=np.float32)
        idx = [self.index(c) for c in channels]
        block = np.asarray(self._var[start:stop], dtype=np.float32)
        return block[:, idx]



CONTENTS_FILE = "contents.json"
ABSENT_ATTRIBUTE = "absent_channels"


def declared_absent(root: str | Path) -> frozenset[str]:
    """Channels a converted folder declares it does not have (the converter wrote no source for them).

    The union of ``absent_channels`` in ``<root>/contents.json`` and the ``absent_channels`` attribute
    of the first ``mhw_YYYY.nc`` (``"u_g,v_g,zos,u10,v10,t2m"`` for an SST-only folder). Empty for
    folders that declare nothing (the synthetic ocean, the reference release's files): every channel
    of the contract is then required. A channel that is missing without being declared stays an error.
    """
    import json

    import netCDF4

    root = Path(root)
    absent: set[str] = set()
    contents = root / CONTENTS_FILE
    if contents.is_file():
        try:
            absent.update(str(c) for c in json.loads(contents.read_text()).get(ABSENT_ATTRIBUTE, []))
        except (ValueError, AttributeError, TypeError) as err:
            raise DataContractError(f"{contents}: unreadable ({err}); re-run the data preparation") from err
    years = find_years(root, "mhw")
    if years:
        try:
            with netCDF4.Dataset(year_path(root, "mhw", years[0])) as ds:
                text = str(getattr(ds, ABSENT_ATTRIBUTE, ""))
        except OSError:
            text = ""  # an unreadable file is reported by whoever reads it
        absent.update(c.strip() for c in text.split(",") if c.strip())
    return frozenset(absent)


def present_channels(root: str | Path, kind: str) -> tuple[str, ...]:
    """The contract channels of ``kind`` that the folder ``root`` has (all but the declared absent ones)."""
    absent = declared_absent(root)
    return tuple(c for c in KIND_CHANNELS[kind] if c not in absent)


def find_years(root: str | Path, kind: str) -> list[int]:
    """Years for which ``root`` holds a ``<kind>_YYYY.nc`` file, sorted."""
    years = []
    for p in Path(root).glob(f"{kind}_*.nc"):
        stem = p.stem.split("_", 1)[1]
        if stem.isdigit() and len(stem) == 4:
            years.append(int(stem))
    return sorted(years)
