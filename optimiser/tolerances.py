"""Numerical tolerances shared by every engine in `optimiser/` (clearing, dispatch, advice).

One definition each, so that "is this award zero?" or "is this stage held?" gets the same
answer in the model, the extraction, the reasons and the checks. The values follow HiGHS's
own defaults: an engine may not demand more precision than the solver delivers.
"""

from __future__ import annotations

# A MW (or MWh) value below this is solver noise: snapped to 0 when results are read, and
# the margin under which a capacity counts as used up when reasons are assigned.
MW_EPS = 1e-6
# Comparisons of exact arithmetic (bounds, prices, savings) that must not flip on float noise;
# also the floor of a relative gap's denominator.
NUM_EPS = 1e-9
# A lexicographic stage is held at (1 + STAGE_REL_TOL) times its optimum, plus STAGE_ABS_TOL
# (HiGHS's primal feasibility tolerance; needed when a stage reaches 0).
STAGE_REL_TOL = 1e-6
STAGE_ABS_TOL = 1e-7
# Slack per held column: a value read off a tolerance-feasible solution must stay feasible.
HOLD_COLUMN_TOL = 1e-6
# HiGHS's default mip_abs_gap, used when a stage's gap is judged.
MIP_ABS_GAP = 1e-6
# HiGHS's primal feasibility tolerance: a solution built here (a start, a repaired incumbent)
# is feasible when every bound and row holds within it, as HiGHS itself would accept it.
PRIMAL_FEAS_TOL = 1e-7
# HiGHS's MIP feasibility tolerance: an incumbent read back from a MIP holds its rows and
# integrality only within this, so checks of solver output use it, not PRIMAL_FEAS_TOL.
MIP_FEAS_TOL = 1e-6
# A cost per MW/h counts as above a marginal cost (a dual) only beyond this margin: duals are
# solver output and carry its noise.
PRICE_EPS = 1e-6
# A column-generation master column's coefficient below this is the round-off of summing a
# component's entries, not supply: dropped so that the master stays sparse.
COEF_EPS = 1e-12
# The pyomo backend computes its own relative gap, |primal - bound| / max(|primal|, this).
# It differs from NUM_EPS (the decomposition's floor) because it was written so; the two only
# disagree for objectives below 1e-9 in absolute value, and keeping it keeps results equal.
PYOMO_GAP_FLOOR = 1e-10
