"""Per-channel normalisation statistics from the training years only.

``ensure_stats(data_cfg)`` returns ``{name: {"mean": m, "std": s}}`` for every channel of the
contract (physical units), computing it once over the ocean cells of the training years and
saving it as ``norm_stats.json`` next to the data — or, when the data folder is read-only, in the
given cache folder (the stages pass their checkpoint folder), or keeping it in memory. The file records the training years (and the
sizes and times of the files it was computed from) so that a different split or regenerated data
triggers a recomputation instead of silently reusing stale numbers.

The statistics are accumulated over blocks of days of bounded size (a year of the paper-scale
data does not fit in memory; a day at a time at the smallest budget) with Chan's parallel update of count / mean / sum of squared deviations, in float64.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from oceane2e.data.config import DataConfig
from oceane2e.data.contract import (
    KIND_CHANNELS,
    DataContractError,
    days_in_year,
    missing_file_error,
    year_path,
)

STATS_FILE = "norm_stats.json"
_FORMAT = 1


class _Moments:
    """Running count / mean / M2 per channel, merged batch by batch (Chan et al. 1979)."""

    def __init__(self, n_channels: int) -> None:
        self.count = 0
        self.mean = np.zeros(n_channels, dtype=np.float64)
        self.m2 = np.zeros(n_channels, dtype=np.float64)

    def update(self, values: np.ndarray) -> None:
        """``values``: (C, N) samples of each channel."""
        values = np.asarray(values, dtype=np.float64)
        n = values.shape[1]
        if n == 0:
            return
        mean_b = values.mean(axis=1)
        m2_b = ((values - mean_b[:, None]) ** 2).sum(axis=1)
        total = self.count + n
        delta = mean_b - self.mean
        self.mean = self.mean + delta * (n / total)
        self.m2 = self.m2 + m2_b + delta**2 * (self.count * n / total)
        self.count = total

    @property
    def std(self) -> np.ndarray:
        return np.sqrt(self.m2 / max(self.count, 1))


def compute_stats(
    source,
    kind: str,
    channels: Sequence[str] | None = None,
    years: Sequence[int] | None = None,
    *,
    progress: bool = False,
    max_block_bytes: int = 64 * 2**20,
) -> dict[str, dict[str, float]]:
    """Mean and (population) standard deviation of each channel over the ocean cells.

    Args:
        source: a :class:`~oceane2e.data.datasets.DataFolder` or a :class:`DataConfig`.
        kind: ``"geo"`` or ``"mhw"``.
        channels: channel names (default: all channels of ``kind``).
        years: years to use (default: the training years of a DataConfig; required for a
            DataFolder unless it should use all of its years).
        progress: show a progress bar over the days.
        max_block_bytes: days are read in blocks of at most this size (at least one day), so
            memory stays bounded whatever the size of a year.
    Returns:
        ``{name: {"mean": m, "std": s}}`` in the channel's physical units.
    """
    from oceane2e.data.datasets import DataFolder

    channels = tuple(channels) if channels is not None else KIND_CHANNELS[kind]
    if isinstance(source, DataConfig):
        years = list(source.train_years) if years is None else list(years)
        folder = DataFolder.from_config(source, years, kinds=(kind,), channels={kind: channels})
    elif isinstance(source, DataFolder):
        folder = source
        years = list(folder.years) if years is None else list(years)
    else:
        raise TypeError(f"source must be a DataFolder or a DataConfig, got {type(source).__name__}")
    ocean = folder.mask
    moments = _Moments(len(channels))
    total_days = sum(days_in_year(y) for y in years)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total_days, desc=f"norm stats {kind}", unit="day")
    bytes_per_day = 4 * len(channels) * ocean.size
    days_per_read = max(1, int(max_block_bytes // bytes_per_day))
    for year in sorted(years):
        yf = folder.file(kind, year)
        n_days = days_in_year(year)
        for start in range(0, n_days, days_per_read):
            block = yf.read(start, min(start + days_per_read, n_days), channels)  # (t, C, H, W)
            values = np.moveaxis(block[:, :, ocean], 1, 0).reshape(len(channels), -1)  # (C, t * n_ocean)
            if not np.all(np.isfinite(values)):
                bad = int(np.flatnonzero(~np.isfinite(block[:, :, ocean]).all(axis=(1, 2)))[0])
                date = np.datetime64(f"{year:04d}-01-01", "D") + start + bad
                raise DataContractError(
                    f"{yf.path}: NaN/inf over the ocean on {date}; run `oceane2e check {folder.root}`"
                )
            moments.update(values)
            if bar is not None:
                bar.update(block.shape[0])
    if bar is not None:
        bar.close()
    std = moments.std
    for name, s in zip(channels, std, strict=True):
        if not s > 0:
            raise DataContractError(f"{folder.root}: channel {name!r} is constant over the training years (std 0)")
    return {name: {"mean": float(m), "std": float(s)} for name, m, s in zip(channels, moments.mean, std, strict=True)}


def stats_path(root_or_file: str | Path) -> Path:
    """``norm_stats.json`` inside a folder, or the given file path."""
    p = Path(root_or_file)
    return p / STATS_FILE if p.is_dir() or p.suffix != ".json" else p


def _fingerprint(root: Path, years: Sequence[int], kinds: Sequence[str] = tuple(KIND_CHANNELS)) -> dict[str, list[int]]:
    """Size and modification time of every file (of ``kinds``) the statistics are computed from."""
    out = {}
    for year in sorted(years):
        for kind in kinds:
            p = year_path(root, kind, year)
            st = p.stat()
            out[p.name] = [int(st.st_size), int(st.st_mtime_ns)]
    return out


def save_stats(
    path: str | Path,
    stats: dict[str, dict[str, float]],
    *,
    train_years: Sequence[int],
    fingerprint: dict[str, list[int]] | None = None,
) -> Path:
    """Write ``stats`` atomically (temp file + rename) with the training years they come from.

    File layout: ``{"format": 1, "train_years": [...], "files": {...}, "stats": {name: {"mean", "std"}}}``.
    """
    path = stats_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": _FORMAT,
        "description": "per-channel mean/std over ocean cells of the training years, physical units",
        "train_years": sorted(int(y) for y in train_years),
        "files": fingerprint or {},
        "stats": {k: {"mean": float(v["mean"]), "std": float(v["std"])} for k, v in stats.items()},
    }
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_text(json.dumps(payload, indent=2) + "\n")
        os.replace(tmp, path)
    except BaseException:  # a full disk must not leave a half-written file behind
        tmp.unlink(missing_ok=True)
        raise
    return path


def _read_payload(path: Path) -> dict:
    if not path.exists():
        raise DataContractError(f"{path}: missing; compute it with oceane2e.data.normalization.ensure_stats")
    try:
        payload = json.loads(path.read_text())
        payload["stats"]  # noqa: B018 - presence check
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise DataContractError(f"{path}: not a normalisation statistics file ({err}); delete it to recompute") from err
    return payload


def load_stats(path: str | Path) -> dict[str, dict[str, float]]:
    """Read ``{name: {"mean", "std"}}`` from ``norm_stats.json`` (a file or its folder)."""
    return {k: {"mean": float(v["mean"]), "std": float(v["std"])} for k, v in _read_payload(stats_path(path))["stats"].items()}


def _present_channels(root: Path, kind: str) -> tuple[str, ...]:
    """The contract channels of ``kind`` less those the folder declares absent (:func:`declared_absent`)."""
    from oceane2e.data.contract import present_channels

    return present_channels(root, kind)


def cached_stats_path(root: str | Path, cache_dir: str | Path) -> Path:
    """Where the statistics of data folder ``root`` are cached outside it (one file per folder)."""
    tag = hashlib.sha256(str(Path(root).resolve()).encode()).hexdigest()[:12]
    return Path(cache_dir) / f"norm_stats_{tag}.json"


def ensure_stats(
    data_cfg: DataConfig, *, progress: bool = True, cache_dir: str | Path | None = None
) -> dict[str, dict[str, float]]:
    """Statistics of every contract channel over the training years, computed once and reused.

    A saved file (``<data.root>/norm_stats.json``, else the copy in ``cache_dir``) is reused when
    it lists the same training years, every channel, and the same file sizes/times; otherwise the
    statistics are recomputed and written to the first of those places that is writable (a
    read-only data folder is fine: nothing has to be written into it). Channels a converted folder
    declares absent (``contents.json`` or its files' ``absent_channels``: no ``zos`` from the reference's
    global layout; only ``ssta`` from SST alone, and then no geo files are needed) are left out.
    """
    root = Path(data_cfg.root)
    if not root.is_dir():
        raise missing_file_error(root / STATS_FILE, "")
    candidates = [root / STATS_FILE]
    if cache_dir is not None:
        candidates.append(cached_stats_path(root, cache_dir))
    years = sorted(data_cfg.train_years)
    per_kind = {kind: _present_channels(root, kind) for kind in KIND_CHANNELS}
    per_kind = {kind: names for kind, names in per_kind.items() if names}  # SST only: no geo files at all
    try:
        fingerprint = _fingerprint(root, years, tuple(per_kind))
    except FileNotFoundError as err:
        raise DataContractError(f"{err.filename}: missing; the training years need it") from None
    wanted = [c for names in per_kind.values() for c in names]
    for path in candidates:
        if not path.exists():
            continue
        try:
            payload = _read_payload(path)
        except (DataContractError, OSError):
            continue
        if (
            payload.get("train_years") == years
            and payload.get("files") == fingerprint
            and all(c in payload["stats"] for c in wanted)
        ):
            return load_stats(path)
    stats: dict[str, dict[str, float]] = {}
    for kind, names in per_kind.items():
        stats.update(compute_stats(data_cfg, kind, names, years, progress=progress))
    failures = []
    for path in candidates:
        try:
            save_stats(path, stats, train_years=years, fingerprint=fingerprint)
            return stats
        except OSError as err:
            failures.append(f"{path} ({err.strerror})")
    print(f"note: normalisation statistics not saved ({'; '.join(failures)}); they are kept in memory "
          "and recomputed next time", file=sys.stderr)
    return stats
