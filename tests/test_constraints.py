"""constraints.txt pins one release of every package make install puts in, inside the ranges the code declares."""

from __future__ import annotations

from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the requirements files alone
    tomllib = None  # type: ignore[assignment]

REPO = Path(__file__).resolve().parents[1]


def _lines(path: Path) -> list[str]:
    out = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            out.append(line)
    return out


def test_every_declared_requirement_is_pinned_inside_its_range() -> None:
    pins: dict[str, str] = {}
    for line in _lines(REPO / "constraints.txt"):
        req = Requirement(line)
        spec = list(req.specifier)
        assert len(spec) == 1 and spec[0].operator == "==", f"constraints.txt: {line!r} is not an exact pin"
        name = canonicalize_name(req.name)
        assert name not in pins, f"constraints.txt pins {req.name} twice"
        pins[name] = spec[0].version
    declared = _lines(REPO / "requirements.txt") + _lines(REPO / "requirements-dev.txt")
    assert len(declared) >= 18
    if tomllib is not None:
        project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
        declared += project["dependencies"] + project["optional-dependencies"]["dev"]
    for line in declared:
        req = Requirement(line)
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is required but not pinned in constraints.txt: run 'make lock'"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"constraints.txt pins {req.name}=={pins[name]}, outside {req.specifier}: run 'make lock'")
