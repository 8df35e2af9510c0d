"""Readers that turn real observation files into :class:`~oceane2e.data.observations.ObsRecords`.

Every reader takes one file, a :class:`TargetGrid` (the grid, land mask and SST climatology of the
target data folder) and its product's options, and returns a :class:`Converted`: the records kept
and a :class:`DropCounts` saying how many source records were dropped and why. A dropped record is
counted once, under the first reason that applies, in this order:

1. ``off_grid``: its position (longitude normalised to the grid's convention) lies outside the grid
   box (cell centres plus half a cell, the margin ``check_obs_folder`` allows);
2. ``quality``: the product's own quality information rejects it (GHRSST quality level and L2P
   flags, altimeter flags, Argo / IMOS QC flags, depth of the shallowest good Argo level, values
   outside physical bounds, missing error or time);
3. ``land``: its nearest grid cell is land in ``mask.npy`` (or has no climatology).

Products and layouts (the layout is recognised from the file's variables):

* GHRSST GDS2 L2P swaths (2-D ``lat``/``lon``) and L3 grids (1-D ``lat``/``lon``):
  ``sea_surface_temperature`` (K) − ``sses_bias``, error ``sses_standard_deviation``, time =
  ``time`` + ``sst_dtime``; optionally averaged per target cell and pass (:func:`superob`).
* Along-track altimetry: GDR-like files with a root ``ssha`` (Jason-1/2/3, NetCDF3, scaled
  integer ``lat``/``lon``), Sentinel-6 L2 with groups ``data_01``/``data_01/ku`` (``ssha``), and
  CMEMS L3 along-track (``sla_filtered`` / ``sla_unfiltered``, per-point ``time``, ``longitude``,
  ``latitude``) -> ``sla`` in m.
* Argo profile files (``*_prof.nc`` and single profiles): the shallowest level with good pressure
  and temperature QC within ``max_pressure_dbar`` is the surface value; adjusted fields are used in
  delayed / adjusted mode. Argo trajectory files (``*_traj.nc``): measurements within
  ``max_pressure_dbar`` with good QC and a position.
* IMOS ship-of-opportunity SST (``TEMP``, ``TEMP_quality_control``, IMOS flag ``Z`` = passed).
* Surface drifters in the GDP ragged-array layout (``rowsize``, ``time``, ``lat``/``latitude``,
  ``lon``/``longitude``, ``sst``, optional ``err_sst`` and ``flg_sst``).

SST is handled in kelvin (``°C`` inputs get +273.15). SSTA = SST − ``seas(doy)`` of the folder's
``clim.nc`` at the record's nearest cell; ``seas`` is converted to K if the folder holds it in °C
(recognised from its magnitude, which is checked against its ``units`` attribute).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from oceane2e.data.contract import (
    CLIM_FILE,
    DataContractError,
    GridCoords,
    leap_doy_index,
    read_clim,
    read_mask,
)
from oceane2e.data.observations import ObservationError, ObsRecords

KELVIN = 273.15
#: GDS2 ``l2p_flags`` bits common to every GHRSST product (bits 5+ are product specific).
L2P_COMMON_BITS: dict[str, int] = {"microwave": 0, "land": 1, "ice": 2, "lake": 3, "river": 4}
#: Physically plausible bounds of SST (K) and |SLA| (m); values outside are counted as bad quality.
SST_BOUNDS_K: tuple[float, float] = (269.0, 313.0)
_S = np.timedelta64(1, "s")


# ------------------------------------------------------------------------------------------------
# target grid


@dataclass
class TargetGrid:
    """The grid the records are placed on: cell centres, ocean mask and SST climatology.

    Attributes:
        coords: cell centres (degrees), both increasing.
        ocean: (H, W) bool, True over the ocean (``mask.npy``).
        seas_k: (366, H, W) float32 day-of-year SST climatology in K (``clim.nc`` ``seas``,
            converted from °C when the folder holds °C), or None without a climatology.
        notes: remarks for the user (e.g. a climatology in °C labelled K).
    """

    coords: GridCoords
    ocean: np.ndarray
    seas_k: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)

    @classmethod
    def from_folder(cls, root: str | Path, *, need_clim: bool = True) -> TargetGrid:
        """Read ``clim.nc`` (grid and ``seas``) and ``mask.npy`` of the data folder ``root``.

        Raises:
            DataContractError: a file is missing or unreadable, or the two grids differ.
        """
        root = Path(root)
        clim = read_clim(root / CLIM_FILE)
        ocean = read_mask(root)
        if ocean.shape != clim.coords.shape:
            raise DataContractError(f"{root / 'mask.npy'}: shape {ocean.shape} differs from the grid of "
                                    f"{root / CLIM_FILE} {clim.coords.shape}; rewrite the folder")
        with _open(root / CLIM_FILE) as ds:
            units = str(getattr(ds["seas"], "units", ""))
        seas, notes = seas_in_kelvin(clim.seas, units, root / CLIM_FILE)
        return cls(coords=clim.coords, ocean=ocean, seas_k=seas if need_clim else None, notes=notes)

    @property
    def shape(self) -> tuple[int, int]:
        return self.coords.shape

    def west_edge(self) -> float:
        """Western edge of the grid (degrees east, in the grid's own convention)."""
        lon = self.coords.lon
        return float(lon[0] - 0.5 * (lon[1] - lon[0]))

    def normalise_lon(self, lon: np.ndarray) -> np.ndarray:
        """Longitudes (degrees east, any convention) mapped to ``[west edge, west edge + 360)``,
        i.e. to the grid's convention (−180..180 or 0..360, also across the seam)."""
        w = self.west_edge()
        return w + np.mod(np.asarray(lon, dtype=np.float64) - w, 360.0)

    def locate(self, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Nearest cell ``(i, j)`` of each position and whether it lies inside the grid box.

        ``lon`` must already be normalised. The box is the cell centres plus half a cell.
        """
        out = []
        inside = np.ones(np.shape(lat), dtype=bool)
        for x, c in ((np.asarray(lat, np.float64), self.coords.lat), (np.asarray(lon, np.float64), self.coords.lon)):
            mids = 0.5 * (c[1:] + c[:-1])
            out.append(np.searchsorted(mids, x))
            lo, hi = c[0] - 0.5 * (c[1] - c[0]), c[-1] + 0.5 * (c[-1] - c[-2])
            with np.errstate(invalid="ignore"):
                inside &= (x >= lo) & (x <= hi)
        return out[0], out[1], inside

    def box(self) -> tuple[float, float, float, float]:
        """(south, north, west, east) edges of the grid box, degrees (west/east in the grid's convention)."""
        lat, lon = self.coords.lat, self.coords.lon
        return (lat[0] - 0.5 * (lat[1] - lat[0]), lat[-1] + 0.5 * (lat[-1] - lat[-2]),
                lon[0] - 0.5 * (lon[1] - lon[0]), lon[-1] + 0.5 * (lon[-1] - lon[-2]))


def seas_in_kelvin(seas: np.ndarray, units: str, path: str | Path = CLIM_FILE) -> tuple[np.ndarray, list[str]]:
    """The climatology ``seas`` in K, and notes on what was done.

    The unit is recognised from the values (the median over finite cells: below 100 it is °C, above
    200 it is K); when the ``units`` attribute says otherwise the values win and a note says so.

    Raises:
        DataContractError: the values fit neither unit, or there are none.
    """
    finite = seas[np.isfinite(seas)]
    if finite.size == 0:
        raise DataContractError(f"{path}: seas has no finite value; rewrite clim.nc")
    median = float(np.median(finite))
    if median < 100.0:
        unit, out = "degC", seas.astype(np.float32) + np.float32(KELVIN)
    elif median > 200.0:
        unit, out = "K", seas.astype(np.float32)
    else:
        raise DataContractError(f"{path}: seas has a median of {median:.1f}, neither degC nor K; rewrite clim.nc")
    notes = []
    said = units.strip().lower()
    said_unit = "K" if said in ("k", "kelvin") else "degC" if said in ("degc", "celsius", "degree_celsius", "c") else ""
    if said_unit and said_unit != unit:
        notes.append(f"{path}: seas is labelled {units!r} but its values (median {median:.2f}) are in {unit}; "
                     f"used as {unit}. Fix the units attribute of clim.nc")
    elif unit == "degC":
        notes.append(f"{path}: seas is in degC; converted to K")
    return out, notes


# ------------------------------------------------------------------------------------------------
# counts and results


@dataclass
class DropCounts:
    """What happened to the source records of one or more files.

    Attributes:
        files: files read; ``empty_files``: files that held no valid value at all (e.g. a blank L3).
        candidates: source records with a value (fill values are not records).
        kept: records written (after superobbing: one per cell and pass).
        off_grid, quality, land: source records dropped, by first reason.
    """

    files: int = 0
    empty_files: int = 0
    candidates: int = 0
    kept: int = 0
    off_grid: int = 0
    quality: int = 0
    land: int = 0

    def add(self, other: DropCounts) -> None:
        """Add ``other``'s counts to these."""
        for name in ("files", "empty_files", "candidates", "kept", "off_grid", "quality", "land"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class Converted:
    """Records from one file and the counts of what was dropped."""

    records: ObsRecords
    counts: DropCounts


@dataclass
class _Raw:
    """Candidate records of one file before the grid is applied (values in K or m)."""

    time: np.ndarray  # datetime64[s]
    lat: np.ndarray
    lon: np.ndarray
    value: np.ndarray
    error_std: np.ndarray
    good: np.ndarray  # bool: passes the product's quality rules


def _finish(
    raw: _Raw,
    grid: TargetGrid,
    *,
    platform: str,
    kind: str,
    sst_as: str = "ssta",
    superob_floor: float | None = None,
    outside: tuple[int, int] = (0, 0),
) -> Converted:
    """Apply the grid (off-grid, land), the quality mask, the anomaly; optionally superob.

    ``outside`` = (candidates, of which off the grid) already removed by the reader.
    """
    counts = DropCounts(files=1, candidates=int(raw.value.size) + outside[0], off_grid=outside[1])
    if raw.value.size == 0:
        counts.empty_files = int(counts.candidates == 0)
        return Converted(ObsRecords.empty(), counts)
    lon = grid.normalise_lon(raw.lon)
    i, j, inside = grid.locate(raw.lat, lon)
    placed = np.isfinite(raw.lat) & np.isfinite(lon)  # no position: bad quality, not off the grid
    counts.off_grid += int((placed & ~inside).sum())
    inside |= ~placed
    good = inside & placed & raw.good & np.isfinite(raw.value) & np.isfinite(raw.error_std) & (raw.error_std >= 0)
    good &= ~np.isnat(raw.time)
    counts.quality = int(inside.sum() - good.sum())
    h, w = grid.shape
    i, j = np.clip(i, 0, h - 1), np.clip(j, 0, w - 1)
    ocean = good & grid.ocean[i, j]
    value = raw.value.astype(np.float64)
    variable = "sla" if kind == "sla" else sst_as
    if kind == "sst" and sst_as == "ssta":
        if grid.seas_k is None:
            raise DataContractError("SST anomalies need the folder's clim.nc; give a data folder with one")
        seas = np.full(value.shape, np.nan)
        sel = np.flatnonzero(ocean)
        if sel.size:
            seas[sel] = grid.seas_k[leap_doy_index(raw.time[sel].astype("datetime64[D]")), i[sel], j[sel]]
        value = value - seas
        ocean &= np.isfinite(seas)
    counts.land = int(good.sum() - ocean.sum())
    keep = np.flatnonzero(ocean)
    time, lat, lonk, val, err = raw.time[keep], raw.lat[keep], lon[keep], value[keep], raw.error_std[keep]
    if superob_floor is not None and keep.size:
        time, lat, lonk, val, err = superob(i[keep] * w + j[keep], time, lat, lonk, val, err, floor=superob_floor)
    n = int(val.size)
    counts.kept = n
    rec = ObsRecords(time=time, lat=lat, lon=lonk, value=val, error_std=err,
                     platform=np.full(n, platform), variable=np.full(n, variable))
    return Converted(rec, counts)


def superob(
    cell: np.ndarray,
    time: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    value: np.ndarray,
    error_std: np.ndarray,
    *,
    floor: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Average the records of each target cell into one "super-observation".

    Time, position and value are the means of the cell's records; the error is that of the mean of
    n independent errors, ``sqrt(sum(sigma_i^2)) / n``, but not below ``floor`` (same unit as the
    value) for n > 1, since errors of neighbouring pixels are partly correlated and do not average out.

    Args:
        cell: (N,) int cell index of each record (records of one pass only).
        time: (N,) datetime64[s]; lat, lon: (N,) degrees; value, error_std: (N,) K or m.

    Returns:
        ``(time, lat, lon, value, error_std)`` with one entry per cell, in cell order.
    """
    uniq, inv, n = np.unique(cell, return_inverse=True, return_counts=True)

    def mean(x: np.ndarray) -> np.ndarray:
        return np.bincount(inv, weights=np.asarray(x, np.float64), minlength=uniq.size) / n

    secs = (time - np.datetime64(0, "s")).astype(np.float64)
    t = np.datetime64(0, "s") + np.round(mean(secs)).astype(np.int64).astype("timedelta64[s]")
    err = np.sqrt(np.bincount(inv, weights=np.asarray(error_std, np.float64) ** 2, minlength=uniq.size)) / n
    err = np.where(n > 1, np.maximum(err, floor), err)
    return t, mean(lat), mean(lon), mean(value), err


# ------------------------------------------------------------------------------------------------
# NetCDF helpers


def _open(path: str | Path):  # noqa: ANN202 - a netCDF4.Dataset
    import netCDF4

    try:
        return netCDF4.Dataset(path)
    except OSError as err:
        raise ObservationError(f"{path}: cannot be read as NetCDF ({err}); re-download the file") from None


def _find(ds, name: str):  # noqa: ANN001, ANN202 - netCDF4 objects
    """Variable ``name`` (a path like ``data_01/ku/ssha`` or a bare name) in the root or any group."""
    if "/" in name:
        node = ds
        *groups, leaf = name.strip("/").split("/")
        for g in groups:
            if g not in node.groups:
                return None
            node = node.groups[g]
        return node.variables.get(leaf)
    stack = [ds]
    while stack:
        node = stack.pop(0)
        if name in node.variables:
            return node.variables[name]
        stack.extend(node.groups.values())
    return None


def _need(ds, name: str, path: str | Path, what: str):  # noqa: ANN001, ANN202
    var = _find(ds, name)
    if var is None:
        raise ObservationError(f"{path}: variable {name!r} missing, so this is not a {what} file; "
                               f"list it under the right product or re-download it")
    return var


def _float(var, index: tuple | slice = slice(None)) -> np.ndarray:  # noqa: ANN001
    """Values of a variable, unpacked (scale/offset), fill and out-of-valid-range values as NaN."""
    data = var[index]
    return np.ma.filled(np.ma.asarray(data).astype(np.float64), np.nan)


def _raw_ints(var, index: tuple | slice = slice(None), fill: int = -1) -> np.ndarray:  # noqa: ANN001
    """Integer codes of a flag variable as stored (no valid-range masking); ``fill`` where _FillValue."""
    var.set_auto_maskandscale(False)
    try:
        data = np.asarray(var[index])
        missing = ~np.isfinite(data) if data.dtype.kind == "f" else np.zeros(data.shape, bool)
        fv = getattr(var, "_FillValue", None)
        if fv is not None and np.isfinite(fv):
            missing |= data == fv
        return np.where(missing, fill, np.where(missing, 0, data).astype(np.int64))
    finally:
        var.set_auto_maskandscale(True)


def _chars(var, index: tuple | slice = slice(None)) -> np.ndarray:  # noqa: ANN001
    """A char (S1) variable as an array of 1-character strings (blank for fill)."""
    var.set_auto_mask(False)
    data = np.asarray(var[index])
    if data.dtype.kind == "S":
        data = np.char.decode(data, "ascii", errors="replace")
    return np.asarray(data, dtype=str)


def decode_time(values: np.ndarray, units: str) -> np.ndarray:
    """CF ``<unit> since <date>`` numbers -> datetime64[s] (rounded to the second; NaN -> NaT)."""
    import pandas as pd

    try:
        unit, ref = units.split(" since ")
        scale = {"second": 1.0, "seconds": 1.0, "s": 1.0, "minute": 60.0, "minutes": 60.0, "hour": 3600.0,
                 "hours": 3600.0, "day": 86400.0, "days": 86400.0}[unit.strip().lower()]
        ref = ref.strip().removesuffix("UTC").strip().removesuffix("Z").strip()
        base = np.datetime64(pd.Timestamp(ref).to_datetime64(), "s")
    except (ValueError, KeyError) as err:
        raise ObservationError(f"time units {units!r} not understood ({err})") from None
    secs = np.asarray(values, dtype=np.float64) * scale
    out = np.full(secs.shape, np.datetime64("NaT"), dtype="datetime64[s]")
    ok = np.isfinite(secs)
    out[ok] = base + np.round(secs[ok]).astype(np.int64) * _S
    return out


def _units_to_kelvin(var, path: str | Path) -> float:  # noqa: ANN001
    """Offset that turns the variable's temperature into K (0 for K, 273.15 for °C)."""
    units = str(getattr(var, "units", "")).strip().lower()
    if units in ("k", "kelvin", "degrees_kelvin"):
        return 0.0
    if units in ("degc", "celsius", "degree_celsius", "degrees_celsius", "deg c", "c", "degree_c", "deg_c"):
        return KELVIN
    raise ObservationError(f"{path}: temperature {var.name!r} has units {units!r}; expected K or degC "
                           f"(fix the file's units attribute)")


# ------------------------------------------------------------------------------------------------
# GHRSST L2P / L3


def read_ghrsst(
    path: str | Path,
    grid: TargetGrid,
    *,
    min_quality_level: int = 4,
    reject_flags: Sequence[str] = ("land", "ice"),
    superob_floor: float | None = 0.1,
    sst_as: str = "ssta",
    platform: str = "sst_l3",
    block_rows: int = 1024,
) -> Converted:
    """GHRSST GDS2 L2P swath or L3 grid -> SST(A) records in K.

    Value = ``sea_surface_temperature − sses_bias``, error = ``sses_standard_deviation``; pixels with
    ``quality_level < min_quality_level``, an ``l2p_flags`` bit of ``reject_flags`` (GDS2 common bits:
    microwave, land, ice, lake, river), no bias / error, or SST outside 269–313 K are bad quality.
    L3 grids (1-D lat/lon) are read only inside the target box (pixels outside are not counted).

    Args:
        superob_floor: average the kept pixels of each target cell into one record (error floor in
            K, see :func:`superob`); None keeps every pixel.
        sst_as: ``"ssta"`` (anomaly from the folder's climatology) or ``"sst"``.
        block_rows: rows read at a time (memory stays bounded on full-size granules); pixels off
            the grid are counted, then only those on it are kept.
    """
    unknown = sorted(set(reject_flags) - set(L2P_COMMON_BITS))
    if unknown:
        raise ObservationError(f"reject_flags {unknown} unknown; use names of {list(L2P_COMMON_BITS)}")
    what = "GHRSST L2P/L3"
    bad_bits = sum(1 << L2P_COMMON_BITS[f] for f in reject_flags)
    parts: list[_Raw] = []
    n_valid = n_off = 0
    with _open(path) as ds:
        for name in ("sea_surface_temperature", "quality_level", "sses_bias", "sses_standard_deviation",
                     "lat", "lon", "time"):
            _need(ds, name, path, what)
        lat_v, lon_v, sst_v = ds["lat"], ds["lon"], ds["sea_surface_temperature"]
        t0 = decode_time(np.asarray(ds["time"][:1], dtype=np.float64), ds["time"].units)[0]
        offset = _units_to_kelvin(sst_v, path)
        if lat_v.ndim == 1:  # L3: a regular grid; read the target box only
            lat1, lon1 = _float(lat_v), grid.normalise_lon(_float(lon_v))
            s, n, w, e = grid.box()
            rows = np.flatnonzero((lat1 >= s) & (lat1 <= n))
            cols = np.flatnonzero((lon1 >= w) & (lon1 <= e))
            if rows.size == 0 or cols.size == 0:
                return Converted(ObsRecords.empty(), DropCounts(files=1, empty_files=1))
            row_range, cs = (int(rows.min()), int(rows.max()) + 1), slice(int(cols.min()), int(cols.max()) + 1)
        else:
            row_range, cs = (0, lat_v.shape[0]), slice(None)
        for r0 in range(row_range[0], row_range[1], block_rows):
            rs = slice(r0, min(r0 + block_rows, row_range[1]))
            index = (0, rs, cs)
            if lat_v.ndim == 1:
                lat2, lon2 = np.meshgrid(lat1[rs], lon1[cs], indexing="ij")
            else:
                lat2, lon2 = _float(lat_v, (rs, cs)), _float(lon_v, (rs, cs))
            sst = _float(sst_v, index)
            valid = np.isfinite(sst) & np.isfinite(lat2) & np.isfinite(lon2)
            _, _, inside = grid.locate(lat2, grid.normalise_lon(lon2))
            n_valid += int(valid.sum())
            n_off += int((valid & ~inside).sum())
            sel = np.nonzero(valid & inside)
            if sel[0].size == 0:
                continue

            def pick(name: str, index: tuple = index, sel: tuple = sel) -> np.ndarray:
                return _float(ds[name], index)[sel]

            ql = pick("quality_level")
            bias, sd = pick("sses_bias"), pick("sses_standard_deviation")
            dtime = pick("sst_dtime") if "sst_dtime" in ds.variables else np.zeros(ql.shape)
            flags = (_raw_ints(ds["l2p_flags"], index, fill=0)[sel] if "l2p_flags" in ds.variables
                     else np.zeros(ql.shape, np.int64))
            value = sst[sel] + offset - bias
            good = (np.nan_to_num(ql, nan=-1) >= min_quality_level) & ((flags & bad_bits) == 0)
            with np.errstate(invalid="ignore"):
                good &= (value >= SST_BOUNDS_K[0]) & (value <= SST_BOUNDS_K[1])
            time = t0 + np.round(np.nan_to_num(dtime, nan=0.0)).astype(np.int64) * _S
            parts.append(_Raw(time=time, lat=lat2[sel], lon=lon2[sel], value=value, error_std=sd, good=good))
    raw = _Raw(*(np.concatenate([getattr(p, f) for p in parts]) if parts else np.zeros(0, dt)
                 for f, dt in (("time", "datetime64[s]"), ("lat", float), ("lon", float), ("value", float),
                               ("error_std", float), ("good", bool))))
    return _finish(raw, grid, platform=platform, kind="sst", sst_as=sst_as, superob_floor=superob_floor,
                   outside=(n_valid - raw.value.size, n_off))


# ------------------------------------------------------------------------------------------------
# along-track altimetry

#: flag variables of along-track files; a record with a non-zero value in any present one is bad.
ALTIMETRY_REJECT_FLAGS: tuple[str, ...] = (
    "surface_type",                # GDR: 0 ocean, 1 enclosed sea/lake, 2 ice, 3 land
    "surface_classification_flag",  # Sentinel-6: 0 open ocean
    "ice_flag",                    # GDR: 1 ice
    "qual_alt_1hz_range_ku",       # GDR: 1 bad Ku range
    "range_ocean_qual",            # Sentinel-6 (data_01/ku): 1 bad range
)


def altimetry_layout(ds) -> str:  # noqa: ANN001
    """``"cmems_l3"``, ``"sentinel6"`` or ``"gdr"`` from the variables of an open file ('' if none)."""
    if "sla_filtered" in ds.variables or "sla_unfiltered" in ds.variables:
        return "cmems_l3"
    if "data_01" in ds.groups and _find(ds, "data_01/ku/ssha") is not None:
        return "sentinel6"
    if "ssha" in ds.variables:
        return "gdr"
    return ""


def read_along_track(
    path: str | Path,
    grid: TargetGrid,
    *,
    error_std_m: float = 0.03,
    cmems_variable: str = "sla_filtered",
    reject_flags: Sequence[str] = ALTIMETRY_REJECT_FLAGS,
    max_abs_sla_m: float = 2.0,
    platform: str = "altimetry",
) -> Converted:
    """One along-track altimetry file (GDR ``ssha``, Sentinel-6 ``data_01/ku/ssha`` or CMEMS L3
    ``sla_filtered``/``sla_unfiltered``) -> ``sla`` records in m with error ``error_std_m``.

    Bad quality: a non-zero value in any of ``reject_flags`` present in the file (root or groups),
    |SLA| above ``max_abs_sla_m``, or no time.
    """
    with _open(path) as ds:
        layout = altimetry_layout(ds)
        if layout == "cmems_l3":
            sla_v = ds.variables.get(cmems_variable)
            if sla_v is None:
                other = sorted({"sla_filtered", "sla_unfiltered"} & set(ds.variables))
                raise ObservationError(f"{path}: CMEMS L3 file without {cmems_variable!r} (it has {other}); "
                                       f"set altimetry.cmems_variable to one of those")
            names = ("time", "latitude", "longitude")
        elif layout == "sentinel6":
            sla_v = _find(ds, "data_01/ku/ssha")
            names = ("data_01/time", "data_01/latitude", "data_01/longitude")
        elif layout == "gdr":
            sla_v = ds["ssha"]
            names = ("time", "lat", "lon")
        else:
            raise ObservationError(f"{path}: no 'ssha' (GDR), 'data_01/ku/ssha' (Sentinel-6) or 'sla_filtered' "
                                   f"(CMEMS L3) variable, so this is not an along-track file; list it under "
                                   f"the right product")
        tv, latv, lonv = (_need(ds, n, path, "along-track") for n in names)
        sla = _float(sla_v)
        valid = np.isfinite(sla)
        lat, lon = _float(latv)[valid], _float(lonv)[valid]
        time = decode_time(_float(tv)[valid], tv.units)
        good = np.isfinite(lat) & np.isfinite(lon)
        for name in reject_flags:
            var = _find(ds, name)
            if var is not None and var.shape == sla_v.shape:
                good &= _raw_ints(var, fill=0)[valid] == 0
    sla = sla[valid]
    good &= np.abs(sla) <= max_abs_sla_m
    raw = _Raw(time=time, lat=lat, lon=lon, value=sla, error_std=np.full(sla.shape, error_std_m), good=good)
    return _finish(raw, grid, platform=platform, kind="sla")


# ------------------------------------------------------------------------------------------------
# in situ


def _argo_mode_fields(ds, mode: np.ndarray) -> tuple[np.ndarray, ...]:  # noqa: ANN001
    """PRES, TEMP and their QC, taking the adjusted fields where the data mode is 'A' or 'D'."""
    pres, temp = _float(ds["PRES"]), _float(ds["TEMP"])
    pq, tq = _chars(ds["PRES_QC"]), _chars(ds["TEMP_QC"])
    if "TEMP_ADJUSTED" in ds.variables and "PRES_ADJUSTED" in ds.variables:
        adj = np.isin(mode, ["A", "D"])
        if adj.any():
            shape = (-1,) + (1,) * (pres.ndim - 1)
            a = adj.reshape(shape)
            pres = np.where(a, _float(ds["PRES_ADJUSTED"]), pres)
            temp = np.where(a, _float(ds["TEMP_ADJUSTED"]), temp)
            pq = np.where(a, _chars(ds["PRES_ADJUSTED_QC"]), pq)
            tq = np.where(a, _chars(ds["TEMP_ADJUSTED_QC"]), tq)
    return pres, temp, pq, tq


def read_argo(
    path: str | Path,
    grid: TargetGrid,
    *,
    max_pressure_dbar: float = 10.0,
    good_qc: Sequence[str] = ("1", "2"),
    error_std_k: float = 0.05,
    sst_as: str = "ssta",
    platform: str = "argo",
) -> Converted:
    """Argo profile file (multi- or single-profile) or trajectory file -> surface SST(A) records.

    Profiles: one candidate record per profile with any temperature; its value is the shallowest
    level whose pressure and temperature QC are in ``good_qc`` and whose pressure is at most
    ``max_pressure_dbar``; time ``JULD`` (days since 1950-01-01), position ``LATITUDE``/
    ``LONGITUDE``, both with QC in ``good_qc``. A profile with no such level is bad quality.
    Trajectory files (``N_MEASUREMENT``): every measurement with a temperature is a candidate; it
    needs good QC, a pressure within ``max_pressure_dbar``, a time and a position of its own.
    """
    what = "Argo profile/trajectory"
    with _open(path) as ds:
        for name in ("JULD", "LATITUDE", "LONGITUDE", "PRES", "TEMP", "TEMP_QC", "PRES_QC"):
            _need(ds, name, path, what)
        juld = _float(ds["JULD"])
        time = decode_time(juld, ds["JULD"].units)
        lat, lon = _float(ds["LATITUDE"]), _float(ds["LONGITUDE"])
        jq = _chars(ds["JULD_QC"]) if "JULD_QC" in ds.variables else np.full(juld.shape, "1")
        posq = _chars(ds["POSITION_QC"]) if "POSITION_QC" in ds.variables else np.full(juld.shape, "1")
        trajectory = "N_MEASUREMENT" in ds["TEMP"].dimensions
        mode_v = ds.variables.get("DATA_MODE")
        if trajectory:
            # DATA_MODE is per cycle in trajectory files; adjusted values are used only where present
            pres, temp = _float(ds["PRES"]), _float(ds["TEMP"])
            pq, tq = _chars(ds["PRES_QC"]), _chars(ds["TEMP_QC"])
            if "TEMP_ADJUSTED" in ds.variables:
                ta = _float(ds["TEMP_ADJUSTED"])
                use = np.isfinite(ta)
                temp = np.where(use, ta, temp)
                tq = np.where(use, _chars(ds["TEMP_ADJUSTED_QC"]), tq)
        else:
            mode = _chars(mode_v) if mode_v is not None else np.full(juld.shape, "R")
            pres, temp, pq, tq = _argo_mode_fields(ds, np.atleast_1d(mode))
            # a profile with raw temperatures is a candidate even where delayed mode blanked them (bad data)
            any_raw = np.isfinite(np.atleast_2d(_float(ds["TEMP"]))).any(axis=1)
        temp_offset = _units_to_kelvin(ds["TEMP"], path)
    good_qc = list(good_qc)
    ok_meta = np.isin(jq, good_qc) & np.isin(posq, good_qc) & np.isfinite(lat) & np.isfinite(lon)
    if trajectory:
        cand = np.isfinite(temp)
        with np.errstate(invalid="ignore"):
            good = np.isin(tq, good_qc) & np.isin(pq, good_qc) & (pres <= max_pressure_dbar)
        good &= ok_meta
        value = temp + temp_offset
        sel = np.flatnonzero(cand)
        raw = _Raw(time=time[sel], lat=lat[sel], lon=lon[sel], value=value[sel],
                   error_std=np.full(sel.size, error_std_k), good=good[sel])
    else:
        temp2, pres2 = np.atleast_2d(temp), np.atleast_2d(pres)
        tq2, pq2 = np.atleast_2d(tq), np.atleast_2d(pq)
        cand = np.isfinite(temp2).any(axis=1) | any_raw
        with np.errstate(invalid="ignore"):
            lev_ok = (np.isfinite(temp2) & np.isfinite(pres2) & np.isin(tq2, good_qc) & np.isin(pq2, good_qc)
                      & (pres2 <= max_pressure_dbar))
        p_masked = np.where(lev_ok, pres2, np.inf)
        k = np.argmin(p_masked, axis=1)
        has = lev_ok.any(axis=1)
        value = temp2[np.arange(temp2.shape[0]), k] + temp_offset
        good = has & ok_meta
        sel = np.flatnonzero(cand)
        raw = _Raw(time=time[sel], lat=lat[sel], lon=lon[sel], value=np.where(good, value, np.nan)[sel],
                   error_std=np.full(sel.size, error_std_k), good=good[sel])
    with np.errstate(invalid="ignore"):
        raw.good &= (raw.value >= SST_BOUNDS_K[0]) & (raw.value <= SST_BOUNDS_K[1])
    return _finish(raw, grid, platform=platform, kind="sst", sst_as=sst_as)


def read_ship_sst(
    path: str | Path,
    grid: TargetGrid,
    *,
    good_qc: Sequence[str] = ("Z",),
    error_std_k: float = 0.2,
    sst_as: str = "ssta",
    platform: str = "drifter",
) -> Converted:
    """IMOS ship-of-opportunity SST track (``TIME``, ``LATITUDE``, ``LONGITUDE``, ``TEMP`` in °C and
    ``TEMP_quality_control``; IMOS flag ``Z`` = passed all tests) -> SST(A) records.

    Time and position QC (``*_quality_control``), where present, must also be in ``good_qc``.
    The contract has no ship platform: ship SST is an in situ surface point measurement like a
    drifter's and is stored as ``platform`` (default ``drifter``) with its own larger error.
    """
    what = "IMOS SOOP-SST"
    with _open(path) as ds:
        for name in ("TIME", "LATITUDE", "LONGITUDE", "TEMP"):
            _need(ds, name, path, what)
        temp = _float(ds["TEMP"])
        valid = np.isfinite(temp)
        time = decode_time(_float(ds["TIME"]), ds["TIME"].units)
        lat, lon = _float(ds["LATITUDE"]), _float(ds["LONGITUDE"])
        good = np.ones(temp.shape, bool)
        for name in ("TEMP", "TIME", "LATITUDE", "LONGITUDE"):
            qv = ds.variables.get(f"{name}_quality_control")
            if qv is not None:
                good &= np.isin(_chars(qv).reshape(temp.shape), list(good_qc))
        offset = _units_to_kelvin(ds["TEMP"], path)
    value = temp + offset
    with np.errstate(invalid="ignore"):
        good &= (value >= SST_BOUNDS_K[0]) & (value <= SST_BOUNDS_K[1])
    raw = _Raw(time=time[valid], lat=lat[valid], lon=lon[valid], value=value[valid],
               error_std=np.full(int(valid.sum()), error_std_k), good=good[valid])
    return _finish(raw, grid, platform=platform, kind="sst", sst_as=sst_as)


def read_drifters(
    path: str | Path,
    grid: TargetGrid,
    *,
    min_flag: int = 4,
    error_std_k: float = 0.1,
    sst_as: str = "ssta",
    platform: str = "drifter",
) -> Converted:
    """Surface drifter SST in the GDP ragged-array layout -> SST(A) records.

    Variables: ``time`` (obs), ``lat``/``latitude`` and ``lon``/``longitude`` (obs), ``sst`` (obs, K or
    °C per its units), optional ``err_sst`` (the record's error, else ``error_std_k``) and
    ``flg_sst`` (GDP quality flag 0..5, 5 best: values below ``min_flag`` are bad quality).
    """
    what = "GDP drifter"
    with _open(path) as ds:
        for name in ("time", "sst"):
            _need(ds, name, path, what)
        latv = ds.variables.get("lat", ds.variables.get("latitude"))
        lonv = ds.variables.get("lon", ds.variables.get("longitude"))
        if latv is None or lonv is None:
            raise ObservationError(f"{path}: variables 'lat'/'lon' (or 'latitude'/'longitude') missing, so this "
                                   f"is not a GDP drifter file; list it under the right product")
        sst = _float(ds["sst"])
        valid = np.isfinite(sst)
        time = decode_time(_float(ds["time"]), ds["time"].units)
        lat, lon = _float(latv), _float(lonv)
        err = _float(ds["err_sst"]) if "err_sst" in ds.variables else np.full(sst.shape, np.nan)
        err = np.where(np.isfinite(err), err, error_std_k)
        flag = _raw_ints(ds["flg_sst"], fill=-1) if "flg_sst" in ds.variables else np.full(sst.shape, 5)
        offset = _units_to_kelvin(ds["sst"], path)
    value = sst + offset
    with np.errstate(invalid="ignore"):
        good = (flag >= min_flag) & (value >= SST_BOUNDS_K[0]) & (value <= SST_BOUNDS_K[1])
    raw = _Raw(time=time[valid], lat=lat[valid], lon=lon[valid], value=value[valid],
               error_std=err[valid], good=good[valid])
    return _finish(raw, grid, platform=platform, kind="sst", sst_as=sst_as)


__all__ = [
    "ALTIMETRY_REJECT_FLAGS", "Converted", "DropCounts", "L2P_COMMON_BITS", "TargetGrid", "altimetry_layout",
    "decode_time", "read_along_track", "read_argo", "read_drifters", "read_ghrsst", "read_ship_sst",
    "seas_in_kelvin", "superob",
]
