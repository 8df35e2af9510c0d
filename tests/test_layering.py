"""The import direction of the library (DESIGN.md §8, docs/dev/INTERFACES.md "Layout").

physics <- models <- engine/stages; the data package knows no models; the MHW detection knows no
data package; nothing in the library imports the top-level scripts or the test helpers. The rules
are checked on the source (every ``import`` statement, also those inside functions), and the
checker itself is shown to fail on a deliberately wrong import.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = ("train_vel", "inference_vel", "train_online", "inference", "train_baseline", "inference_baseline",
           "train_assim", "assimilate", "inference_ens", "dataloader", "dataloader_vel", "evaluate")
MODELS = ("model_baselines",)
ENGINE = ("oceane2e.engine", "oceane2e.stage1", "oceane2e.stage2", "oceane2e.stages", "oceane2e.pipeline",
          "oceane2e.entry", "oceane2e.ensemble", "oceane2e.stage_da")
EVALUATION = ("oceane2e.evaluation",)
#: the data package's I/O, which models never touch (they may read its names: contract, info)
DATA_IO = ("datasets", "forecast_files", "normalization", "check", "synthetic", "converters", "observations")

#: (package prefix, forbidden import prefixes, why)
RULES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("oceane2e.physics", (*MODELS, "oceane2e.data", *ENGINE, *EVALUATION, "oceane2e.mhw"),
     "the kernel is pure physics: it imports neither models, data nor the engine"),
    ("oceane2e.dates", ("oceane2e.data", "oceane2e.mhw", *MODELS, *ENGINE), "calendar helpers sit below data and mhw"),
    ("oceane2e.assim", (*MODELS, *ENGINE, *EVALUATION), "the classical analysis needs no model or engine"),
    ("oceane2e.data", (*MODELS, *ENGINE, *EVALUATION, "oceane2e.physics", "oceane2e.assim"),
     "data knows no models, engine or evaluation"),
    ("oceane2e.mhw", ("oceane2e.data", *MODELS, *ENGINE, *EVALUATION), "MHW detection works on arrays only"),
    ("model_baselines", (*ENGINE, *EVALUATION, *(f"oceane2e.data.{m}" for m in DATA_IO)),
     "models know physics and the data's names (contract, DataInfo), not the engine or the files"),
    ("oceane2e.engine", (*MODELS, "oceane2e.stage1", "oceane2e.stage2", "oceane2e.stages", "oceane2e.stage_da",
                         *EVALUATION),
     "the engine is generic: it knows no model"),
)


def module_name(path: Path, root: Path) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def imported_modules(path: Path, name: str) -> list[tuple[int, str]]:
    """Every module ``path`` imports (absolute names, relative imports resolved), with line numbers."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join([*base, node.module] if node.module else base)
            else:
                mod = node.module or ""
            found.append((node.lineno, mod))
            found += [(node.lineno, f"{mod}.{alias.name}") for alias in node.names]
    return found


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def layering_violations(root: Path) -> list[str]:
    """Lines that break :data:`RULES`, the script rule or the test-helper rule, under ``root``."""
    bad: dict[tuple[str, int, str], str] = {}  # one entry per file, line and rule
    files = [*sorted((root / "oceane2e").rglob("*.py")), *sorted((root / "model_baselines").rglob("*.py"))]
    for path in files:
        name = module_name(path, root)
        rel = str(path.relative_to(root))
        for line, mod in imported_modules(path, name):
            whys = []
            if mod.split(".")[0] in SCRIPTS:
                whys.append("the library never imports a top-level script")
            if _under(mod, "oceane2e.testing") and not _under(name, "oceane2e.testing"):
                whys.append("oceane2e.testing is for tests and benchmarks only")
            whys += [why for package, forbidden, why in RULES
                     if _under(name, package) and any(_under(mod, f) for f in forbidden)]
            for why in whys:
                bad.setdefault((rel, line, why), f"{rel}:{line} imports {mod}: {why}")
    return sorted(bad.values())


def test_the_library_keeps_its_import_direction() -> None:
    assert layering_violations(REPO) == []


@pytest.mark.parametrize(
    ("module", "line", "expected"),
    [
        ("oceane2e/physics/bad.py", "from model_baselines import build_model\n", "pure physics"),
        ("oceane2e/physics/bad.py", "def f():\n    from oceane2e.data.contract import GridCoords\n", "pure physics"),
        ("oceane2e/data/bad.py", "from ..engine import trainer\n", "data knows no models"),
        ("oceane2e/mhw/bad.py", "import oceane2e.data.contract\n", "arrays only"),
        ("oceane2e/evaluation/bad.py", "import inference\n", "top-level script"),
        ("oceane2e/data/bad.py", "from oceane2e.testing.folders import write_tiny_folder\n", "tests and benchmarks"),
        ("oceane2e/engine/bad.py", "from oceane2e.stage2 import train\n", "generic"),
        ("model_baselines/bad.py", "from oceane2e.data.datasets import DataFolder\n", "not the engine or the files"),
    ],
)
def test_a_wrong_import_is_caught(tmp_path: Path, module: str, line: str, expected: str) -> None:
    bad = tmp_path / module
    bad.parent.mkdir(parents=True)
    (tmp_path / "oceane2e").mkdir(exist_ok=True)
    (tmp_path / "oceane2e" / "__init__.py").write_text("")
    bad.write_text(line)
    found = layering_violations(tmp_path)
    assert len(found) == 1 and expected in found[0], found
