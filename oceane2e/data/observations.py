"""The observation contract (DESIGN.md §10): records, not grids.

Yearly files ``obs_YYYY.nc`` in an observation folder (default ``<data root>/obs/``), one record per
measurement, in the CF discrete-sampling-geometry "point" layout (``featureType = "point"``, one
dimension ``obs``), sorted by time:

* ``time`` (obs) float64, ``seconds since 1970-01-01 00:00:00`` (UTC);
* ``lat``, ``lon`` (obs) float64, degrees north / east;
* ``value`` (obs) float32, in the unit of its variable (``ssta``/``sst`` K, ``sla`` m);
* ``error_std`` (obs) float32, the instrument (representation included) error standard deviation,
  same unit as ``value``; never negative;
* ``platform`` (obs) int8 with CF ``flag_values``/``flag_meanings``: the platform names of
  :data:`PLATFORMS` (``sst_l3 drifter argo altimetry``);
* ``variable`` (obs) int8 with ``flag_values``/``flag_meanings``: the names of :data:`VARIABLES`.

In memory the records are an :class:`ObsRecords` with platform and variable as *names* (numpy string
arrays); the integer codes exist only in the file. The same contract holds simulated observations of
the synthetic ocean and converted real ones; :func:`check_obs_folder` validates a folder.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from oceane2e.dates import days_in_year

PLATFORMS: tuple[str, ...] = ("sst_l3", "drifter", "argo", "altimetry")
VARIABLES: dict[str, str] = {"ssta": "K", "sst": "K", "sla": "m"}
OBS_DIR = "obs"
TIME_UNITS = "seconds since 1970-01-01 00:00:00"
_EPOCH = np.datetime64("1970-01-01T00:00:00", "s")


class ObservationError(ValueError):
    """An observation file or folder breaks the contract. The message names the file and the fix."""


def obs_path(obs_root: str | Path, year: int) -> Path:
    """Path of the observation file of ``year`` in the observation folder ``obs_root``."""
    return Path(obs_root) / f"obs_{year:04d}.nc"


def find_obs_years(obs_root: str | Path) -> list[int]:
    """Years with an ``obs_YYYY.nc`` in ``obs_root``, sorted."""
    years = []
    for p in Path(obs_root).glob("obs_*.nc"):
        stem = p.stem.split("_", 1)[1]
        if stem.isdigit() and len(stem) == 4:
            years.append(int(stem))
    return sorted(years)


@dataclass(frozen=True)
class ObsRecords:
    """A table of observations, one entry per record; every array has the same length N.

    Attributes:
        time: (N,) datetime64[s], UTC.
        lat, lon: (N,) float64, degrees.
        value: (N,) float32 in the unit of ``variable`` (K or m).
        error_std: (N,) float32 >= 0, same unit.
        platform: (N,) str, one of :data:`PLATFORMS`.
        variable: (N,) str, one of :data:`VARIABLES`.
    """

    time: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    value: np.ndarray
    error_std: np.ndarray
    platform: np.ndarray
    variable: np.ndarray

    def __post_init__(self) -> None:
        conv = {
            "time": lambda a: np.asarray(a, dtype="datetime64[s]"),
            "lat": lambda a: np.asarray(a, dtype=np.float64), "lon": lambda a: np.asarray(a, dtype=np.float64),
            "value": lambda a: np.asarray(a, dtype=np.float32),
            "error_std": lambda a: np.asarray(a, dtype=np.float32),
            "platform": lambda a: np.asarray(a, dtype=str), "variable": lambda a: np.asarray(a, dtype=str),
        }
        n = None
        for f in fields(self):
            arr = np.atleast_1d(conv[f.name](getattr(self, f.name)))
            if arr.ndim != 1:
                raise ValueError(f"ObsRecords.{f.name} must be 1-D, got shape {arr.shape}")
            if n is not None and arr.shape[0] != n:
                raise ValueError(f"ObsRecords.{f.name} has {arr.shape[0]} records, expected {n}")
            n = arr.shape[0]
            object.__setattr__(self, f.name, arr)

    def __len__(self) -> int:
        return int(self.time.shape[0])

    @classmethod
    def empty(cls) -> ObsRecords:
        """No records."""
        return cls(*(np.zeros(0) for _ in range(5)), np.zeros(0, dtype=str), np.zeros(0, dtype=str))

    @classmethod
    def concat(cls, parts: Sequence[ObsRecords]) -> ObsRecords:
        """All records of ``parts`` in one table (not re-sorted)."""
        if not parts:
            return cls.empty()
        return cls(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)})

    def select(self, keep: np.ndarray) -> ObsRecords:
        """The records where the boolean (N,) ``keep`` is True (or at the given indices)."""
        return ObsRecords(**{f.name: getattr(self, f.name)[keep] for f in fields(self)})

    def sorted_by_time(self) -> ObsRecords:
        """The records in time order (stable: equal times keep their order)."""
        return self.select(np.argsort(self.time, kind="stable"))

    def between(self, start: np.datetime64, end: np.datetime64) -> ObsRecords:
        """Records with ``start <= time < end``."""
        t = self.time
        return self.select((t >= np.datetime64(start, "s")) & (t < np.datetime64(end, "s")))

    def of(self, *, platform: str | Sequence[str] | None = None, variable: str | Sequence[str] | None = None) -> ObsRecords:
        """Records of the given platform(s) and/or variable(s)."""
        keep = np.ones(len(self), bool)
        if platform is not None:
            keep &= np.isin(self.platform, [platform] if isinstance(platform, str) else list(platform))
        if variable is not None:
            keep &= np.isin(self.variable, [variable] if isinstance(variable, str) else list(variable))
        return self.select(keep)

    @property
    def day(self) -> np.ndarray:
        """(N,) datetime64[D]: the UTC day of each record."""
        return self.time.astype("datetime64[D]")


def _flag_var(ds, name: str, names: Sequence[str], values: np.ndarray, long_name: str, path: Path) -> None:
    codes = {n: i for i, n in enumerate(names)}
    unknown = sorted(set(values.tolist()) - set(codes))
    if unknown:
        raise ObservationError(f"{path}: unknown {name} {unknown}; use one of {list(names)}")
    var = ds.createVariable(name, "i1", ("obs",))
    var.long_name = long_name
    var.flag_values = np.arange(len(names), dtype=np.int8)
    var.flag_meanings = " ".join(names)
    var[:] = np.array([codes[v] for v in values.tolist()], dtype=np.int8)


def write_obs_year(
    obs_root: str | Path, year: int, records: ObsRecords, *, attrs: Mapping[str, object] | None = None
) -> Path:
    """Write the records of ``year`` to ``obs_root/obs_YYYY.nc`` (atomically; sorted by time).

    Records outside the year are an error: split them with :meth:`ObsRecords.between` first.
    """
    import netCDF4

    path = obs_path(obs_root, year)
    path.parent.mkdir(parents=True, exist_ok=True)
    start = np.datetime64(f"{year:04d}-01-01", "s")
    end = np.datetime64(f"{year + 1:04d}-01-01", "s")
    if len(records) and (records.time.min() < start or records.time.max() >= end):
        raise ObservationError(f"{path}: records outside {year}; split them by year before writing")
    records = records.sorted_by_time()
    tmp = path.with_name(path.name + ".tmp")
    with netCDF4.Dataset(tmp, "w", format="NETCDF4") as ds:
        ds.Conventions = "CF-1.8"
        ds.featureType = "point"
        ds.title = f"Ocean-E2E observations {year}"
        for key, value in (attrs or {}).items():
            ds.setncattr(key, value)
        ds.createDimension("obs", len(records))
        t = ds.createVariable("time", "f8", ("obs",))
        t.units, t.standard_name, t.calendar = TIME_UNITS, "time", "standard"
        t[:] = (records.time - _EPOCH).astype(np.float64)
        for name, values, units, std in (("lat", records.lat, "degrees_north", "latitude"),
                                         ("lon", records.lon, "degrees_east", "longitude")):
            var = ds.createVariable(name, "f8", ("obs",))
            var.units, var.standard_name = units, std
            var[:] = values
        value = ds.createVariable("value", "f4", ("obs",))
        value.long_name = "observed value (unit of its variable: ssta/sst K, sla m)"
        value.coordinates = "time lat lon"
        value[:] = records.value
        err = ds.createVariable("error_std", "f4", ("obs",))
        err.long_name = "instrument error standard deviation (unit of the value)"
        err[:] = records.error_std
        _flag_var(ds, "platform", PLATFORMS, records.platform, "observing platform", path)
        _flag_var(ds, "variable", tuple(VARIABLES), records.variable, "observed variable", path)
    tmp.replace(path)
    return path


def _flag_names(var, path: Path, name: str) -> np.ndarray:
    meanings = str(getattr(var, "flag_meanings", "")).split()
    values = np.asarray(getattr(var, "flag_values", np.arange(len(meanings)))).tolist()
    codes = np.asarray(var[:]).astype(int)
    table = dict(zip(values, meanings, strict=False))
    bad = sorted(set(codes.tolist()) - set(table))
    if bad or not meanings:
        raise ObservationError(f"{path}: variable {name!r} has codes {bad or 'without flag_meanings'}; "
                               f"rewrite the file with write_obs_year")
    lookup = np.array([table.get(i, "") for i in range(max(table) + 1)])
    return lookup[codes]


def read_obs_year(obs_root: str | Path, year: int) -> ObsRecords:
    """Read ``obs_root/obs_YYYY.nc`` into :class:`ObsRecords` (names for platform and variable)."""
    import netCDF4

    path = obs_path(obs_root, year)
    if not path.exists():
        raise ObservationError(f"{path}: missing; make the observations of {year} (oceane2e observe / prepare-obs)")
    with netCDF4.Dataset(path) as ds:
        missing = [v for v in ("time", "lat", "lon", "value", "error_std", "platform", "variable")
                   if v not in ds.variables]
        if missing:
            raise ObservationError(f"{path}: variables {missing} missing; rewrite the file with write_obs_year")
        ds.set_auto_mask(False)
        secs = np.asarray(ds["time"][:], dtype=np.float64)
        return ObsRecords(
            time=_EPOCH + np.round(secs).astype("timedelta64[s]"),
            lat=ds["lat"][:], lon=ds["lon"][:], value=ds["value"][:], error_std=ds["error_std"][:],
            platform=_flag_names(ds["platform"], path, "platform"),
            variable=_flag_names(ds["variable"], path, "variable"),
        )


def read_obs(obs_root: str | Path, start: np.datetime64, end: np.datetime64) -> ObsRecords:
    """Records with ``start <= time < end`` from the yearly files that cover that span."""
    y0 = int(np.datetime64(start, "Y").astype(int)) + 1970
    y1 = int(np.datetime64(np.datetime64(end, "s") - np.timedelta64(1, "s"), "Y").astype(int)) + 1970
    return ObsRecords.concat([read_obs_year(obs_root, y).between(start, end) for y in range(y0, y1 + 1)])


def check_obs_folder(
    obs_root: str | Path, years: Sequence[int], lat: np.ndarray, lon: np.ndarray
) -> list[str]:
    """Problems of an observation folder against the contract, each naming the file and the fix.

    Checks every year of ``years``: file present and readable, records sorted by time and inside the
    year, positions inside the grid box spanned by the cell centres ``lat``/``lon`` (half a cell of
    margin), finite values and errors, non-negative errors, known platforms and variables.
    """
    problems: list[str] = []
    lat = np.asarray(lat, dtype=np.float64)
    lon = np.asarray(lon, dtype=np.float64)
    half_lat = 0.5 * abs(lat[1] - lat[0]) if lat.size > 1 else 0.0
    half_lon = 0.5 * abs(lon[1] - lon[0]) if lon.size > 1 else 0.0
    for year in years:
        path = obs_path(obs_root, year)
        try:
            rec = read_obs_year(obs_root, year)
        except ObservationError as err:
            problems.append(str(err))
            continue
        except OSError as err:
            problems.append(f"{path}: cannot be read ({err}); rewrite it")
            continue
        fix = "; remake the file (oceane2e observe / prepare-obs)"
        if len(rec) and np.any(np.diff(rec.time.astype(np.int64)) < 0):
            problems.append(f"{path}: records are not sorted by time{fix}")
        start = np.datetime64(f"{year:04d}-01-01", "s")
        n_out = int(np.sum((rec.time < start) | (rec.time >= start + np.timedelta64(days_in_year(year), "D"))))
        if n_out:
            problems.append(f"{path}: {n_out} records dated outside {year}{fix}")
        outside = ((rec.lat < lat.min() - half_lat) | (rec.lat > lat.max() + half_lat)
                   | (rec.lon < lon.min() - half_lon) | (rec.lon > lon.max() + half_lon))
        if outside.any():
            problems.append(f"{path}: {int(outside.sum())} records lie outside the grid "
                            f"({lat.min():.2f}..{lat.max():.2f}N, {lon.min():.2f}..{lon.max():.2f}E){fix}")
        if not np.all(np.isfinite(rec.value)):
            problems.append(f"{path}: {int((~np.isfinite(rec.value)).sum())} records have a NaN or infinite value{fix}")
        if not np.all(np.isfinite(rec.error_std)) or np.any(rec.error_std < 0):
            n_bad = int((~np.isfinite(rec.error_std) | (rec.error_std < 0)).sum())
            problems.append(f"{path}: {n_bad} records have a negative or non-finite error_std{fix}")
        for what, names, allowed in (("platform", rec.platform, PLATFORMS), ("variable", rec.variable, VARIABLES)):
            unknown = sorted(set(names.tolist()) - set(allowed))
            if unknown:
                problems.append(f"{path}: unknown {what} {unknown}; use one of {list(allowed)}")
    return problems


__all__ = [
    "OBS_DIR", "PLATFORMS", "VARIABLES", "ObsRecords", "ObservationError", "check_obs_folder", "find_obs_years",
    "obs_path", "read_obs", "read_obs_year", "write_obs_year",
]
