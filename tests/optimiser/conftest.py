"""Make the optimiser test helpers (checker, opt_helpers) importable."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
