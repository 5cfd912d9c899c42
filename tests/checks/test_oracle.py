"""The oracle is independent of the product, and the product's judge agrees with it on generated runs.

Independence is checked on the oracle's source: it imports only the standard library and itself, and no
string of the product's judging modules appears in it. Agreement: Hypothesis writes whole runs (promise,
timeline with gaps and stalls, samples of every outcome, steps, expected tiers) on grids that hit band, window
and target edges exactly; the product's :func:`~ingestbench.checks.judge.judge_run` and the oracle judge each,
and every structured outcome must match.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from hypothesis import given

from ingestbench.checks.judge import judge_run
from tests.checks import reference_judge, reference_records
from tests.checks.oracle_compare import assert_agrees
from tests.checks.run_strategies import PROPERTY, T0, Run, product_inputs, runs

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
ORACLE = sorted(HERE.glob("reference_*.py"))
PRODUCT = [ROOT / "ingestbench/checks" / f"{m}.py" for m in
           ("judge", "placement", "tiering", "rate_tiering", "tier_verdict", "quantiles", "comparator")] + \
          [ROOT / "ingestbench/records" / f"{m}.py" for m in ("verdicts", "samples", "samples_cache", "timeline",
                                                                "observation", "slo", "slo_file")]
OWN = {f"tests.checks.{p.stem}" for p in ORACLE}


def imported(tree: ast.AST) -> list[str]:
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names.append("." * node.level + (node.module or ""))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name | ast.Attribute):
            called = node.func.id if isinstance(node.func, ast.Name) else node.func.attr
            if called in ("__import__", "import_module"):
                names.append(f"<dynamic {called}>")
    return names


def test_the_oracle_imports_only_the_standard_library_and_itself() -> None:
    assert {p.stem for p in ORACLE} == {"reference_judge", "reference_quantiles", "reference_records",
                                        "reference_tiering"}
    for path in ORACLE:
        for name in imported(ast.parse(path.read_text(encoding="utf-8"))):
            top = name.split(".")[0]
            assert name in OWN or (top and top in sys.stdlib_module_names), f"{path.name} imports {name}"


def test_the_oracle_imports_no_product_module_even_indirectly() -> None:
    """Checked on the import as well as on the source: loading the oracle leaves the product unimported."""
    code = ("import sys; import tests.checks.reference_judge; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('ingestbench', 'checks', 'records', 'numpy')]; "
            "print(bad); raise SystemExit(1 if bad else 0)")
    import subprocess

    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def strings(tree: ast.AST) -> set[str]:
    return {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def test_the_oracle_shares_no_text_with_the_product() -> None:
    """No string of the oracle longer than a name (a sentence, a format) is one of the product's judging
    modules' strings or a part of one."""
    product = "\n".join(s for p in PRODUCT for s in strings(ast.parse(p.read_text(encoding="utf-8"))))
    for path in ORACLE:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docs = {ast.get_docstring(n, clean=False) for n in ast.walk(tree)
                if isinstance(n, ast.Module | ast.ClassDef | ast.FunctionDef)}
        for text in strings(tree) - docs:
            if len(text) >= 16:
                assert text not in product, f"{path.name} shares {text!r} with the product"


def judge_both(run: Run) -> tuple[object, reference_judge.RunOutcome]:
    product = judge_run(**product_inputs(run))
    points, steps = reference_records.rates_of(run.rate_rows)
    oracle = reference_judge.judge(run.samples, reference_records.promise_of(run.doc, scale=run.scale),
                                   points=points, declared=run.declared, steps=steps, problems=run.problems,
                                   expected=run.expected)
    return product, oracle


@PROPERTY
@given(run=runs())
def test_the_judge_agrees_with_the_oracle(run: Run) -> None:
    product, oracle = judge_both(run)
    assert_agrees(product, oracle)  # type: ignore[arg-type]


def test_a_stall_reaching_back_past_the_one_before_it() -> None:
    """A second stalled by 2.5 s reaches back past the stalled second before it (lagging 0.08 s): sends in
    that reach are in the stall window, not steady."""
    rows = [{"type": "second", "unix_s": T0 + t, "achieved_eps": 2000.0, "target_eps": 2000.0,
             "stalled": t in (20, 21), "lag_p99_s": {20: 0.08, 21: 2.5}.get(t, 0.001)} for t in range(1, 40)]
    doc = {"tier": [{"name": "high", "path": "analytical", "at_least_eps": 1000, "target_s": 3}]}
    samples = [{"canary_id": f"c{i}", "path": "analytical", "outcome": "available", "sent_ns": at * 10**8,
                "sent_unix_ms": round(T0 * 1000) + at * 100, "seen_ns": at * 10**8 + 10**8}
               for i, at in enumerate(range(160, 200, 2))]
    run = Run(doc, 0.1, rows, samples)
    product, oracle = judge_both(run)
    assert_agrees(product, oracle)  # type: ignore[arg-type]
    windows = {cid: w for (_, cid), (_, w, _, _) in oracle.placed.items()}
    # the reach is 17.5 s to 21 s, and the 0.3 s target before it: 17.0 s is steady, 17.4 s in the stall
    assert (windows["c5"], windows["c7"], windows["c14"]) == ("steady", "stall", "stall")
