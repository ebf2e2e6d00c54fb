"""The upper bounds ("caps") of pyproject.toml's dependencies, for `make test-next`.

    python tools/caps.py uncapped pyproject.toml > requirements   every dependency and extra, caps removed
    python tools/caps.py report pyproject.toml [results.xml]      what is installed past its cap, and what failed

The report reads pytest's JUnit XML (`--junit-xml`) to list the failed tests by file.
"""

from __future__ import annotations

import sys
from collections import Counter
from importlib import metadata
from pathlib import Path
from xml.etree import ElementTree

import tomllib
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

UPPER = ("<", "<=", "==", "~=")


def requirements(pyproject: Path) -> list[Requirement]:
    """Every dependency of the project and of all its extras."""
    project = tomllib.loads(pyproject.read_text())["project"]
    extras = project.get("optional-dependencies", {}).values()
    return [Requirement(line) for line in [*project["dependencies"], *(d for group in extras for d in group)]]


def uncapped(requirement: Requirement) -> str:
    """`requirement` with its upper bounds removed: the newest release is allowed."""
    kept = SpecifierSet(",".join(str(s) for s in requirement.specifier if s.operator not in UPPER))
    return f"{requirement.name}{kept}"


def past_caps(pyproject: Path) -> list[str]:
    """'name version (cap)' for each installed dependency whose version its range in pyproject.toml excludes."""
    found = []
    for requirement in requirements(pyproject):
        try:
            version = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            continue
        if not requirement.specifier.contains(version, prereleases=True):
            found.append(f"{requirement.name} {version} (allowed: {requirement.specifier})")
    return found


def failures(results: Path) -> list[str]:
    """The failed and erroring tests of a JUnit XML file, as 'module::test'."""
    cases = ElementTree.parse(results).getroot().iter("testcase")
    bad = [case for case in cases if case.find("failure") is not None or case.find("error") is not None]
    return [f"{case.get('classname')}::{case.get('name')}" for case in bad]


def report(pyproject: Path, results: Path | None) -> None:
    moved = past_caps(pyproject)
    print(f"past their caps in {pyproject}: " + (", ".join(moved) if moved else "none"))
    if results is None or not results.is_file():
        return
    failed = failures(results)
    by_module = Counter(name.split("::")[0] for name in failed)
    print(f"failed: {len(failed)} test(s)" + "".join(f"\n  {name}: {n}" for name, n in sorted(by_module.items())))


def main(argv: list[str]) -> None:
    if len(argv) < 2 or argv[0] not in ("uncapped", "report"):
        sys.exit(__doc__)
    pyproject = Path(argv[1])
    if argv[0] == "uncapped":
        print("\n".join(uncapped(r) for r in requirements(pyproject)))
    else:
        report(pyproject, Path(argv[2]) if len(argv) > 2 else None)


if __name__ == "__main__":
    main(sys.argv[1:])
