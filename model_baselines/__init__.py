"""Network definitions: MultiConv (stage-1 velocity model), the SimVP and ConvLSTM baselines, and
(in ``hybrid.py``) the Ocean-E2E hybrid.

Configs select a network by name with typed sizes: a ``model:`` section validated into one of
:data:`ModelConfig` (``name: MultiConv | SimVP | ConvLSTM`` plus that model's sizes; unknown keys
fail), built with :func:`build_model_from_config` together with what comes from the data (channel
names, normalisation statistics, numbers of days). :func:`build_model` does the same from keyword
arguments. The hybrid (``name: Oceane2e``, in ``hybrid.py``) is reachable through the same two
functions; it is imported only when asked for.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field
from torch import nn

from model_baselines.base import DEFAULT_STEP_INPUTS, OneStepForecaster, StepInputs, rollout
from model_baselines.common import Normalizer
from model_baselines.convlstm import ConvLSTM
from model_baselines.multiconv import MultiConv
from model_baselines.simvp import SimVP
from oceane2e.config import StrictModel, validate_config

__all__ = [
    "ConvLSTM", "ConvLSTMConfig", "DEFAULT_STEP_INPUTS", "MODEL_CONFIGS", "ModelConfig", "MultiConv",
    "MultiConvConfig", "Normalizer", "OneStepForecaster", "SimVP", "SimVPConfig", "StepInputs", "build_model",
    "build_model_from_config", "parse_model_config", "rollout",
]


class _SimVPSizes(StrictModel):
    """Sizes of the SimVP encoder / translator / decoder (shared by MultiConv and SimVP)."""

    hid_S: int = Field(16, ge=1, description="channels of the spatial encoder and decoder")
    hid_T: int = Field(64, ge=1, description="channels of the gated spatio-temporal translator")
    N_S: int = Field(2, ge=1, description="encoder/decoder conv layers; spatial downsampling 2**(N_S//2)")
    N_T: int = Field(4, ge=1, description="translator blocks")
    spatio_kernel_enc: int = Field(3, ge=1, description="encoder conv kernel size (odd)")
    spatio_kernel_dec: int = Field(3, ge=1, description="decoder conv kernel size (odd)")
    attn_kernel: int = Field(21, ge=3, description="receptive field of the large-kernel attention, latent cells")
    mlp_ratio: float = Field(4.0, gt=0, description="translator MLP width relative to hid_T")
    drop_path: float = Field(0.0, ge=0, lt=1, description="maximum stochastic-depth rate of the translator")


class MultiConvConfig(_SimVPSizes):
    """Stage-1 velocity model M_θ. Channels and numbers of days come from the stage-1 config/data."""

    name: Literal["MultiConv"] = "MultiConv"
    residual: bool = Field(True, description="predict the change from the last input day")


class SimVPConfig(_SimVPSizes):
    """SimVP baseline (one day ahead, Markov).

    For the embedded 48×96 grid ``hid_S=16, hid_T=32, N_S=4, N_T=2, attn_kernel=11, mlp_ratio=2``
    matched or beat ``hid_S=16, hid_T=64, N_S=2, N_T=3`` at equal steps (validation RMSE after 100
    Adam steps of batch 8, 1-3 day rollouts) at about 1/3 to 1/5 of the CPU time.
    """

    name: Literal["SimVP"] = "SimVP"
    input_names: list[str] = Field(list(DEFAULT_STEP_INPUTS), min_length=1,
                                   description="the one-step input stack (see StepInputs)")


class ConvLSTMConfig(StrictModel):
    """ConvLSTM baseline (one day ahead, hidden state carried through the rollout).

    For the embedded 48×96 grid ``kernel_size=3`` matched ``kernel_size=5`` at equal steps at about
    half the CPU time (``hidden=[32, 32], patch_size=2``).
    """

    name: Literal["ConvLSTM"] = "ConvLSTM"
    hidden: list[int] = Field([32, 32], min_length=1, description="hidden channels of each stacked cell")
    kernel_size: int = Field(5, ge=1, description="gate convolution kernel size (odd)")
    patch_size: int = Field(2, ge=1, description="space-to-depth factor before the cells (1 = full grid)")
    input_names: list[str] = Field(list(DEFAULT_STEP_INPUTS), min_length=1,
                                   description="the one-step input stack (see StepInputs)")


ModelConfig = Annotated[MultiConvConfig | SimVPConfig | ConvLSTMConfig, Field(discriminator="name")]
MODEL_CONFIGS: dict[str, type[StrictModel]] = {
    "MultiConv": MultiConvConfig, "SimVP": SimVPConfig, "ConvLSTM": ConvLSTMConfig,
}
_MODEL_CLASSES: dict[str, type[nn.Module]] = {"MultiConv": MultiConv, "SimVP": SimVP, "ConvLSTM": ConvLSTM}


HYBRID_NAME = "Oceane2e"


def _hybrid():  # noqa: ANN202
    """The hybrid's (config class, model class), imported on demand (hybrid.py needs the physics)."""
    from model_baselines import hybrid

    return hybrid.HybridConfig, hybrid.Oceane2e


def _config_class(name: str) -> type[StrictModel]:
    if name == HYBRID_NAME:
        return _hybrid()[0]
    if name not in MODEL_CONFIGS:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted([*MODEL_CONFIGS, HYBRID_NAME])}")
    return MODEL_CONFIGS[name]


def parse_model_config(data: str | dict[str, Any], source: str = "model") -> StrictModel:
    """Validate a ``model:`` section: a name (default sizes) or ``{name: ..., <sizes>}``.

    Names: ``MultiConv``, ``SimVP``, ``ConvLSTM`` and ``Oceane2e`` (the hybrid's ``HybridConfig``).
    Raises :class:`oceane2e.config.ConfigError` naming the bad key, ``ValueError`` for an unknown name.
    """
    if isinstance(data, str):
        data = {"name": data}
    if not isinstance(data, dict) or "name" not in data:
        raise ValueError(
            f"{source}: give the model as a name or a mapping with 'name' ({sorted([*MODEL_CONFIGS, HYBRID_NAME])})"
        )
    return validate_config(_config_class(str(data["name"])), data, source=source)


def build_model_from_config(config: StrictModel, **data_kwargs: Any) -> nn.Module:
    """Build the network of a validated model config.

    ``data_kwargs`` are what the data decides: for MultiConv ``channels``, ``n_in``, ``n_out``; for
    SimVP and ConvLSTM ``norm_stats`` and optionally ``velocity_channels``, ``atmos_channels``; for
    the hybrid (``Oceane2e``) also ``lat``, ``lon`` and ``mask`` (it takes the whole config).
    """
    name = config.name  # type: ignore[attr-defined]
    if name == HYBRID_NAME:
        return _hybrid()[1](config=config, **data_kwargs)
    sizes = config.model_dump(exclude={"name"})
    overlap = sorted(set(sizes) & set(data_kwargs))
    if overlap:
        raise ValueError(f"build_model: {overlap} are config sizes; set them in the config, not as data arguments")
    return _MODEL_CLASSES[name](**data_kwargs, **sizes)


def build_model(name: str, **kwargs: Any) -> nn.Module:
    """Build model ``name`` from keyword arguments: its config fields (validated) plus data arguments."""
    cls = _config_class(name)
    fields = {k: v for k, v in kwargs.items() if k in cls.model_fields and k != "name"}
    data = {k: v for k, v in kwargs.items() if k not in fields}
    config = validate_config(cls, {"name": name, **fields}, source=f"build_model({name!r})")
    return build_model_from_config(config, **data)
