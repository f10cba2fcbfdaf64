"""Paste the current ``bench/accuracy.py --report`` tables into docs/benchmarks.md and README.md.

Why: the per-suite tables list every results file (a column per tag); a new results file leaves the pasted copies
stale. Each copy sits between markers, ``<!-- accuracy.py --report: SUITE (begin) -->`` ... ``(end) -->`` for a
suite's whole report (docs/benchmarks.md) and ``<!-- accuracy.py --report: SUITE settings (begin) -->`` for its
"| setting | experiments | our mean test AUROC ..." table alone (README.md). Nothing outside the markers changes.

    python bench/refresh_tables.py            # rewrite both files
    python bench/refresh_tables.py --check    # exit 1 when a pasted table differs from the report
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

TARGETS = (REPO / "docs" / "benchmarks.md", REPO / "README.md")
MARKED = re.compile(
    r"(<!-- accuracy\.py --report: (\w+)((?: settings)?) \(begin\) -->\n)(.*?)(<!-- accuracy\.py --report: \2\3 \(end\) -->)",
    re.S,
)


def report_sections(report: str) -> dict[str, str]:
    """``### suite`` sections of the report, each without its heading and surrounding blank lines."""
    parts = re.split(r"^### (\w+)\n", report, flags=re.M)
    return {parts[i]: parts[i + 1].strip("\n") + "\n" for i in range(1, len(parts) - 1, 2)}


def settings_table(section: str) -> str:
    """The section's "| setting | experiments | our mean test AUROC" table: its header, rule and rows."""
    lines = section.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| setting | experiments |"))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return "\n".join(lines[start:end]) + "\n"


def refreshed(text: str, sections: dict[str, str]) -> str:
    def paste(match: re.Match) -> str:
        begin, suite, settings, _, end = match.groups()
        if suite not in sections:
            return match.group(0)  # no results of that suite here: leave the copy as it is
        body = settings_table(sections[suite]) if settings else sections[suite]
        return begin + body + end

    return MARKED.sub(paste, text)


def main(argv: list[str] | None = None) -> int:
    import accuracy

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only say whether the pasted tables are current")
    args = parser.parse_args(argv)
    sections = report_sections(accuracy.report(accuracy.RESULTS))
    stale = []
    for path in TARGETS:
        text = path.read_text(encoding="utf-8")
        new = refreshed(text, sections)
        if new != text:
            stale.append(path)
            if not args.check:
                path.write_text(new, encoding="utf-8")
    verb = "stale" if args.check else "rewritten"
    print(", ".join(f"{p.relative_to(REPO)} {verb}" for p in stale) or "tables current")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
