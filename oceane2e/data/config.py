"""The ``data`` section shared by every stage's config."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from oceane2e.config import StrictModel


class DataConfig(StrictModel):
    """Where the data folder is and how its years are split.

    Train / validation / test years must be disjoint: normalisation statistics come from the
    training years only, the best checkpoint is chosen on the validation years, and the test
    years are used for nothing but the final scores.
    """

    root: Path = Field(Path("data/GS"), description="folder holding geo_YYYY.nc, mhw_YYYY.nc, mask.npy, clim.nc")
    train_years: list[int] = Field(..., min_length=1, description="years used to fit the networks")
    val_years: list[int] = Field(..., min_length=1, description="years used to choose the best checkpoint")
    test_years: list[int] = Field(..., min_length=1, description="years used only for the final scores")
    lat_bounds: tuple[float, float] | None = Field(
        None, description="edge bounds (deg N) for reference-release files that carry no coordinates"
    )
    lon_bounds: tuple[float, float] | None = Field(
        None, description="edge bounds (deg E) for reference-release files that carry no coordinates"
    )
    num_workers: int = Field(0, ge=0, description="DataLoader worker processes")

    @model_validator(mode="after")
    def _years_disjoint(self) -> DataConfig:
        check_disjoint_splits({"train_years": self.train_years, "val_years": self.val_years,
                               "test_years": self.test_years})
        if (self.lat_bounds is None) != (self.lon_bounds is None):
            raise ValueError("give both lat_bounds and lon_bounds, or neither")
        return self

    @property
    def all_years(self) -> list[int]:
        return sorted({*self.train_years, *self.val_years, *self.test_years})


def check_disjoint_splits(splits: dict[str, list[int]]) -> None:
    """Raise ``ValueError`` when a split lists a year twice or two splits share a year."""
    for name, years in splits.items():
        if len(set(years)) != len(years):
            raise ValueError(f"{name} lists a year twice: {years}")
    names = list(splits)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            common = sorted(set(splits[a]) & set(splits[b]))
            if common:
                raise ValueError(f"{a} and {b} overlap in {common}; the splits must be disjoint")


def load_data_section(path: str | Path, *, what: str = "this command") -> DataConfig:
    """The ``data:`` section of a stage config file, validated strictly (unknown keys fail).

    The one loader of a data section alone, for commands that need the data of a stage config but
    not the rest of it (``oceane2e check --config``, the evaluation).
    """
    import yaml

    from oceane2e.config import ConfigError, validate_config

    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: config file not found; pass the stage config whose data section {what} needs "
                          f"(e.g. configs/config.yaml)")
    raw = yaml.safe_load(path.read_text()) or {}
    if not isinstance(raw, dict) or "data" not in raw:
        raise ConfigError(f"{path}: no 'data:' section; {what} needs data.root and the train/val/test years")
    return validate_config(DataConfig, raw["data"], source=f"{path} (data)")
