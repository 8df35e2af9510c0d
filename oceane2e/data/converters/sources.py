"""Reading daily fields from the files of one product (a list of NetCDF files or globs).

One :class:`DailySource` per product. On construction it opens every file once to read its
grid and time axis (never the data), checks that all files share one grid, and builds an index
``date -> [(file, time step), ...]``; hourly files give 24 steps per date, which are averaged into
the daily mean. :meth:`DailySource.read_day` then reads only the rows covering the region.

Recognised layouts:

* CMEMS/DUACS L4 (``adt``, ``sla``, ``ugos``, ``vgos``; ``time, latitude, longitude``; files
  without a ``time`` variable get their date from the ``..._YYYYMMDD_YYYYMMDD.nc`` name).
* NOAA OISST v2.1 (``sst`` in degC, int16 packed, ``time, zlev, lat, lon``, longitudes 0..360)
  and GHRSST/OSTIA L4 (``analysed_sst`` in K).
* ERA5 single levels, old CDS layout (``time``) and new (``valid_time``, ``number``, ``expver``
  as a dimension or a coordinate), descending latitude, hourly or daily.

Units are converted to the contract's (K for temperatures, m s-1, m); a variable without
recognisable units is an error that names the file and how to declare them.
"""

from __future__ import annotations

import glob as _glob
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from oceane2e.data.contract import DataContractError, GridCoords
from oceane2e.data.converters.regrid import unify_longitudes

LAT_NAMES = ("latitude", "lat", "nav_lat", "y")
LON_NAMES = ("longitude", "lon", "nav_lon", "x")
TIME_NAMES = ("time", "valid_time")
SQUEEZE_DIMS = ("zlev", "depth", "number", "height", "surface")  # size-1 dims dropped
_CELSIUS = {
    "degc",
    "degree_c",
    "degrees_c",
    "celsius",
    "deg_c",
    "degrees_celsius",
    "degree_celsius",
    "°c",
    "c",
}
_KELVIN = {"k", "kelvin", "degk", "degrees_k", "degree_k"}
_SPEED = {"m/s", "m s-1", "m s**-1", "m.s-1", "m s^-1", "meter second-1", "metre second-1", "m*s-1"}
_LENGTH = {"m", "meter", "meters", "metre", "metres"}
_FILE_DATE = re.compile(r"(?<!\d)(\d{4})(\d{2})(\d{2})(?!\d)")
_MARGIN = 2  # source rows kept beyond the region on each side (interpolation stencils)


@dataclass(frozen=True)
class Quantity:
    """An output field read from a product.

    Attributes:
        name: output name (``sst``, ``u_g``, ``zos``, ``t2m``, ...).
        candidates: source variable names tried in order.
        kind: ``temperature`` (-> K), ``speed`` (-> m s-1) or ``length`` (-> m).
        units: override of the source units (for files that lack or misstate them).
        variable_key, units_key: where the user sets the variable name and the units (config keys, options),
            named by the errors of a file that lacks the one or the other; None: not settable.
    """

    name: str
    candidates: tuple[str, ...]
    kind: str
    units: str | None = None
    variable_key: str | None = None
    units_key: str | None = None


def expand_files(patterns: str | Path | Sequence[str | Path], what: str) -> list[Path]:
    """Paths from a path, a glob or a list of them, sorted and de-duplicated; none found is an error."""
    if isinstance(patterns, (str, Path)):
        patterns = [patterns]
    files: list[Path] = []
    for p in patterns:
        p = str(p)
        matches = sorted(_glob.glob(p)) if any(ch in p for ch in "*?[") else ([p] if Path(p).exists() else [])
        if not matches:
            raise DataContractError(f"{what}: no file matches {p!r}; check the path or glob in the config")
        files.extend(Path(m) for m in matches)
    return sorted(set(files))


def _find(ds, names: Iterable[str], path: Path, what: str, variable_key: str | None = None) -> str:
    for n in names:
        if n in ds.variables:
            return n
    fix = f"name it with {variable_key}" if variable_key else "is this the right product?"
    gridded = [f"{v.name} {v.dimensions}, units {getattr(v, 'units', None)!r}"
               for v in ds.variables.values() if v.ndim >= 3]
    raise DataContractError(
        f"{path}: no {what} variable (looked for {list(names)}; file has {sorted(ds.variables)}"
        + (f"; gridded: {'; '.join(gridded)}" if gridded else "") + f"); {fix}"
    )


def unit_factor(units: str | None, kind: str, path: Path, variable: str,
                units_key: str | None = None) -> tuple[float, float]:
    """``(scale, offset)`` turning values in ``units`` into the contract's units for ``kind``; ``units_key``:
    where the user declares them (named by the error)."""
    u = (units or "").strip().lower()
    if kind == "temperature":
        if u in _CELSIUS:
            return 1.0, 273.15
        if u in _KELVIN:
            return 1.0, 0.0
    elif kind == "speed" and u in _SPEED:
        return 1.0, 0.0
    elif kind == "length":
        if u in _LENGTH:
            return 1.0, 0.0
        if u in {"cm", "centimeters", "centimetres"}:
            return 0.01, 0.0
    raise DataContractError(
        f"{path}: variable {variable!r} has units {units!r}, not recognised as a {kind}; "
        + (f"declare them with {units_key} (degC or K)" if units_key
           else "declare them in the config (e.g. units: degC or K for SST)")
    )


def _decode_dates(ds, path: Path) -> tuple[np.ndarray, str | None]:
    """Dates (datetime64[D], one per time step) and the time dimension name."""
    import netCDF4

    for name in TIME_NAMES:
        if name in ds.variables and ds.variables[name].ndim == 1:
            var = ds.variables[name]
            units = getattr(var, "units", None)
            if units is None:
                raise DataContractError(f"{path}: time variable {name!r} has no units; the file is not CF")
            try:
                values = np.asarray(var[:], dtype=np.float64)
                dts = netCDF4.num2date(
                    values,
                    units,
                    calendar=getattr(var, "calendar", "standard"),
                    only_use_cftime_datetimes=False,
                )
            except Exception as err:  # noqa: BLE001
                raise DataContractError(f"{path}: time variable {name!r} cannot be decoded ({err})") from err
            dates = np.array(
                [np.datetime64(f"{d.year:04d}-{d.month:02d}-{d.day:02d}", "D") for d in np.atleast_1d(dts)]
            )
            return dates, var.dimensions[0]
    # DUACS single-day files without a time variable: the first date in the name is the valid day
    match = _FILE_DATE.search(path.name)
    sizes = {d: len(v) for d, v in ds.dimensions.items()}
    if match and sizes.get("time", 1) == 1:
        y, m, d = match.groups()
        return np.array([np.datetime64(f"{y}-{m}-{d}", "D")]), ("time" if "time" in sizes else None)
    raise DataContractError(
        f"{path}: no time variable ({list(TIME_NAMES)}) and no YYYYMMDD date in the file name; "
        f"cannot tell which day it holds"
    )


@dataclass
class _FileInfo:
    path: Path
    dates: np.ndarray
    time_dim: str | None
    variables: dict[str, str]  # quantity name -> variable in this file
    scale: dict[str, tuple[float, float]] = field(default_factory=dict)


class DailySource:
    """Daily fields of one product over a region.

    Args:
        files: paths or globs of the product's NetCDF files.
        product: name used in messages (``altimetry``, ``sst``, ``era5``).
        quantities: what to read.
        lat_range: (south, north) edges of the region (deg); only rows inside plus a margin are read.

    Attributes:
        lat, lon: (Hs,), (Ws,) increasing source coordinates of the rows/columns read, longitudes
            in -180..180.
        dates: sorted unique dates available.
        steps_per_day: time steps averaged into one day (1 for daily files, 24 for hourly ERA5).
    """

    def __init__(
        self,
        files: str | Path | Sequence[str | Path],
        product: str,
        quantities: Sequence[Quantity],
        lat_range: tuple[float, float],
    ) -> None:
        import netCDF4

        self.product = product
        self.quantities = tuple(quantities)
        self.files = expand_files(files, product)
        self._infos: list[_FileInfo] = []
        grid: tuple[np.ndarray, np.ndarray] | None = None
        grid_file: Path | None = None
        for path in self.files:
            try:
                ds = netCDF4.Dataset(path, "r")
            except Exception as err:  # noqa: BLE001
                raise DataContractError(
                    f"{path}: unreadable or corrupt NetCDF ({err}); re-download this {product} file"
                ) from err
            with ds:
                lat_name = _find(ds, LAT_NAMES, path, "latitude")
                lon_name = _find(ds, LON_NAMES, path, "longitude")
                lat = np.asarray(ds[lat_name][:], dtype=np.float64)
                lon = np.asarray(ds[lon_name][:], dtype=np.float64)
                if lat.ndim != 1 or lon.ndim != 1:
                    raise DataContractError(
                        f"{path}: latitude/longitude must be 1-D (a regular lat-lon grid)"
                    )
                if grid is None:
                    grid, grid_file = (lat, lon), path
                elif (
                    grid[0].shape != lat.shape
                    or grid[1].shape != lon.shape
                    or not (np.allclose(grid[0], lat, atol=1e-5) and np.allclose(grid[1], lon, atol=1e-5))
                ):
                    raise DataContractError(
                        f"{path}: grid ({lat.size}x{lon.size}, lat {lat[0]:.4f}..{lat[-1]:.4f}, lon {lon[0]:.4f}.."
                        f"{lon[-1]:.4f}) differs from {grid_file} ({grid[0].size}x{grid[1].size}); "
                        f"all {product} files must be on one grid (download them with the same request)"
                    )
                dates, time_dim = _decode_dates(ds, path)
                variables, scale = {}, {}
                for q in self.quantities:
                    vname = _find(ds, q.candidates, path, f"{q.name} ({q.kind})", q.variable_key)
                    var = ds[vname]
                    if lat_name not in var.dimensions or lon_name not in var.dimensions:
                        raise DataContractError(
                            f"{path}: variable {vname!r} has dims {var.dimensions}, without ({lat_name}, {lon_name})"
                        )
                    variables[q.name] = vname
                    scale[q.name] = unit_factor(q.units or getattr(var, "units", None), q.kind, path, vname,
                                                q.units_key)
                self._infos.append(_FileInfo(path, dates, time_dim, variables, scale))
                self._lat_name, self._lon_name = lat_name, lon_name
        assert grid is not None
        self._setup_grid(grid[0], grid[1], lat_range, grid_file)
        self._build_index()

    # ---------------------------------------------------------------------------- grid
    def _setup_grid(self, lat: np.ndarray, lon: np.ndarray, lat_range: tuple[float, float], path) -> None:
        if lat.size > 1 and not (np.all(np.diff(lat) > 0) or np.all(np.diff(lat) < 0)):
            raise DataContractError(f"{path}: latitude is not monotonic")
        self.descending = bool(lat.size > 1 and lat[1] < lat[0])
        lat_inc = lat[::-1] if self.descending else lat
        lo = max(int(np.searchsorted(lat_inc, lat_range[0])) - _MARGIN, 0)
        hi = min(int(np.searchsorted(lat_inc, lat_range[1])) + _MARGIN, lat_inc.size)
        if hi - lo < 2:
            raise DataContractError(
                f"{path}: the {self.product} files (lat {lat_inc[0]:.3f}..{lat_inc[-1]:.3f}) do not cover the "
                f"region's latitudes {lat_range[0]}..{lat_range[1]}"
            )
        n = lat.size
        # rows to read in the file's own order
        self._rows = slice(n - hi, n - lo) if self.descending else slice(lo, hi)
        self.lat = lat_inc[lo:hi]
        self.lon, self._lon_order = unify_longitudes(lon)
        if np.any(np.diff(self.lon) <= 0):
            raise DataContractError(f"{path}: longitudes repeat after wrapping to -180..180")

    # ---------------------------------------------------------------------------- time index
    def _build_index(self) -> None:
        index: dict[np.datetime64, list[tuple[int, int]]] = {}
        for fi, info in enumerate(self._infos):
            for ti, d in enumerate(info.dates):
                index.setdefault(d, []).append((fi, ti))
        counts = np.array([len(v) for v in index.values()])
        if counts.size:
            freq = np.bincount(counts)
            # the most common count of steps per date (ties: the larger, i.e. the complete days)
            self.steps_per_day = int(np.flatnonzero(freq == freq.max())[-1])
        else:
            self.steps_per_day = 1
        self._index = index
        self.dates = np.array(sorted(index), dtype="datetime64[D]")

    def missing_dates(self, dates: np.ndarray) -> list[np.datetime64]:
        """Dates among ``dates`` with no data, or with fewer time steps than a full day."""
        out = []
        for d in np.asarray(dates, dtype="datetime64[D]"):
            entries = self._index.get(d)
            if not entries or len(entries) < self.steps_per_day:
                out.append(d)
        return out

    def duplicated_dates(self) -> list[np.datetime64]:
        """Dates held more often than a full day has steps (the same day in two files)."""
        return [d for d, e in sorted(self._index.items()) if len(e) > self.steps_per_day]

    # ---------------------------------------------------------------------------- reading
    def _read_steps(self, ds, info: _FileInfo, name: str, steps: list[int]) -> np.ndarray:
        """Sum over the time ``steps`` of one file of quantity ``name`` -> (Hs, Ws) in contract units."""
        vname = info.variables[name]
        var = ds[vname]
        var.set_auto_maskandscale(True)
        index: list[object] = []
        expver_axis = None
        kept = []
        for dim in var.dimensions:
            size = len(ds.dimensions[dim])
            if dim == info.time_dim:
                contiguous = steps == list(range(steps[0], steps[0] + len(steps)))
                index.append(slice(steps[0], steps[-1] + 1) if contiguous else steps)
                kept.append(dim)
            elif dim == self._lat_name:
                index.append(self._rows)
                kept.append(dim)
            elif dim == self._lon_name:
                index.append(slice(None))
                kept.append(dim)
            elif dim == "expver":
                index.append(slice(None))
                expver_axis = len(kept)
                kept.append(dim)
            elif size == 1:
                index.append(0)
            else:
                raise DataContractError(
                    f"{info.path}: variable {vname!r} has an extra dimension {dim!r} of size {size} "
                    f"(e.g. an ensemble); request a single member / level"
                )
        try:
            raw = var[tuple(index)]
        except Exception as err:  # noqa: BLE001
            raise DataContractError(
                f"{info.path}: reading {vname!r} failed ({err}); the file may be corrupt"
            ) from err
        values = np.ma.filled(np.ma.asarray(raw).astype(np.float64), np.nan)
        if expver_axis is not None:
            # ERA5 + ERA5T: each step is valid in exactly one experiment version; take the first finite
            parts = np.moveaxis(values, expver_axis, 0)
            merged = parts[0].copy()
            for p in parts[1:]:
                merged = np.where(np.isfinite(merged), merged, p)
            values = merged
            kept.pop(expver_axis)
        if info.time_dim in kept:
            axis = kept.index(info.time_dim)
            values = values.sum(axis=axis)
            kept.pop(axis)
        if kept != [self._lat_name, self._lon_name]:
            values = values.T if kept == [self._lon_name, self._lat_name] else values
        if self.descending:
            values = values[::-1]
        values = values[:, self._lon_order]
        scale, offset = info.scale[name]
        return values * scale + offset * len(steps)

    def read_day(self, date: np.datetime64, handles: HandleCache | None = None) -> dict[str, np.ndarray]:
        """Daily mean of every quantity on ``date`` -> {name: (Hs, Ws) float64}, NaN = no data.

        ``handles`` (from :meth:`handle_cache`) keeps recently used files open between days.
        """
        import netCDF4

        entries = self._index.get(np.datetime64(date, "D"))
        if not entries:
            raise DataContractError(f"{self.product}: no data for {date}")
        by_file: dict[int, list[int]] = {}
        for fi, ti in entries:
            by_file.setdefault(fi, []).append(ti)
        sums: dict[str, np.ndarray] = {}
        for fi, steps in by_file.items():
            info = self._infos[fi]
            ds = handles.get(fi, info.path) if handles is not None else None
            own = ds is None
            if own:
                ds = netCDF4.Dataset(info.path, "r")
            try:
                for q in self.quantities:
                    v = self._read_steps(ds, info, q.name, sorted(steps))
                    sums[q.name] = v if q.name not in sums else sums[q.name] + v
            finally:
                if own:
                    ds.close()
        return {k: v / len(entries) for k, v in sums.items()}

    def handle_cache(self, max_open: int = 32) -> HandleCache:
        """A cache of open files for day-by-day reading (close it, or use it as a context manager)."""
        return HandleCache(max_open)

    def source_grid(self) -> GridCoords:
        return GridCoords(lat=self.lat, lon=self.lon)


class HandleCache:
    """At most ``max_open`` NetCDF files kept open, least recently used closed first.

    Sources of many files (e.g. 10,000 daily OISST files) cannot all be open at once (the limit of
    open file descriptors), and reopening a file for every hour of an ERA5 month is slow.
    """

    def __init__(self, max_open: int = 32) -> None:
        from collections import OrderedDict

        self.max_open = max(1, int(max_open))
        self._open: OrderedDict[int, object] = OrderedDict()

    def get(self, key: int, path: Path):
        import netCDF4

        if key in self._open:
            self._open.move_to_end(key)
            return self._open[key]
        while len(self._open) >= self.max_open:
            _, old = self._open.popitem(last=False)
            old.close()
        ds = netCDF4.Dataset(path, "r")
        self._open[key] = ds
        return ds

    def close(self) -> None:
        while self._open:
            _, ds = self._open.popitem(last=False)
            ds.close()

    def __enter__(self) -> HandleCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def format_dates(dates: Sequence[np.datetime64], limit: int = 20) -> str:
    """Compact text of dates, consecutive runs joined: ``2016-02-03, 2016-05-01..2016-05-04``."""
    dates = sorted(np.asarray(dates, dtype="datetime64[D]"))
    runs: list[tuple[np.datetime64, np.datetime64]] = []
    for d in dates:
        if runs and (d - runs[-1][1]).astype(int) == 1:
            runs[-1] = (runs[-1][0], d)
        else:
            runs.append((d, d))
    parts = [str(a) if a == b else f"{a}..{b}" for a, b in runs]
    more = f" (+{len(parts) - limit} more runs)" if len(parts) > limit else ""
    return ", ".join(parts[:limit]) + more
