"""Load this folder's helpers under names of their own (tests/optimiser has a `checker` of
the clearing): `dispatch_checker`, `dispatch_cases`."""

import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).parent
for name, file in (("dispatch_checker", "checker.py"), ("dispatch_cases", "cases.py"),
                   ("dispatch_oracle", "oracle.py")):
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, HERE / file)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
