"""Explorer benchmark: for every example scenario, the page's size, time to an answering page and
per ``set()`` in headless Chromium, and how far its numbers are from the Python engine.

For each example: the run, its page (with the embedded font), then *n* random settings of every
control, each driven through ``window.ersimExplorer`` and compared with ``evaluate_rows`` (the
sweep's kernel) and ``attribute_sequential`` at the same parameter row. Margins are compared
relative to max(|required|, |achieved|); reductions by measure relative to the pollutant's
baseline total.

Run: python benchmarks/bench_explore.py [--settings 10] [--seed 0]   (needs chromium on PATH)
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

import sim
from sim.analyses.sweep import evaluate_rows
from sim.core import engine
from sim.evaluation.evaluate import target_specs
from sim.reports.explore import explore_data, render_html

REPO = Path(__file__).resolve().parents[1]
HARNESS = """<script>
(function () {
  var E = window.ersimExplorer, steps = %s, out = [], slowest = 0;
  steps.forEach(function (s) {
    E.reset();
    s.forEach(function (kv) { var t = performance.now(); E.set(kv[0], kv[1]); slowest = Math.max(slowest, performance.now() - t); });
    out.push({targets: E.targets(), reductions: E.reductions()});
  });
  var pre = document.createElement("pre"); pre.id = "out";
  pre.textContent = JSON.stringify({steps: out, ready: E.readyMs, slowest: slowest}); document.body.appendChild(pre);
})();
</script>"""


def drive(chromium: str, page: str, steps: list[list[list[Any]]], tmp: Path) -> dict[str, Any]:
    f = tmp / "page.html"
    f.write_text(page.replace("</body>", HARNESS % json.dumps(steps) + "</body>"), encoding="utf-8")
    proc = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp / 'profile'}",
                           "--dump-dom", f.as_uri()], capture_output=True, text=True, timeout=300, check=False)
    m = re.search(r'<pre id="out">(.*?)</pre>', proc.stdout, re.S)
    if not m:
        raise SystemExit(f"no answer from the page: {proc.stderr[-1000:]}")
    return json.loads(html.unescape(m.group(1)))


def reference(model: Any, data: dict[str, Any], sets: list[list[Any]]) -> tuple[np.ndarray, ...]:
    col = {n: i for i, n in enumerate(model.param_names)}
    x = model.param_matrix(n=1)
    specs = target_specs(model)
    values = np.array([[t.value for t in specs]])
    ctl = {c["path"]: c for c in data["controls"]}
    for path, v in sets:
        c = ctl[path]
        if c["group"] == "targets":
            values[0, c["target"]] = v
        elif c["group"] == "measures":
            x[0, col[("qty:" if c["field"] == "quantity" else c["field"] + ":") + c["measure"]]] = v * c.get("scale", 1.0)
        elif c["group"] == "coefficients":
            x[0, col["coef:" + c["key"]]] = v
        else:
            x[0, col["growth:" + model.pools[c["pool"]]]] = v
    base, _, req, ach = evaluate_rows(model, x, values if specs else None)
    return req[0], ach[0], engine.attribute_sequential(model.inputs_from_matrix(x)), base[0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--settings", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        raise SystemExit("needs chromium (apt-get install chromium)")
    rng = np.random.default_rng(args.seed)
    refs = [*sorted(p.name for p in (REPO / "scenarios").glob("*.yaml")), "ankang-2025-variants.yaml#strong"]
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        os.environ["ERSIM_OUTPUTS"] = str(tmp / "outputs")
        print(f"{'scenario':34} {'page kB':>8} {'ready ms':>9} {'set ms':>7} {'margin rel':>11} {'reduction rel':>14}")
        for ref in refs:
            res = sim.run(REPO / "scenarios" / ref)
            sim.save_run(res)
            data = explore_data(res)
            page = render_html(res)
            steps: list[list[list[Any]]] = [[]]
            for _ in range(args.settings):
                steps.append([[c["path"], float(c["value"] * rng.uniform(0.5, 1.5)) if c["group"] == "targets"
                               else float(rng.uniform(c["min"], c["max"]))] for c in data["controls"]])
            out = drive(chromium, page, steps, tmp)
            worst_m = worst_r = 0.0
            for sets, got in zip(steps, out["steps"], strict=True):
                req, ach, red, base = reference(res.model, data, sets)
                for t, r, a in zip(got["targets"], req, ach, strict=True):
                    worst_m = max(worst_m, abs(t["margin"] - (a - r)) / max(abs(r), abs(a), 1e-12))
                if res.model.measures:
                    g = np.array([got["reductions"][m] for m in res.model.measures])
                    worst_r = max(worst_r, float(np.max(np.abs(g - red) / np.maximum(np.abs(base), 1e-12)[None])))
            print(f"{ref:34} {len(page.encode()) / 1000:8.0f} {out['ready']:9.0f} {out['slowest']:7.1f} {worst_m:11.1e} {worst_r:14.1e}")


if __name__ == "__main__":
    main()
