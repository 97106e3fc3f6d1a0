"""Print one of the README's Quickstart commands (``demo`` or ``test``) so CI runs exactly what the README says."""

from __future__ import annotations

import re
import sys
from pathlib import Path

text = Path(__file__).resolve().parent.parent.joinpath("README.md").read_text(encoding="utf-8")
block = re.search(r"<!-- quickstart -->\s*```(?:bash|sh|console)?\n(.*?)```", text, re.S)
if block is None:
    sys.exit("README.md has no <!-- quickstart --> code block")
lines = [line.strip() for line in block.group(1).splitlines() if line.strip()]
if len(lines) != 2:
    sys.exit(f"the Quickstart block must hold exactly two commands, found {len(lines)}")
print(lines[{"demo": 0, "test": 1}[sys.argv[1]]])
