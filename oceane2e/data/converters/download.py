"""Download helpers for the real products (optional extra: ``pip install .[download]``).

The core never downloads anything at run time; these functions are for a user preparing real
data once, before ``oceane2e prepare-data``. ``copernicusmarine`` and ``cdsapi`` are imported
inside the functions, so the package works without them. Both need an account:

* Copernicus Marine: ``copernicusmarine login`` (stores the credentials once).
* Copernicus Climate Data Store: a ``~/.cdsapirc`` with ``url: https://cds.climate.copernicus.eu/api``
  and ``key: <your personal access token>``, and the ERA5 licence accepted on the dataset's page.

Products (see docs/data.md for periods, sizes and the commands):

* altimetry: ``SEALEVEL_GLO_PHY_L4_MY_008_047``, dataset
  ``cmems_obs-sl_glo_phy-ssh_my_allsat-l4-duacs-0.125deg_P1D`` (1993 - about a year ago),
  variables ``ugos``, ``vgos``, ``adt`` (``sla`` optional);
* SST: NOAA OISST v2.1 daily files (NCEI ``oisst-avhrr-v02r01.YYYYMMDD.nc``, or PSL's yearly
  ``sst.day.mean.YYYY.nc``), variable ``sst`` (degC), 1981-09 onwards; or OSTIA
  ``SST_GLO_SST_L4_REP_OBSERVATIONS_010_011`` dataset ``METOFFICE-GLO-SST-L4-REP-OBS-SST``,
  variable ``analysed_sst`` (K);
* atmosphere: ERA5 ``reanalysis-era5-single-levels``, variables ``10m_u_component_of_wind``,
  ``10m_v_component_of_wind``, ``2m_temperature`` (hourly; the converter averages to days).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

CMEMS_ALTIMETRY_DATASET = "cmems_obs-sl_glo_phy-ssh_my_allsat-l4-duacs-0.125deg_P1D"
CMEMS_ALTIMETRY_VARIABLES = ("ugos", "vgos", "adt")
CMEMS_OSTIA_DATASET = "METOFFICE-GLO-SST-L4-REP-OBS-SST"
ERA5_DATASET = "reanalysis-era5-single-levels"
ERA5_VARIABLES = ("10m_u_component_of_wind", "10m_v_component_of_wind", "2m_temperature")
OISST_NCEI_URL = (
    "https://www.ncei.noaa.gov/data/sea-surface-temperature-optimum-interpolation/v2.1/access/avhrr/"
    "{yyyymm}/oisst-avhrr-v02r01.{yyyymmdd}.nc"
)
OISST_PSL_URL = "https://downloads.psl.noaa.gov/Datasets/noaa.oisst.v2.highres/sst.day.mean.{year}.nc"

_INSTALL = "install the optional download extra: pip install '.[download]' (or pip install {pkg})"


def _import(module: str, package: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(f"{module} is not installed; {_INSTALL.format(pkg=package)}") from err


def _check_box(lat_bounds: Sequence[float], lon_bounds: Sequence[float]) -> None:
    if not (lat_bounds[0] < lat_bounds[1] and lon_bounds[0] < lon_bounds[1]):
        raise ValueError(f"bounds must increase: lat {lat_bounds}, lon {lon_bounds} (lon in -180..180)")


def download_cmems(
    out_dir: str | Path,
    lat_bounds: Sequence[float],
    lon_bounds: Sequence[float],
    year: int,
    *,
    dataset_id: str = CMEMS_ALTIMETRY_DATASET,
    variables: Sequence[str] = CMEMS_ALTIMETRY_VARIABLES,
    margin_deg: float = 0.5,
) -> Path:
    """One year of a Copernicus Marine dataset over the box (plus a margin for interpolation).

    Default: DUACS L4 altimetry (``ugos``, ``vgos``, ``adt``). For OSTIA pass
    ``dataset_id=CMEMS_OSTIA_DATASET, variables=("analysed_sst",)``.
    Returns the written file ``<out_dir>/<dataset_id>_<year>.nc``.
    """
    _check_box(lat_bounds, lon_bounds)
    cm = _import("copernicusmarine", "copernicusmarine")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = f"{dataset_id}_{year}.nc"
    cm.subset(
        dataset_id=dataset_id,
        variables=list(variables),
        minimum_longitude=lon_bounds[0] - margin_deg,
        maximum_longitude=lon_bounds[1] + margin_deg,
        minimum_latitude=lat_bounds[0] - margin_deg,
        maximum_latitude=lat_bounds[1] + margin_deg,
        start_datetime=f"{year}-01-01T00:00:00",
        end_datetime=f"{year}-12-31T23:59:59",
        output_directory=str(out_dir),
        output_filename=name,
    )
    return out_dir / name


def era5_request(
    lat_bounds: Sequence[float], lon_bounds: Sequence[float], year: int, month: int, margin_deg: float = 0.5
) -> dict:
    """The CDS request of one month of hourly ERA5 u10/v10/t2m over the box (``area`` = N, W, S, E)."""
    import calendar

    _check_box(lat_bounds, lon_bounds)
    n_days = calendar.monthrange(year, month)[1]
    return {
        "product_type": ["reanalysis"],
        "variable": list(ERA5_VARIABLES),
        "year": [f"{year:04d}"],
        "month": [f"{month:02d}"],
        "day": [f"{d:02d}" for d in range(1, n_days + 1)],
        "time": [f"{h:02d}:00" for h in range(24)],
        "area": [
            lat_bounds[1] + margin_deg,
            lon_bounds[0] - margin_deg,
            lat_bounds[0] - margin_deg,
            lon_bounds[1] + margin_deg,
        ],
        "data_format": "netcdf",
        "download_format": "unarchived",
    }


def download_era5(
    out_dir: str | Path,
    lat_bounds: Sequence[float],
    lon_bounds: Sequence[float],
    year: int,
    months: Sequence[int] = tuple(range(1, 13)),
) -> list[Path]:
    """Hourly ERA5 u10/v10/t2m over the box, one file per month ``era5_YYYY_MM.nc``."""
    cdsapi = _import("cdsapi", "cdsapi")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    client = cdsapi.Client()
    paths = []
    for month in months:
        target = out_dir / f"era5_{year:04d}_{month:02d}.nc"
        if not target.exists():
            client.retrieve(ERA5_DATASET, era5_request(lat_bounds, lon_bounds, year, month), str(target))
        paths.append(target)
    return paths


def oisst_urls(year: int, source: str = "ncei") -> list[str]:
    """URLs of NOAA OISST v2.1 for ``year``: one per day (NCEI) or one yearly file (PSL)."""
    import numpy as np

    if source == "psl":
        return [OISST_PSL_URL.format(year=year)]
    if source != "ncei":
        raise ValueError(f"source must be 'ncei' or 'psl', got {source!r}")
    days = np.arange(np.datetime64(f"{year}-01-01"), np.datetime64(f"{year + 1}-01-01"))
    out = []
    for d in days:
        s = str(d).replace("-", "")
        out.append(OISST_NCEI_URL.format(yyyymm=s[:6], yyyymmdd=s))
    return out


def download_oisst(out_dir: str | Path, year: int, source: str = "ncei") -> list[Path]:
    """Download OISST v2.1 files of ``year`` (plain HTTPS, no account); existing files are kept.

    NCEI's near-real-time days carry ``_preliminary`` in the name until they are final; those are
    not fetched here (the URL above 404s) -- use final years for a climatology.
    """
    import urllib.request

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is a core dependency
        tqdm = None
    urls = oisst_urls(year, source)
    for url in tqdm(urls, desc=f"OISST {year}", unit="file") if tqdm else urls:
        target = out_dir / url.rsplit("/", 1)[1]
        if not target.exists():
            tmp = target.with_name(target.name + ".part")
            urllib.request.urlretrieve(url, tmp)  # noqa: S310 - fixed https URL of NOAA
            tmp.replace(target)
        paths.append(target)
    return paths
