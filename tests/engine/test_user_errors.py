"""Issue 15 items 3 and 8: user errors are one line + exit status 2; results are not overwritten silently."""

from __future__ import annotations

import errno
import importlib.util
import os
from pathlib import Path

import pytest
import yaml

from oceane2e.config import ConfigError
from oceane2e.data.contract import DataContractError
from oceane2e.engine.checkpoint import CheckpointError
from oceane2e.errors import OutputExistsError, UserError, report_user_errors
from oceane2e.outputs import claim_outputs
from oceane2e.testing.folders import write_tiny_folder

REPO = Path(__file__).resolve().parents[2]


def _script(name: str):  # noqa: ANN202 - a top-level entry script as a module
    spec = importlib.util.spec_from_file_location(name, REPO / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def _config(tmp: Path, root: Path) -> Path:
    cfg = {
        "data": {"root": str(root), "train_years": [2001], "val_years": [2002], "test_years": [2003]},
        "model": {"name": "MultiConv", "hid_S": 4, "hid_T": 8, "N_S": 1, "N_T": 1, "attn_kernel": 3},
        "window": {"n_in": 2, "n_out": 1},
        "train": {"name": "MultiConv", "epochs": 1, "batch_size": 4, "max_steps_per_epoch": 1,
                  "checkpoint_dir": str(tmp / "ckpt"), "log_dir": str(tmp / "logs"), "num_threads": 1},
        "inference": {"output": str(tmp / "out.nc")},
    }
    path = tmp / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def test_hierarchy() -> None:
    for cls in (ConfigError, DataContractError, CheckpointError, OutputExistsError):
        assert issubclass(cls, UserError)
    assert issubclass(ConfigError, ValueError) and issubclass(CheckpointError, RuntimeError)


@pytest.mark.parametrize(("override", "expected"), [
    ("train.epochs", "expected key=value"),
    ("x=[1", "not valid YAML"),
    ("train.lr=inf", "train.lr"),
    ("train.lr=.nan", "train.lr"),
])
def test_bad_overrides_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], override: str,
                                    expected: str) -> None:
    cfg = _config(tmp_path, tmp_path / "data")
    status = _script("train_vel").main(["--config", str(cfg), "-o", override])
    assert status == 2 and expected in _one_line(capsys)


def test_missing_data_folder_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _config(tmp_path, tmp_path / "nowhere")
    assert _script("train_vel").main(["--config", str(cfg)]) == 2
    line = _one_line(capsys)
    assert "nowhere: data folder does not exist" in line and "geo_2001.nc" not in line


def test_symlink_loop_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    cfg = _config(tmp_path, loop)
    assert _script("train_vel").main(["--config", str(cfg)]) == 2
    assert "symbolic link" in _one_line(capsys)


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    cfg = _config(tmp_path, tmp_path / "nowhere")
    with pytest.raises(DataContractError):
        _script("train_vel").main(["--config", str(cfg), "--debug"])


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.ELOOP, errno.EACCES])
def test_os_errors_of_the_user_are_one_line(capsys: pytest.CaptureFixture[str], code: int) -> None:
    def body() -> int:
        raise OSError(code, os.strerror(code), "checkpoints/M_last.pth")

    assert report_user_errors("train_vel.py", body) == 2
    assert _one_line(capsys).startswith("train_vel.py: error: checkpoints/M_last.pth: ")


def test_a_bug_keeps_its_traceback() -> None:
    def body() -> int:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        report_user_errors("x", body)


def test_subcommands_report_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from oceane2e.cli import main

    assert main(["check", "--config", str(tmp_path / "missing.yaml")]) == 2
    assert "missing.yaml: config file not found" in _one_line(capsys)
    assert main(["evaluate", "--config", str(tmp_path / "missing.yaml"), "--results", str(tmp_path)]) == 2
    _one_line(capsys)


def test_read_only_data_folder_needs_no_stats_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import oceane2e.data.normalization as norm
    from oceane2e.data.config import DataConfig

    root = tmp_path / "data"
    write_tiny_folder(root, years=(2001, 2002, 2003), shape=(6, 8))
    real = norm.save_stats

    def read_only(path, *a, **k):  # noqa: ANN001, ANN202 - the data folder refuses writes (we run as root)
        if Path(path).parent == root:
            raise PermissionError(errno.EROFS, "Read-only file system", str(path))
        return real(path, *a, **k)

    monkeypatch.setattr(norm, "save_stats", read_only)
    cfg = DataConfig(root=root, train_years=[2001], val_years=[2002], test_years=[2003])
    stats = norm.ensure_stats(cfg, progress=False, cache_dir=tmp_path / "ckpt")
    assert not (root / "norm_stats.json").exists()
    cached = norm.cached_stats_path(root, tmp_path / "ckpt")
    assert cached.exists() and norm.load_stats(cached) == stats
    assert norm.ensure_stats(cfg, progress=False) == stats  # no cache folder: kept in memory, no error


# ----------------------------------------------------------------------------------------- item 3
def test_claim_outputs_refuses_then_says_what_it_replaces(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = tmp_path / "M_outputs.npy", tmp_path / "M_inputs.npy"
    assert claim_outputs([a, b], overwrite=False, what="M inference") == []
    a.write_bytes(b"earlier")
    with pytest.raises(OutputExistsError, match=r"M_outputs\.npy: already exists.*--overwrite"):
        claim_outputs([a, b], overwrite=False, what="M inference")
    assert claim_outputs([a, b], overwrite=True, what="M inference") == [a]
    assert "M inference: replacing" in capsys.readouterr().err and a.read_bytes() == b"earlier"


def test_an_output_map_reserves_its_disk_blocks(tmp_path: Path) -> None:
    """create_npy: the file's blocks are allocated at once (not a sparse file that a full disk turns into SIGBUS)."""
    import numpy as np

    from oceane2e.outputs import create_npy

    array = create_npy(tmp_path / "a.npy", (64, 256, 64))
    size = (tmp_path / "a.npy").stat().st_size
    assert size > 64 * 256 * 64 * 4 and (tmp_path / "a.npy").stat().st_blocks * 512 >= size  # before any write
    array[:] = 1.5
    array.flush()
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), 1.5)


def _no_room(fd: int, size: int) -> bool:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_an_output_that_does_not_fit_is_an_error_naming_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    import oceane2e.outputs as outputs
    from oceane2e.engine.distributed import DistInfo
    from oceane2e.engine.sharded import sharded_rows
    from oceane2e.outputs import DiskSpaceError, create_npy

    monkeypatch.setattr(outputs, "_reserve", _no_room)
    with pytest.raises(DiskSpaceError, match="MiB free") as err:
        create_npy(tmp_path / "big.npy", (1000, 1000))
    assert str(tmp_path / "big.npy") in str(err.value) and not (tmp_path / "big.npy").exists()
    # an inference's output arrays (sharded_rows): the error before any forecast is computed
    computed = []
    status = report_user_errors("inference", lambda: sharded_rows(
        4, {"outputs": (3, 5)}, lambda idx: computed.append(idx) or {"outputs": 0}, tmp_path / "parts",
        DistInfo(rank=0, world_size=1, local_rank=0)) and 0)
    line = capsys.readouterr().err
    assert status == 2 and not computed
    assert "outputs.npy" in line and "do not fit on its disk" in line and line.count("\n") == 1


def test_a_file_system_that_cannot_reserve_gets_the_map_as_before(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import oceane2e.outputs as outputs
    from oceane2e.outputs import create_npy

    monkeypatch.setattr(outputs, "_reserve", lambda fd, size: False)  # e.g. a file system without fallocate
    array = create_npy(tmp_path / "a.npy", (3, 4))
    array[:] = 2.0
    array.flush()
    assert (tmp_path / "a.npy").exists() and array.shape == (3, 4)


def _nearly_full(monkeypatch: pytest.MonkeyPatch, free: int) -> None:
    import shutil

    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**12, 10**12 - free, free))


@pytest.mark.parametrize("free_mib", [1, 10_000])
def test_a_failed_write_leaves_nothing_and_names_a_full_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            free_mib: int) -> None:
    """outputs.written: the earlier file stays, no temporary file is left; with the disk (nearly) full the library's
    own words (HDF5: "NetCDF: HDF error") become a DiskSpaceError naming the file, else the error is the library's."""
    from oceane2e.outputs import DiskSpaceError, written

    target = tmp_path / "skill.csv"
    target.write_text("earlier\n")
    _nearly_full(monkeypatch, free_mib * 2**20)
    expected = DiskSpaceError if free_mib < 64 else RuntimeError
    with pytest.raises(expected) as err, written(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("NetCDF: HDF error")
    assert target.read_text() == "earlier\n" and sorted(p.name for p in tmp_path.iterdir()) == ["skill.csv"]
    if expected is DiskSpaceError:
        assert str(target) in str(err.value) and "NetCDF: HDF error" in str(err.value) and "1.0 MiB free" in str(err.value)


def test_a_forecast_file_on_a_full_disk_is_one_line_and_leaves_nothing(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    from oceane2e.data.contract import GridCoords
    from oceane2e.data.forecast_files import _SampleWriter, write_forecast
    from oceane2e.errors import user_error_line
    from oceane2e.outputs import DiskSpaceError

    coords = GridCoords(lat=np.linspace(30.0, 31.0, 4), lon=np.linspace(-70.0, -69.0, 5))
    out = np.zeros((3, 2, 1, 4, 5), np.float32)
    time0 = np.datetime64("2009-01-01") + np.arange(3)
    _nearly_full(monkeypatch, 2**20)

    def no_room(self, start, arrays):  # noqa: ANN001, ANN202 - HDF5's report of a full disk
        raise RuntimeError("NetCDF: HDF error")

    monkeypatch.setattr(_SampleWriter, "_write", no_room)
    with pytest.raises(DiskSpaceError) as err:
        write_forecast(tmp_path / "M_forecast.nc", out, time0, coords, None, channels=("ssta",))
    assert "M_forecast.nc: could not be written" in user_error_line(err.value) and not list(tmp_path.iterdir())


_RANKS_SCRIPT = """
import sys
from pathlib import Path
import oceane2e.outputs as outputs
from oceane2e.engine.distributed import distributed_context
from oceane2e.engine.sharded import sharded_rows
from oceane2e.errors import user_error_line

def no_room(path, shape, dtype="float32"):
    raise outputs.DiskSpaceError(f"{path}: 1 MiB do not fit on its disk (0 MiB free)")

outputs_dir = Path(sys.argv[1])
with distributed_context() as info:
    import oceane2e.engine.sharded as sharded
    sharded.create_npy = no_room
    try:
        sharded_rows(4, {"outputs": (2,)}, lambda idx: {"outputs": 0}, outputs_dir / "parts", info)
    except Exception as err:
        (outputs_dir / f"rank{info.rank}.txt").write_text(user_error_line(err) or repr(err))
"""


def test_every_rank_hears_of_rank_0s_full_disk(tmp_path: Path) -> None:
    """Under torchrun, rank 0 failing to make the output arrays stops the other ranks too, with a message, instead of
    leaving them at the barrier until the collective's timeout."""
    import subprocess
    import sys

    script = tmp_path / "ranks.py"
    script.write_text(_RANKS_SCRIPT)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(script),
           str(tmp_path)]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "do not fit on its disk" in (tmp_path / "rank0.txt").read_text()
    assert "rank 0 could not make the output arrays" in (tmp_path / "rank1.txt").read_text()
    assert "do not fit on its disk" in (tmp_path / "rank1.txt").read_text()


def test_a_user_error_in_a_write_keeps_its_own_message_on_a_full_disk(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A user error (it names its file and fix) is not turned into a DiskSpaceError because the disk is nearly full."""
    from oceane2e.outputs import written

    _nearly_full(monkeypatch, 2**20)
    with pytest.raises(DataContractError, match="never written"), written(tmp_path / "x.nc"):
        raise DataContractError(f"{tmp_path / 'x.nc'}: 3 sample(s) never written")
    assert not list(tmp_path.iterdir())
