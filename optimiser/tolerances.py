"""Numerical tolerances shared by every engine in `optimiser/` (clearing, dispatch, advice).

One definition each, so that "is this award zero?" or "is this stage held?" gets the same
answer in the model, the extraction, the reasons and the checks. The values follow HiGHS's
own defaults: an engine may not demand more precision than the solver delivers.
"""

from __future__ import annotations

# A MW (or MWh) value below this is solver noise: snapped to 0 when results are read, and
# the margin under which a capacity counts as used up when reasons are assigned.
MW_EPS = 1e-6
# Comparisons of exact arithmetic (bounds, prices, savings) that must not flip on float noise.
NUM_EPS = 1e-9
# A lexicographic stage is held at (1 + STAGE_REL_TOL) times its optimum, plus STAGE_ABS_TOL
# (HiGHS's primal feasibility tolerance; needed when a stage reaches 0).
STAGE_REL_TOL = 1e-6
STAGE_ABS_TOL = 1e-7
# Slack per held column: a value read off a tolerance-feasible solution must stay feasible.
HOLD_COLUMN_TOL = 1e-6
# HiGHS's default mip_abs_gap, used when a stage's gap is judged.
MIP_ABS_GAP = 1e-6
