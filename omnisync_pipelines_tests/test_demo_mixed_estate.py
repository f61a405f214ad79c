"""`omnisync demo --pos lightspeed_x,lightspeed_r`: a retailer moving its stores from X-Series to
R-Series. Berlin and Hamburg trade on X-Series, Munich and London on R-Series; after the first day
Hamburg switches to its new R-Series tills (staff count every SKU into them), a second day is played,
and the demo must converge: commercetools holds what every store's tills say the two days left,
with no unit counted twice or lost across the switch and only the planted drift reported.

One demo run (about a minute and a half); the single-POS demo of each POS is `make demo` /
`omnisync demo --pos <id>`, whose flows the parametrised suites cover."""

import os

import duckdb
import pytest

from omnisync_pipelines import systems
from omnisync_pipelines.demo import run_demo

MIXED = ("lightspeed_x", "lightspeed_r")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    if not set(MIXED) <= set(systems.pos_ids()):
        pytest.skip(f"needs {' and '.join(MIXED)} registered")
    data = tmp_path_factory.mktemp("demo-mixed")
    saved = dict(os.environ)  # the demo exports its deployment's environment, as a shell would
    lines: list[str] = []
    try:
        code = run_demo(seed=7, fault_rate=0.0, data_dir=str(data), echo=lines.append, pos=MIXED)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return code, "\n".join(lines), data


def test_the_chain_moving_a_store_to_new_tills_converges(demo):
    code, output, _ = demo
    assert "store switch: hamburg moves from lightspeed_x to lightspeed_r" in output
    assert code == 0, output[-3000:]
    assert "demo finished: converged" in output


def test_after_the_switch_hamburg_is_counted_by_its_new_tills_and_no_count_is_rejected(demo):
    _, _, data = demo
    with duckdb.connect(str(data / "omnisync.duckdb"), read_only=True) as con:
        systems_of = dict(con.execute("SELECT location_key, any_value(pos_system) FROM reconciliation.stock "
                                      "GROUP BY location_key").fetchall())
        count_rejections = con.execute("SELECT count(*) FROM ops.rejected WHERE status = 'open' "
                                       "AND flow LIKE 'snapshot/%/stock'").fetchone()[0]
    assert systems_of == {"berlin": "lightspeed_x", "hamburg": "lightspeed_r", "munich": "lightspeed_r",
                          "london": "lightspeed_r"}
    # hamburg's counts at the tills it left are not rejected (nor its new tills' before it moved)
    assert count_rejections == 0
