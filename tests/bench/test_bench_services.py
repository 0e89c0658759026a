"""Services on a 1,000-scenario batch: extra time over the cohort batch alone (printed ratio).

Service users are extra indicator columns of the batch kernel (population x coverage weights),
so the services cost is measured as the batch with age groups + users against age groups only,
plus turning users into staff and cost (a [S, Y, K] multiply).
"""

from __future__ import annotations

import time

import numpy as np
from bench_timing import best_of

from sim.cohort.engine import project_batch
from sim.config import scenario_from_dict
from sim.demography import age_group_weights
from sim.inputs import resolve
from sim.services import coverage_weights, default_catalogue


def test_services_overhead_on_batch():
    inputs = resolve(scenario_from_dict({"municipality": "3222", "horizon": 2054}))
    catalogue = default_catalogue("3222")
    groups = age_group_weights()
    users = coverage_weights(catalogue)
    both = np.concatenate([groups, users], axis=2)
    unit_cost = np.array([s.unit_cost_nok for s in catalogue.services.values()])
    staff = np.array([s.staff_per_user for s in catalogue.services.values()])
    rng = np.random.default_rng(7)
    mult = {"fertility": rng.uniform(0.8, 1.2, (1000, 30)),
            "in_migrants": rng.uniform(0.5, 1.5, (1000, 30))}
    project_batch(inputs, {k: v[:2] for k, v in mult.items()}, both)

    def cohort_only():
        project_batch(inputs, mult, groups)

    def with_services():
        out = project_batch(inputs, mult, both)
        u = out[..., groups.shape[2]:]
        return u * unit_cost, u * staff

    t0, t1 = best_of(cohort_only, 9), best_of(with_services, 9)
    print(f"\n[services] 1000 scenarios x 30 years, {users.shape[2]} services: cohort batch "
          f"{t0 * 1e3:.0f} ms, with services {t1 * 1e3:.0f} ms -> services add "
          f"{(t1 / t0 - 1) * 100:.0f} % (target <= 20 %)")


def test_services_overhead_in_sweep(tmp_path):
    """End to end: the 1,000-scenario sweep with and without the service indicators."""
    from pathlib import Path

    from experiments.sweep import sweep

    sweeps = Path(__file__).resolve().parents[2] / "experiments" / "sweeps"
    text = (f'name = "1000 scenarios"\nseed = 1\n[base]\n'
            f'extends = "{sweeps.parent / "scenarios" / "lorenskog_main.toml"}"\n'
            'horizon = 2054\n[design]\nmethod = "lhs"\nsamples = 1000\n'
            '[axes."fertility.tfr"]\nrange = [1.2, 1.9]\n'
            '[axes."migration.in_multiplier"]\nrange = [0.8, 1.2]\n')
    variants = {
        "population only": '[outputs]\nindicators = ["population", "age_groups"]\n',
        "with services": '[outputs]\nindicators = ["population", "age_groups", "users", '
                         '"staff", "cost", "demografikostnader"]\n',
    }
    times = {}
    for name, outputs in variants.items():
        path = tmp_path / f"{name.replace(' ', '_')}.toml"
        path.write_text(text + outputs, encoding="utf-8")
        sweep(path, tmp_path / f"warm_{len(times)}", workers=1, progress=False)
        t = time.perf_counter()
        sweep(path, tmp_path / f"run_{len(times)}", workers=1, progress=False)
        times[name] = time.perf_counter() - t
    a, b = times["population only"], times["with services"]
    print(f"\n[services] sweep 1000 x 30 y end to end (in-process): population only {a:.2f} s, "
          f"with services {b:.2f} s -> services add {(b / a - 1) * 100:.0f} % (target <= 20 %)")
