"""Convergence under faults, as a property: whatever the trading day and whatever the faults, once
the sync has run until quiescent nothing is lost and nothing is doubled.

Hypothesis draws a trading day (the world generator's seed and size: sales in every tender,
returns of in-store and online purchases, adjustments, a transfer, a delivery, click-and-collect
and ship-from-store orders, an offline window whose sales arrive late) and a fault schedule per
emulator (5xx, 429/503 bursts with Retry-After, dropped connections that may or may not have
applied the write, 409 stale versions, truncated JSON bodies, an outage window at the start),
then runs real Dagster `delta_sync`/`full_sync` runs under those faults, clears them, and runs
`delta_sync` until a run succeeds with nothing left `retrying`. Then, read from the emulators:
stock converged per SKU x location (or differs by exactly what the negative-stock policy
reported); every POS sale is one commercetools order; every return is recorded, restocked and
refunded once; every online order is set aside at the till once; every source record is applied
or rejected with a reason.

The sandbox is shared across examples (days accumulate, so later examples also re-check earlier
days' records). Profiles (env `OMNISYNC_RELIABILITY_PROFILE`): `ci` (default, 2 examples, no
shrinking, derandomized so CI runs the same two) and `long` (25 random examples);
`OMNISYNC_RELIABILITY_EXAMPLES=N` overrides the count; see docs/reliability.md. Figures are printed at the end and
written (section `convergence`) to the JSON file `$OMNISYNC_RELIABILITY_FIGURES` names, when set. How long a
run takes is not asserted: it depends on the machine's load, not on omnisync.
"""

import os
import time

import dagster as dg
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from omnisync_pipelines.sandbox.faults import FaultPlan
from omnisync_pipelines_tests.reliability.harness import SANDBOX_POS, Figures, Rig, write_figures
from omnisync_pipelines_tests.reliability.invariants import check

settings.register_profile(
    "reliability-ci", max_examples=2, deadline=None, database=None, phases=(Phase.explicit, Phase.generate),
    suppress_health_check=list(HealthCheck), derandomize=True,
)
settings.register_profile(
    "reliability-long", max_examples=25, deadline=None, database=None, phases=(Phase.explicit, Phase.generate),
    suppress_health_check=list(HealthCheck),
)
PROFILE = settings.get_profile(f"reliability-{os.environ.get('OMNISYNC_RELIABILITY_PROFILE', 'ci')}")
if os.environ.get("OMNISYNC_RELIABILITY_EXAMPLES"):  # e.g. a long run of a chosen size
    PROFILE = settings(PROFILE, max_examples=int(os.environ["OMNISYNC_RELIABILITY_EXAMPLES"]))
FIGURES = Figures()

rates = st.sampled_from((0.02, 0.05, 0.1))


@st.composite
def fault_plans(draw) -> FaultPlan:
    return FaultPlan(
        error_rate=draw(rates), throttle_rate=draw(rates), drop_rate=draw(rates), conflict_rate=draw(rates),
        truncate_rate=draw(rates), throttle_burst=draw(st.integers(0, 4)), retry_after_s=0.05,
        seed=draw(st.integers(0, 2**16)),
    )


schedules = st.fixed_dictionaries({
    "day_seed": st.integers(0, 10_000),
    "sales_per_store": st.integers(3, 6),  # the day returns 3 of its sales,
    "commercetools": fault_plans(),
    "pos": fault_plans(),
    "outage_s": st.sampled_from((0.0, 0.0, 0.5, 1.5)),
    "faulty_runs": st.sampled_from(("delta_sync", "full_sync", "delta_sync delta_sync")),
})


# fixtures ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module", params=SANDBOX_POS)
def rig(tmp_path_factory, request):
    started = time.monotonic()
    with Rig(tmp_path_factory.mktemp(f"convergence-{request.param}"), pos=request.param) as box, \
            dg.instance_for_test() as instance:  # one Dagster instance per POS's sandbox
        box.instance = instance
        box.sync_until_quiescent("full_sync", instance)
        yield box
    print(f"\nreliability figures: {FIGURES.line()}")
    write_figures("convergence", {**FIGURES.__dict__, "faults": dict(FIGURES.faults),
                                  "profile": os.environ.get("OMNISYNC_RELIABILITY_PROFILE", "ci"),
                                  "examples": PROFILE.max_examples, "seconds": round(time.monotonic() - started)})


# tests ---------------------------------------------------------------------------------------------
@settings(PROFILE)
@given(schedule=schedules)
def test_any_trading_day_under_any_faults_converges_without_loss_or_doubling(rig, schedule):
    instance = rig.instance
    day = rig.play(schedule["day_seed"], schedule["sales_per_store"])
    injected_before = rig.injected()
    calls_before = len(rig.ops.table_frame("api_calls"))

    rig.set_faults(schedule["commercetools"], schedule["pos"])
    if schedule["outage_s"]:
        rig.ct.faults.outage(schedule["outage_s"])
    outcomes = []
    try:
        for job in schedule["faulty_runs"].split():
            outcomes.append(rig.sync(job, instance))
    finally:
        rig.set_faults(None, None)
    outcomes += rig.sync_until_quiescent("delta_sync", instance)
    found = check(rig)

    FIGURES.days += 1
    FIGURES.sales += sum(1 for e in day.events if type(e).__name__ == "Sale")
    FIGURES.returns += sum(1 for e in day.events if type(e).__name__ == "StoreReturn")
    FIGURES.runs += len(outcomes)
    FIGURES.failed_runs += sum(not o.success for o in outcomes)
    FIGURES.faults.update(rig.injected() - injected_before)
    FIGURES.api_calls += len(rig.ops.table_frame("api_calls")) - calls_before
    FIGURES.lost += len(found.lost) + len(found.wrong_stock)
    FIGURES.duplicated += len(found.duplicated)
    assert found.clean, f"{found}\nschedule {schedule}\nruns {[o.summary() for o in outcomes]}"
