"""Compare a pyiceberg suite run (JUnit XML) with the failures we expect; exit 1 on any difference.

Usage: python tests/conformance/compare.py RESULTS.xml EXPECTED.txt

EXPECTED.txt holds one pattern of a test id per line, ``*`` matching anything (``test_file.py::test_name[params]``),
then ``#`` and the reason; blank lines and lines starting with ``#`` are ignored. A failure no
pattern matches is an error, and so is a pattern that matches no failure (the test passes now:
take it out of the list and out of docs/conformance.md).
"""

from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def results(xml_path: Path) -> dict[str, str]:
    """Test id -> outcome (passed, failed, skipped) of every test case in a JUnit XML file."""
    out: dict[str, str] = {}
    for case in ET.parse(xml_path).getroot().iter("testcase"):
        module = case.get("classname", "").split(".")
        file_part = next((m for m in module if m.startswith("test_")), module[-1]) + ".py"
        cls = [m for m in module[module.index(file_part[:-3]) + 1 :]] if file_part[:-3] in module else []
        test_id = "::".join([file_part, *cls, case.get("name", "")])
        outcome = "passed"
        if case.find("failure") is not None or case.find("error") is not None:
            outcome = "failed"
        elif case.find("skipped") is not None:
            outcome = "skipped"
        out[test_id] = outcome
    return out


def matches(test_id: str, pattern: str) -> bool:
    """Whether ``test_id`` matches ``pattern``, where only ``*`` is special (test ids are full of brackets)."""
    return re.fullmatch(".*".join(re.escape(part) for part in pattern.split("*")), test_id) is not None


def expected(path: Path) -> list[tuple[str, str]]:
    """(pattern, reason) of every expected failure."""
    found = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        pattern, _, reason = line.partition("#")
        found.append((pattern.strip(), reason.strip()))
    return found


def main(argv: list[str]) -> int:
    outcomes = results(Path(argv[1]))
    patterns = expected(Path(argv[2]))
    failed = sorted(t for t, o in outcomes.items() if o == "failed")
    unexpected = [t for t in failed if not any(matches(t, p) for p, _ in patterns)]
    stale = [p for p, _ in patterns if not any(matches(t, p) for t in failed)]
    counts = {o: sum(1 for v in outcomes.values() if v == o) for o in ("passed", "failed", "skipped")}
    print(
        f"pyiceberg suite: {len(outcomes)} tests, {counts['passed']} passed, {counts['failed']} failed "
        f"({len(failed) - len(unexpected)} expected), {counts['skipped']} skipped"
    )
    for t in unexpected:
        print(f"UNEXPECTED FAILURE: {t}")
    for p in stale:
        print(f"EXPECTED FAILURE DID NOT FAIL (remove it from {argv[2]} and docs/conformance.md): {p}")
    return 1 if unexpected or stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
