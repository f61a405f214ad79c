"""Bad input: every malformed record of the corpus (corpus.py, and the POS's corpus_<pos>.py) is rejected with a reason that
names the record and the field; the well-formed records of the same batch are applied; the run
does not crash; nothing is half-written for a rejected record.

The corpus is written raw into the emulators beside one well-formed trading day, then one real
`delta_sync` runs, with reads answering truncated JSON now and then (the faults middleware cuts
bodies short): those are retried, not rejected and not crashed on. The figures (tried, rejected
naming record and field, known gaps) are printed and written (section `bad_input`) to the JSON
file `$OMNISYNC_RELIABILITY_FIGURES` names, when set.
"""

import dagster as dg
import pytest

from omnisync_pipelines import systems
from omnisync_pipelines.sandbox.faults import FaultPlan
from omnisync_pipelines_tests.reliability import corpus
from omnisync_pipelines_tests.reliability.harness import SANDBOX_POS, Rig, write_figures
from omnisync_pipelines_tests.reliability.invariants import check


# fixtures ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module", params=SANDBOX_POS)
def outcome(tmp_path_factory, request):
    pos = request.param
    corpus.POISONED.clear()  # what an earlier POS's corpus spoilt (one worker runs every POS's module in turn)
    corpus.AT_RISK.clear()
    cases = corpus.cases(pos)
    with Rig(tmp_path_factory.mktemp(f"bad_input-{pos}"), pos=pos) as rig, dg.instance_for_test() as instance:
        rig.sync_until_quiescent("full_sync", instance)
        rig.play(seed=41, sales_per_store=4)
        ct_before = rig.ct_inventory()
        with corpus.raw_writes(rig):
            injected = {case.name: case.inject(rig) for case in cases}
            oversold = corpus.oversold_count(rig)
        rig.set_faults(FaultPlan(truncate_rate=0.2, budget=3, seed=1), FaultPlan(truncate_rate=0.2, budget=3, seed=2))
        run = rig.sync("delta_sync", instance)
        truncated = rig.injected()
        rig.set_faults(None, None)
        runs = [run] + [rig.sync("delta_sync", instance) for _ in range(0 if run.success else 2)]
        skip = corpus.POISONED | known_damage(cases) | {oversold}
        result = {"rig": rig, "cases": cases, "injected": injected, "oversold": oversold, "runs": runs, "truncated": truncated,
                 "ct_before": ct_before, "rejected": rig.ops.rejected_frame(), "findings": check(rig, skip_stock=skip)}
        yield result
    named = [c.name for c in cases if not problem(result, c)]
    figures = {"tried": len(cases), "rejected_naming_record_and_field": len(named),
               "not_rejected": sorted(c.name for c in cases if c.name not in named),
               "known_gaps": sorted(c.name for c in cases if c.known_gap),
               "rejected_as": {c.name: rejected_as(result, c) for c in cases},
               "truncated_reads_retried": sum(truncated.values()), "first_run_succeeded": runs[0].success}
    print(f"\nbad inputs tried {figures['tried']}, rejected naming record and field {len(named)}, "
          f"not rejected {figures['not_rejected']}")
    write_figures("bad_input" if pos == systems.DEFAULT_POS else f"bad_input_{pos}", figures)


def known_damage(cases: list[corpus.Case]) -> set[tuple[str, str]]:
    """Stock the records of known gaps move (not rejected yet, they are applied): checked by their xfails."""
    return {key for case in cases if case.known_gap for key in corpus.AT_RISK.get(case.name, ())}


def rejected_as(outcome: dict, case: corpus.Case) -> list[str]:
    ref = outcome["injected"][case.name][0]
    rejected = outcome["rejected"]
    return [f"{r.field}: {r.reason[:160]}" for r in rejected[rejected["record_ref"] == ref].itertuples()]


def problem(outcome: dict, case: corpus.Case) -> str | None:
    """Why the case's record was not rejected naming the record and the field (None: it was)."""
    ref, field_word = outcome["injected"][case.name]
    rejected = outcome["rejected"]
    mine = rejected[rejected["record_ref"] == ref]
    if not len(mine):
        return f"{case.name}: {ref} not in the rejected table; refs there: {sorted(set(rejected['record_ref']))[:40]}"
    described = " ".join(f"{r.field} {r.reason}" for r in mine.itertuples()).lower()
    if field_word not in described:
        return f"{case.name}: the rejection does not name {field_word!r}: {mine[['field', 'reason']].to_dict('records')}"
    if any(len(r.reason) >= 2_000 for r in mine.itertuples()):
        return f"{case.name}: a reason of {max(len(r.reason) for r in mine.itertuples())} characters, not a reason"
    return None


# tests ---------------------------------------------------------------------------------------------
def test_the_run_with_the_whole_corpus_does_not_crash(outcome):
    first = outcome["runs"][0]
    assert first.success, first.summary()
    assert sum(outcome["truncated"].values()) == 6  # the truncated reads were retried inside the same run


def test_each_bad_record_is_rejected_naming_the_record_and_field(outcome):
    """Every case of the POS's corpus and the commercetools one; a known gap must still be one (its
    record is not rejected yet), so that fixing it is noticed. One test per POS: parametrising per case
    would set the whole rig up again for every case (an indirect parameter is cached by its index)."""
    cases = outcome["cases"]
    problems = [found for case in cases if not case.known_gap and (found := problem(outcome, case))]
    fixed_gaps = [case.name for case in cases if case.known_gap and problem(outcome, case) is None]
    assert not problems, "\n".join(problems)
    assert not fixed_gaps, f"known gaps now rejected (drop their known_gap): {fixed_gaps}"


def test_nothing_of_a_rejected_record_was_written(outcome):
    rig, injected = outcome["rig"], outcome["injected"]
    refs = {ref for case in outcome["cases"] if not case.known_gap for ref in [injected[case.name][0]]}
    imported = {((o.get("custom") or {}).get("fields") or {}).get("posSaleId") for o in rig.ct_orders()}
    assert not refs & imported, "a rejected sale or return became a commercetools order"
    ct_ids = {o["id"] for o in rig.ct_orders() if o.get("orderNumber") in refs}
    set_aside = {s["order_id"] for s in rig.probe.sales()}
    assert not ct_ids & set_aside, "a rejected online order was set aside at a till"
    now = rig.ct_inventory()
    assert {k: now[k] for k in corpus.POISONED} == {k: outcome["ct_before"][k] for k in corpus.POISONED}
    emails = {c.get("email") for c in rig.ct.store.all("customer")}
    assert not emails & {"not-an-email", "ann\u200b@example.com"}


def test_the_well_formed_rest_of_the_batch_is_applied(outcome):
    found = outcome["findings"]
    assert found.clean, str(found)


def test_an_oversold_till_count_is_not_bad_input(outcome):
    """A till may sell past zero: a count of -2 is the store's real count, synced as it is (the
    negative-stock policy, allow_negative_and_report here, decides what commercetools does), never rejected."""
    sku, store = outcome["oversold"]
    rejected = outcome["rejected"]
    assert f"{sku}@{store}" not in set(rejected["record_ref"]), rejected[rejected["record_ref"].str.startswith(sku)]
    assert outcome["rig"].ct_inventory()[(sku, store)] == -2  # synced: a rejected count would not have been
