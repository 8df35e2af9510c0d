"""``oceane2e check DIR``: validate a data folder against the data contract (DESIGN.md §3).

Unlike the readers, which stop at the first problem, :func:`check_folder` inspects every file and
reports *every* problem, each with the file it is in and what to do about it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from oceane2e.data.config import load_data_section
from oceane2e.data.contract import (
    CLIM_FILE,
    CONTENTS_FILE,
    KIND_CHANNELS,
    MASK_FILE,
    VARIABLE,
    DataContractError,
    GridCoords,
    days_in_year,
    declared_absent,
    find_years,
    read_channel_names,
    year_path,
)
from oceane2e.data.observations import OBS_DIR, check_obs_folder, find_obs_years

_DAYS_PER_READ = 32  # days read at once when scanning for NaN over the ocean
#: surface geostrophic speeds above this (m s-1) are reported: the fastest real surface currents
#: (Gulf Stream, Agulhas, Kuroshio) peak near 2.5 m s-1; more is the 1/f blow-up of geostrophy near
#: the equator (or wrong units)
MAX_GEOSTROPHIC_SPEED = 5.0


@dataclass(frozen=True)
class Problem:
    """One violation of the data contract.

    Attributes:
        file: the file (or folder) it is in.
        message: what is wrong.
        fix: what to do about it.
    """

    file: str
    message: str
    fix: str

    def __str__(self) -> str:
        return f"{self.file}: {self.message} -> fix: {self.fix}"


@dataclass
class _FileInfo:
    """What was learnt from one readable yearly file."""

    path: Path
    kind: str
    year: int
    shape: tuple[int, int]
    coords: GridCoords | None  # None when the file has none and no bounds were given
    channels: tuple[str, ...]
    has_coords: bool


def _grid_text(coords: GridCoords) -> str:
    h, w = coords.shape
    return (
        f"{h}x{w} (lat {coords.lat[0]:.4f}..{coords.lat[-1]:.4f}, "
        f"lon {coords.lon[0]:.4f}..{coords.lon[-1]:.4f})"
    )


def _check_axis(path: Path, ds, name: str, size: int, problems: list[Problem]) -> np.ndarray | None:
    """Validate the 1-D coordinate ``name`` of length ``size``; return it when valid."""
    var = ds.variables[name]
    values = np.asarray(var[:], dtype=np.float64)
    if values.ndim != 1 or values.size != size:
        problems.append(
            Problem(
                str(path),
                f"coordinate {name!r} has shape {values.shape}, but {VARIABLE} has {size} {name} cells",
                f"write {name} as a 1-D coordinate with one value per grid cell",
            )
        )
        return None
    if not np.all(np.isfinite(values)):
        problems.append(Problem(str(path), f"coordinate {name!r} holds NaN/inf", f"rewrite {name} with finite values"))
        return None
    diffs = np.diff(values)
    if not np.all(diffs > 0):
        if np.all(diffs < 0):
            fix = f"flip the {name} axis of every variable so that {name} increases (e.g. south to north)"
            what = "decreasing"
        else:
            fix = f"rewrite {name} as a strictly increasing regular axis"
            what = "not monotonic"
        problems.append(Problem(str(path), f"coordinate {name!r} is {what}", fix))
        return None
    return values


def _channel_names(path: Path, ds, var, kind: str, problems: list[Problem],
                   absent: frozenset[str] = frozenset()) -> tuple[str, ...] | None:
    n = int(var.shape[1])
    names: tuple[str, ...] | None = None
    if "channel" in ds.variables:
        names = read_channel_names(ds.variables["channel"])
    elif "channel_names" in var.ncattrs():
        names = tuple(str(var.getncattr("channel_names")).split(","))
    if names is None:
        # reference-release layout: channels are in the contract's order
        expected = KIND_CHANNELS[kind]
        if n != len(expected):
            problems.append(
                Problem(
                    str(path),
                    f"{VARIABLE} has {n} channels and no channel names; a {kind} file needs "
                    f"{len(expected)} channels in the order {list(expected)}",
                    f"rewrite the file with the channels {list(expected)} (or add a 'channel' coordinate naming them)",
                )
            )
            return None
        return expected
    if len(names) != n:
        problems.append(
            Problem(
                str(path),
                f"{VARIABLE} has {n} channels but {len(names)} channel names {list(names)}",
                "make the channel coordinate name every channel once",
            )
        )
        return None
    missing = [c for c in KIND_CHANNELS[kind] if c not in names and c not in absent]
    if missing:
        problems.append(
            Problem(
                str(path),
                f"channel(s) {missing} missing (file has {list(names)})",
                f"re-run the data preparation so that the {kind} file holds {list(KIND_CHANNELS[kind])} "
                f"(a converter that has no source for a channel declares it in {CONTENTS_FILE})",
            )
        )
    return names


def _check_time(path: Path, ds, year: int, n_days: int, problems: list[Problem]) -> None:
    """The ``time`` coordinate, when present, must be the consecutive days of ``year``."""
    if "time" not in ds.variables:
        return
    import netCDF4

    var = ds.variables["time"]
    units = getattr(var, "units", None)
    if units is None:
        problems.append(Problem(str(path), "time coordinate has no 'units'", "add CF units, e.g. 'days since YYYY-01-01'"))
        return
    try:
        values = np.asarray(var[:], dtype=np.float64)
        dates = netCDF4.num2date(
            values, units, calendar=getattr(var, "calendar", "standard"), only_use_cftime_datetimes=False
        )
        got = np.array([np.datetime64(f"{d.year:04d}-{d.month:02d}-{d.day:02d}", "D") for d in np.atleast_1d(dates)])
    except Exception as err:  # noqa: BLE001 - any decoding failure is reported
        problems.append(Problem(str(path), f"time coordinate cannot be decoded ({err})", "write CF time units"))
        return
    if got.size != n_days:
        return  # the day count is reported from the data variable
    if got.size > 1 and not np.all(np.diff(got).astype(int) > 0):
        problems.append(
            Problem(str(path), "time coordinate is not strictly increasing", "sort the days in time order")
        )
        return
    expected = np.datetime64(f"{year:04d}-01-01", "D") + np.arange(n_days)
    if not np.array_equal(got, expected):
        bad = int(np.flatnonzero(got != expected)[0])
        problems.append(
            Problem(
                str(path),
                f"time coordinate is not the days of {year}: step {bad} is {got[bad]}, expected {expected[bad]}",
                f"write one step per calendar day of {year}, from {year}-01-01 to {year}-12-31",
            )
        )


def _inspect_year_file(
    path: Path,
    kind: str,
    year: int,
    bounds: tuple[Sequence[float], Sequence[float]] | None,
    problems: list[Problem],
    absent: frozenset[str] = frozenset(),
) -> _FileInfo | None:
    """Check one yearly file's structure (not its values); return what was learnt."""
    import netCDF4

    try:
        ds = netCDF4.Dataset(path, "r")
    except Exception as err:  # noqa: BLE001
        problems.append(
            Problem(str(path), f"unreadable or corrupt NetCDF ({err})", "delete the file and regenerate or re-download it")
        )
        return None
    with ds:
        if VARIABLE not in ds.variables:
            problems.append(
                Problem(
                    str(path),
                    f"variable {VARIABLE!r} missing (file has {sorted(ds.variables)})",
                    f"write the {kind} fields as {VARIABLE}(time, channel, lat, lon)",
                )
            )
            return None
        var = ds.variables[VARIABLE]
        if var.ndim != 4:
            problems.append(
                Problem(
                    str(path),
                    f"{VARIABLE} has dims {var.dimensions} (shape {var.shape}), expected (time, channel, lat, lon)",
                    "rewrite the variable with four dimensions (time, channel, lat, lon)",
                )
            )
            return None
        n_days, shape = int(var.shape[0]), (int(var.shape[2]), int(var.shape[3]))
        if n_days != days_in_year(year):
            problems.append(
                Problem(
                    str(path),
                    f"{n_days} days, but {year} has {days_in_year(year)}",
                    f"write exactly one time step per calendar day of {year}",
                )
            )
        _check_time(path, ds, year, n_days, problems)
        channels = _channel_names(path, ds, var, kind, problems, absent)
        has_lat, has_lon = "lat" in ds.variables, "lon" in ds.variables
        coords: GridCoords | None = None
        if has_lat and has_lon:
            lat = _check_axis(path, ds, "lat", shape[0], problems)
            lon = _check_axis(path, ds, "lon", shape[1], problems)
            if lat is not None and lon is not None:
                coords = GridCoords(lat=lat, lon=lon)
        elif has_lat or has_lon:
            problems.append(
                Problem(str(path), "only one of the lat/lon coordinates is present", "write both lat and lon, or neither")
            )
        elif bounds is not None:
            coords = GridCoords.from_bounds(bounds[0], bounds[1], shape)
        else:
            problems.append(
                Problem(
                    str(path),
                    "no lat/lon coordinates (reference-release layout) and no region bounds given",
                    "pass --lat-bounds/--lon-bounds (or set data.lat_bounds/lon_bounds in the config)",
                )
            )
        if "mask" in ds.variables and coords is not None:
            m = np.asarray(ds.variables["mask"][:])
            if m.shape != shape:
                problems.append(
                    Problem(str(path), f"mask variable has shape {m.shape}, grid is {shape}", "rewrite the mask variable")
                )
    return _FileInfo(
        path=path,
        kind=kind,
        year=year,
        shape=shape,
        coords=coords,
        channels=channels or (),
        has_coords=has_lat and has_lon,
    )


def _scan_values(info: _FileInfo, ocean: np.ndarray, problems: list[Problem]) -> None:
    """Report NaN/inf over the ocean, day by day in blocks (never a whole year in memory)."""
    import netCDF4

    try:
        with netCDF4.Dataset(info.path, "r") as ds:
            var = ds.variables[VARIABLE]
            var.set_auto_maskandscale(False)
            n_days = int(var.shape[0])
            bad_days: list[int] = []
            bad_channels: set[str] = set()
            fastest = (0.0, 0)  # (speed m s-1, flat ocean index) of geo files
            for start in range(0, n_days, _DAYS_PER_READ):
                block = np.asarray(var[start : start + _DAYS_PER_READ], dtype=np.float32)
                ocean_vals = block[:, :, ocean]  # (t, C, n_ocean)
                bad = ~np.isfinite(ocean_vals)
                if info.kind == "geo":
                    speed = np.nanmax(np.where(bad, 0.0, np.abs(ocean_vals)), axis=(0, 1))
                    if speed.size and float(speed.max()) > fastest[0]:
                        fastest = (float(speed.max()), int(np.argmax(speed)))
                if bad.any():
                    days = np.flatnonzero(bad.any(axis=(1, 2))) + start
                    bad_days.extend(int(d) for d in days)
                    chans = np.flatnonzero(bad.any(axis=(0, 2)))
                    bad_channels.update(info.channels[c] if c < len(info.channels) else str(c) for c in chans)
    except Exception as err:  # noqa: BLE001
        problems.append(
            Problem(str(info.path), f"reading the values failed ({err})", "delete the file and regenerate it")
        )
        return
    if fastest[0] > MAX_GEOSTROPHIC_SPEED:
        row = int(np.nonzero(ocean)[0][fastest[1]])
        where = f"latitude {info.coords.lat[row]:.2f}" if info.coords is not None else f"row {row}"
        problems.append(
            Problem(
                str(info.path),
                f"geostrophic speed {fastest[0]:.1f} m s-1 at {where} exceeds {MAX_GEOSTROPHIC_SPEED} m s-1: "
                "the 1/f blow-up of geostrophy near the equator, or currents not in m s-1",
                "convert with an equatorial band (oceane2e.data.geostrophy: mask or beta-plane), or fix the units",
            )
        )
    if bad_days:
        first = np.datetime64(f"{info.year:04d}-01-01", "D") + bad_days[0]
        problems.append(
            Problem(
                str(info.path),
                f"NaN/inf over the ocean (per {MASK_FILE}) on {len(bad_days)} day(s), first {first}, "
                f"channel(s) {sorted(bad_channels)}",
                f"fill the gaps in the source data, or mark those cells as land in {MASK_FILE}",
            )
        )


def _check_mask(root: Path, grid_shape: tuple[int, int] | None, problems: list[Problem]) -> np.ndarray | None:
    path = root / MASK_FILE
    if not path.exists():
        problems.append(
            Problem(str(path), "missing", "write the land mask (lat, lon; 1 ocean, 0 land) as mask.npy")
        )
        return None
    try:
        mask = np.load(path)
    except Exception as err:  # noqa: BLE001
        problems.append(Problem(str(path), f"unreadable ({err})", "regenerate mask.npy with numpy.save"))
        return None
    if mask.ndim != 2:
        problems.append(Problem(str(path), f"mask has shape {mask.shape}, expected 2-D (lat, lon)", "save a 2-D mask"))
        return None
    values = np.unique(mask)
    if not np.all(np.isin(values, (0, 1))):
        problems.append(
            Problem(str(path), f"mask holds values {values[:5].tolist()} other than 0/1", "save 1 for ocean, 0 for land")
        )
        return None
    if grid_shape is not None and mask.shape != grid_shape:
        problems.append(
            Problem(
                str(path),
                f"mask shape {mask.shape} differs from the data grid {grid_shape}",
                "write the mask on the data grid",
            )
        )
        return None
    ocean = mask.astype(bool)
    if not ocean.any():
        problems.append(Problem(str(path), "mask has no ocean cells", "save 1 for ocean cells, 0 for land"))
        return None
    return ocean


def _check_clim(root: Path, grid: GridCoords | None, ocean: np.ndarray | None, problems: list[Problem]) -> None:
    import netCDF4

    path = root / CLIM_FILE
    if not path.exists():
        problems.append(
            Problem(str(path), "missing", "write the day-of-year climatology (seas, thresh) with the data preparation")
        )
        return
    try:
        ds = netCDF4.Dataset(path, "r")
    except Exception as err:  # noqa: BLE001
        problems.append(Problem(str(path), f"unreadable or corrupt NetCDF ({err})", "regenerate clim.nc"))
        return
    with ds:
        missing = [v for v in ("seas", "thresh", "lat", "lon") if v not in ds.variables]
        if missing:
            problems.append(
                Problem(str(path), f"variable(s) {missing} missing", "regenerate clim.nc (seas, thresh on doy, lat, lon)")
            )
            return
        for attr in ("baseline_start_year", "baseline_end_year", "variable"):
            if attr not in ds.ncattrs():
                problems.append(
                    Problem(str(path), f"global attribute {attr!r} missing", "regenerate clim.nc with its baseline period")
                )
        arrays = {}
        for name in ("seas", "thresh"):
            var = ds.variables[name]
            var.set_auto_maskandscale(False)
            arr = np.asarray(var[:], dtype=np.float32)
            if arr.ndim != 3 or arr.shape[0] != 366:
                problems.append(
                    Problem(str(path), f"{name} has shape {arr.shape}, expected (366, lat, lon)", "regenerate clim.nc")
                )
                continue
            if grid is not None and arr.shape[1:] != grid.shape:
                problems.append(
                    Problem(
                        str(path),
                        f"{name} grid {arr.shape[1:]} differs from the data grid {grid.shape}",
                        "recompute the climatology on the data grid",
                    )
                )
                continue
            arrays[name] = arr
        lat_ok = _check_axis(path, ds, "lat", ds.variables["lat"].size, problems)
        lon_ok = _check_axis(path, ds, "lon", ds.variables["lon"].size, problems)
        if grid is not None and lat_ok is not None and lon_ok is not None:
            try:
                own = GridCoords(lat=lat_ok, lon=lon_ok)
            except Exception:  # noqa: BLE001 - sizes < 2 are reported elsewhere
                own = None
            if own is not None and own.shape == grid.shape and not own.allclose(grid):
                problems.append(
                    Problem(
                        str(path),
                        f"grid {_grid_text(own)} differs from the data grid {_grid_text(grid)}",
                        "recompute the climatology on the data grid",
                    )
                )
        if ocean is not None and len(arrays) == 2 and arrays["seas"].shape[1:] == ocean.shape:
            for name, arr in arrays.items():
                if not np.all(np.isfinite(arr[:, ocean])):
                    problems.append(
                        Problem(str(path), f"{name} has NaN over the ocean", "recompute the climatology")
                    )
            both = np.isfinite(arrays["seas"][:, ocean]) & np.isfinite(arrays["thresh"][:, ocean])
            if np.any(arrays["thresh"][:, ocean][both] < arrays["seas"][:, ocean][both]):
                problems.append(
                    Problem(str(path), "thresh is below seas somewhere over the ocean", "recompute the climatology")
                )


def check_folder(
    root: str | Path,
    years: Sequence[int] | None = None,
    *,
    lat_bounds: Sequence[float] | None = None,
    lon_bounds: Sequence[float] | None = None,
    progress: bool = False,
    obs_root: str | Path | None = None,
    obs_years: Sequence[int] | None = None,
) -> list[Problem]:
    """Check a data folder against the contract and return every problem found (empty: valid).

    Channels the folder declares absent (``contents.json``: the converter had no source for them, e.g.
    an SST-only folder) are not required; a kind all of whose channels are declared absent (``geo``
    without altimetry) needs no files. A channel missing without being declared is a problem.

    Args:
        root: the data folder.
        years: years that must be present; default: every year with a geo or mhw file.
        lat_bounds, lon_bounds: region edges (degrees) for files without coordinates
            (reference-release layout).
        progress: show a progress bar over the files.
        obs_root: an observation folder to check too (:func:`check_obs`); default: ``root/obs``
            when it exists.
        obs_years: observation years that must be present (default: see :func:`check_obs`).
    """
    root = Path(root)
    problems: list[Problem] = []
    if not root.is_dir():
        return [Problem(str(root), "data folder not found", "generate it (`oceane2e synth`) or fix data.root")]
    if (lat_bounds is None) != (lon_bounds is None):
        problems.append(Problem(str(root), "only one of lat/lon bounds given", "give both bounds or neither"))
        lat_bounds = lon_bounds = None
    bounds = (tuple(lat_bounds), tuple(lon_bounds)) if lat_bounds is not None and lon_bounds is not None else None
    try:
        absent = declared_absent(root)
    except DataContractError as err:
        return [Problem(str(root / CONTENTS_FILE), str(err), "re-run the data preparation")]
    kinds = [kind for kind in ("geo", "mhw") if any(c not in absent for c in KIND_CHANNELS[kind])]
    if years is None:
        years = sorted(set(find_years(root, "geo")) | set(find_years(root, "mhw")))
        if not years:
            return [
                Problem(str(root), "no geo_YYYY.nc or mhw_YYYY.nc files", "generate the data (`oceane2e synth`) into it")
            ]
        gap = sorted(set(range(years[0], years[-1] + 1)) - set(years))
        if gap:  # windows cross year boundaries: a hole in the record is an error, each missing file reported
            problems.append(
                Problem(str(root), f"year(s) {gap} missing between {years[0]} and {years[-1]}",
                        "generate or convert the missing years, or keep only consecutive years in the folder")
            )
            years = list(range(years[0], years[-1] + 1))
    years = sorted(int(y) for y in years)

    infos: list[_FileInfo] = []
    targets = [(kind, year) for year in years for kind in kinds]
    iterator = targets
    if progress:
        from tqdm import tqdm

        iterator = tqdm(targets, desc="check structure", unit="file")
    for kind, year in iterator:
        path = year_path(root, kind, year)
        if not path.exists():
            problems.append(
                Problem(str(path), f"missing ({kind} file of year {year})", f"generate or convert {kind} data for {year}")
            )
            continue
        info = _inspect_year_file(path, kind, year, bounds, problems, absent)
        if info is not None:
            infos.append(info)

    # one grid for every file
    grid: GridCoords | None = None
    grid_source: str | None = None
    if bounds is not None and infos:
        grid = GridCoords.from_bounds(bounds[0], bounds[1], infos[0].shape)
        grid_source = "the given lat/lon bounds"
    for info in infos:
        if info.coords is None:
            continue
        if grid is None:
            grid, grid_source = info.coords, info.path.name
        elif not info.coords.allclose(grid):
            problems.append(
                Problem(
                    str(info.path),
                    f"grid {_grid_text(info.coords)} differs from the grid of {grid_source}: {_grid_text(grid)}",
                    "all files must share one grid; regrid or regenerate this file",
                )
            )
    shapes = {info.shape for info in infos}
    if grid is None and len(shapes) > 1:
        problems.append(Problem(str(root), f"files have different grid shapes {sorted(shapes)}", "regrid to one grid"))

    grid_shape = grid.shape if grid is not None else (next(iter(shapes)) if len(shapes) == 1 else None)
    ocean = _check_mask(root, grid_shape, problems)
    if ocean is not None:
        scan = [i for i in infos if i.shape == ocean.shape]
        if progress:
            from tqdm import tqdm

            scan = tqdm(scan, desc="check values", unit="file")
        for info in scan:
            _scan_values(info, ocean, problems)
    _check_clim(root, grid, ocean, problems)
    obs_root = Path(obs_root) if obs_root is not None else (root / OBS_DIR if (root / OBS_DIR).is_dir() else None)
    if obs_root is not None:
        problems += check_obs(obs_root, grid, obs_years)
    return problems


def check_obs(obs_root: Path, grid: GridCoords | None, years: Sequence[int] | None = None) -> list[Problem]:
    """Problems of an observation folder (:func:`oceane2e.data.observations.check_obs_folder`).

    Required years: ``years``, else every year from the first to the last ``obs_YYYY.nc`` found
    (a gap is a missing year). Positions are checked against ``grid`` (skipped when it is unknown).
    """
    if not obs_root.is_dir():
        return [Problem(str(obs_root), "observation folder not found", "make it (`oceane2e observe`) or fix --obs")]
    found = find_obs_years(obs_root)
    if years is None:
        if not found:
            return [Problem(str(obs_root), "no obs_YYYY.nc files", "make them (`oceane2e observe`) or remove the folder")]
        years = list(range(found[0], found[-1] + 1))
    if grid is None:
        return [Problem(str(obs_root), "the data grid is unknown, so observation positions cannot be checked",
                        "fix the data folder's problems first")]
    problems = []
    for text in check_obs_folder(obs_root, sorted(years), grid.lat, grid.lon):
        file, _, rest = text.partition(": ")
        message, sep, fix = rest.rpartition("; ")
        problems.append(Problem(file, message, fix) if sep else Problem(file, rest, "remake the observations"))
    return problems


def summary(root: str | Path, years: Sequence[int] | None = None, *, lat_bounds=None, lon_bounds=None) -> str:
    """One paragraph describing a valid folder (years, grid, channels, ocean cells)."""
    from oceane2e.data.contract import YearFile, read_clim, read_mask

    root = Path(root)
    if years is None:
        years = sorted(set(find_years(root, "geo")) | set(find_years(root, "mhw")))
    bounds_grid = None
    mask = read_mask(root)
    if lat_bounds is not None and lon_bounds is not None:
        bounds_grid = GridCoords.from_bounds(lat_bounds, lon_bounds, mask.shape)
    lines = [f"OK: {root} follows the data contract"]
    lines.append(f"  years     {years[0]}..{years[-1]} ({len(years)} years)")
    channels = {"geo": ("none",), "mhw": ("none",)}
    layout = "with coordinates"
    for kind in ("geo", "mhw"):
        if not year_path(root, kind, years[0]).exists():  # declared absent (check_folder passed)
            continue
        with YearFile(year_path(root, kind, years[0]), kind, coords=bounds_grid) as yf:
            channels[kind] = yf.channels
            grid = yf.coords
            if not yf.has_coords:
                layout = "reference-release layout (grid from the given bounds)"
    lines.append(f"  grid      {_grid_text(grid)}, {layout}")
    lines.append(f"  geo       {', '.join(channels['geo'])}")
    lines.append(f"  mhw       {', '.join(channels['mhw'])}")
    absent = declared_absent(root)
    if absent:
        lines.append(f"  absent    {', '.join(sorted(absent))} (declared in {CONTENTS_FILE}: no source for them)")
    lines.append(f"  mask      {int(mask.sum())} ocean cells of {mask.size}")
    clim = read_clim(root / CLIM_FILE)
    lines.append(f"  clim.nc   {clim.variable}, baseline {clim.baseline[0]}..{clim.baseline[1]}")
    return "\n".join(lines)


def _parse_years(text: str) -> list[int]:
    """``"2001-2005"`` or ``"2001,2003"`` -> list of years."""
    years: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if "-" in part:
            a, b = part.split("-", 1)
            years.extend(range(int(a), int(b) + 1))
        elif part:
            years.append(int(part))
    return years


def main(argv: list[str] | None = None) -> int:
    """``oceane2e check DIR [--config CFG] [--years 2001-2010] [--lat-bounds S N --lon-bounds W E]``.

    Prints every problem and returns 1 if there is any; prints a summary and returns 0 otherwise.
    """
    parser = argparse.ArgumentParser(prog="oceane2e check", description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, nargs="?", default=None,
                        help="data folder (e.g. data/GS); default: data.root of --config")
    parser.add_argument("--config", type=Path, default=None,
                        help="a stage config (YAML with a data: section): its years and bounds are checked")
    parser.add_argument("--years", type=_parse_years, default=None, help="required years, e.g. 2001-2010 or 2001,2003")
    parser.add_argument("--lat-bounds", type=float, nargs=2, default=None, metavar=("SOUTH", "NORTH"),
                        help="region edges (deg N) for files without coordinates")
    parser.add_argument("--lon-bounds", type=float, nargs=2, default=None, metavar=("WEST", "EAST"),
                        help="region edges (deg E) for files without coordinates")
    parser.add_argument("--obs", type=Path, default=None,
                        help="observation folder to check too (default: DIR/obs when it exists)")
    parser.add_argument("--obs-years", type=_parse_years, default=None,
                        help="observation years that must be present (default: first..last found)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    if args.config is not None:
        data_cfg = load_data_section(args.config, what="check")
        args.root = args.root if args.root is not None else data_cfg.root
        args.years = args.years if args.years is not None else data_cfg.all_years
        if args.lat_bounds is None and data_cfg.lat_bounds is not None:
            args.lat_bounds, args.lon_bounds = list(data_cfg.lat_bounds), list(data_cfg.lon_bounds)
    if args.root is None:
        parser.error("give the data folder DIR or --config")
    problems = check_folder(
        args.root, args.years, lat_bounds=args.lat_bounds, lon_bounds=args.lon_bounds, progress=not args.quiet,
        obs_root=args.obs, obs_years=args.obs_years,
    )
    if problems:
        print(f"{args.root}: {len(problems)} problem(s) with the data contract:")
        for p in problems:
            print(f"  - {p}")
        return 1
    print(summary(args.root, args.years, lat_bounds=args.lat_bounds, lon_bounds=args.lon_bounds))
    obs_root = args.obs if args.obs is not None else Path(args.root) / OBS_DIR
    if obs_root.is_dir():
        print(f"  obs       {obs_root}: years {', '.join(map(str, find_obs_years(obs_root)))} follow the observation contract")
    return 0


if __name__ == "__main__":
    sys.exit(main())
