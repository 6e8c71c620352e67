"""The what-if explorer: one self-contained HTML page written from a run, live margins in the browser.

``ersim explore RUN`` embeds what the engine needs (pools, measures, the coefficient expressions
behind every factor, derived coefficients as formula trees, targets) and a JavaScript port of
the engine's deterministic arithmetic (``templates/explore.js``: activity edits, treatment,
controls multiplying on their shares, sequential attribution, targets and the PM2.5 linear
response). Moving a slider re-evaluates the scenario in the page; the numbers equal
``ersim sweep --set`` at the same settings. No network: script, styles, font and data are inline.

Units: emissions and reductions in t/a, target margins in t (µg/m³ for concentration targets).
"""

from __future__ import annotations

import ast
import base64
import json
import os
import secrets
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from sim.core import engine
from sim.core.errors import InputError, Problem
from sim.core.pollutants import NAMES_ZH
from sim.core.units import Q_, parse_quantity, parse_unit, ureg
from sim.evaluation.evaluate import Result, target_specs
from sim.model.coefficients import Library
from sim.model.feasibility import status

__all__ = ["GENERATOR", "LANGS", "explore_data", "formula_tree", "render_html", "write_explore"]

LANGS = ("zh", "en")
#: marks a page ersim wrote (``--out`` overwrites only such a file)
GENERATOR = "ersim explore"
_TEMPLATES = "templates"

Tree = list[Any]


# ---- derived coefficients as formula trees --------------------------------------------------

def formula_tree(library: Library, key: str, base: dict[str, int]) -> Tree:
    """*key*'s value (in its table unit) as a tree over base keys, with pint's unit conversions.

    Nodes: ``["n", c]`` number, ``["p", col]`` parameter column *col* (a base key),
    ``["+"|"-"|"*"|"/", a, b]``, ``["neg", a]``, ``["s", factor, a]`` (a times a unit factor).
    Evaluated with float64 in the same order as :meth:`Library.evaluate` (up to rounding of
    the unit factors).
    """
    c = library[key]
    if c.formula is None:
        return ["p", base[key]]
    tree, unit = _trace(library, ast.parse(c.formula, mode="eval").body, base)
    factor = float(Q_(1.0, unit).to(parse_unit(c.unit)).magnitude)
    return tree if factor == 1.0 else ["s", factor, tree]


def _trace(library: Library, node: ast.AST, base: dict[str, int]) -> tuple[Tree, Any]:
    """(tree, pint unit) of a formula node; additions convert the right operand to the left's unit."""
    if isinstance(node, ast.Constant):
        return ["n", float(node.value)], None  # type: ignore[arg-type]  # the formula parser admits numbers only
    if isinstance(node, ast.Name):
        return formula_tree(library, node.id, base), parse_unit(library[node.id].unit)
    if isinstance(node, ast.UnaryOp):
        t, u = _trace(library, node.operand, base)
        return (["neg", t] if isinstance(node.op, ast.USub) else t), u
    if isinstance(node, ast.BinOp):
        a, ua = _trace(library, node.left, base)
        b, ub = _trace(library, node.right, base)
        if isinstance(node.op, (ast.Mult, ast.Div)):
            op = "*" if isinstance(node.op, ast.Mult) else "/"
            if ua is None and ub is None:
                return [op, a, b], None
            one = ureg.dimensionless
            unit = (ua or one) * (ub or one) if op == "*" else (ua or one) / (ub or one)
            return [op, a, b], unit
        op = "+" if isinstance(node.op, ast.Add) else "-"
        if ua is None and ub is None:
            return [op, a, b], None
        if ua is None or ub is None:  # a plain number with a quantity: both dimensionless
            q, uq = (b, ub) if ua is None else (a, ua)
            f = float(Q_(1.0, uq).to(ureg.dimensionless).magnitude)
            q = q if f == 1.0 else ["s", f, q]
            return ([op, a, q] if ua is None else [op, q, b]), ureg.dimensionless
        f = float(Q_(1.0, ub).to(ua).magnitude)
        return [op, a, b if f == 1.0 else ["s", f, b]], ua
    raise ValueError(f"unsupported formula element {ast.dump(node)}")


def eval_tree(tree: Tree, x: np.ndarray) -> float:
    """The value of a formula tree for the parameter row *x* (the page does the same in JavaScript)."""
    op = tree[0]
    if op == "n":
        return float(tree[1])
    if op == "p":
        return float(x[tree[1]])
    if op == "neg":
        return -eval_tree(tree[1], x)
    if op == "s":
        return eval_tree(tree[2], x) * float(tree[1])
    a, b = eval_tree(tree[1], x), eval_tree(tree[2], x)
    return {"+": a + b, "-": a - b, "*": a * b, "/": a / b if b else float("nan")}[op]


# ---- the page's data ------------------------------------------------------------------------

def _num(v: float) -> float | None:
    return float(v) if np.isfinite(v) else None


def _quantity_unit(text: str) -> tuple[float, str]:
    q = parse_quantity(text)
    return float(q.magnitude), (f"{q.units:~}" if not q.unitless else "")


def explore_data(result: Result, lang: str = "zh") -> dict[str, Any]:
    """Everything the page needs, JSON-ready: model arrays, expressions, controls, the run's numbers."""
    from sim.store.record import scenario_document

    model = result.model
    scen = model.scenario
    names = model.param_names
    col = {n: i for i, n in enumerate(names)}
    lib = model.library
    base_cols = {n[5:]: i for n, i in col.items() if n.startswith("coef:")}
    keys = [{"key": k, "tree": formula_tree(lib, k, base_cols)} for k in model.keys_used]
    terms = [[s, float(t.coef), [[model.keys_used.index(k), int(e)] for k, e in t.keys.items()]] for s, t in model.terms]
    slots = []
    for name in model.slots:
        prefix, _, rest = name.partition("[")
        parts = [int(v) for v in rest.rstrip("]").split(",")]
        slots.append([prefix, parts[0], parts[1] if len(parts) > 1 else 0])
    inp = model.inputs()
    comps = [[ms.tolist(), pools.tolist()] for ms, pools in engine.components(inp)]
    params = [{"name": n, "value": p.value, "low": p.low, "high": p.high, "unit": p.unit, "label": p.label}
              for n, p in model.params.items()]

    measures = []
    controls: list[dict[str, Any]] = []
    for j, m in enumerate(scen.measures):
        entry: dict[str, Any] = {
            "id": m.id, "name": m.name or m.id, "type": m.type, "kind": int(model.kind[j]),
            "src": int(model.src[j]), "tgt": int(model.tgt[j]), "qty": _num(model.qty[j]),
            "credit": model.credit[j].tolist(), "completion": col[f"completion:{m.id}"],
            "share": col.get(f"share:{m.id}"), "qty_param": col.get(f"qty:{m.id}"),
        }
        measures.append(entry)
        p = model.params[f"completion:{m.id}"]
        controls.append({"path": f"measures.{m.id}.completion", "group": "measures", "measure": m.id, "field": "completion",
                         "min": 0.0, "max": 1.0, "value": p.value, "unit": "%", "fraction": True, "low": p.low, "high": p.high})
        if m.quantity is not None:
            q0, unit = _quantity_unit(m.quantity)
            top = model.potential.get(j, 0.0)
            top = top if top > q0 else 2.0 * q0
            entry.update(qty_central=q0, qty_unit=unit, qty_scale=1.0 / q0 if q0 else 0.0)
            controls.append({"path": f"measures.{m.id}.quantity", "group": "measures", "measure": m.id, "field": "quantity",
                             "min": 0.0, "max": top, "value": q0, "unit": unit, "scale": entry["qty_scale"]})
        elif f"share:{m.id}" in col:
            shp = model.params[f"share:{m.id}"]
            controls.append({"path": f"measures.{m.id}.share", "group": "measures", "measure": m.id, "field": "share",
                             "min": 0.0, "max": 1.0, "value": shp.value, "unit": "%", "fraction": True, "low": shp.low, "high": shp.high})
    for n, p in model.params.items():
        if n.startswith("coef:") and p.uncertain:
            c = lib[n[5:]]
            controls.append({"path": f"coefficients.{n[5:]}", "group": "coefficients", "min": p.low, "max": p.high,
                             "value": p.value, "unit": p.unit, "label": (c.description_zh if lang == "zh" else c.description_en) or n[5:],
                             "key": n[5:], "source": c.source})
    for k, pid in enumerate(model.pools):
        p = model.params[f"growth:{pid}"]
        if p.uncertain:
            controls.append({"path": f"growth.{pid}", "group": "growth", "pool": k, "min": p.low, "max": p.high,
                             "value": p.value, "unit": "%/a", "fraction": True})
    specs = target_specs(model)
    ds = result.dataset
    targets = []
    s = scen.settings
    for i, (t, sp) in enumerate(zip(scen.targets, specs, strict=True)):
        req, ach, margin = (float(ds[v].values[i]) for v in ("required", "achieved", "margin"))
        unit = {"reduction_percent": "", "concentration": "ug/m**3"}.get(t.kind, "t")
        targets.append({"id": t.id, "name": t.name or t.id, "kind": t.kind, "pollutant": t.pollutant, "year": t.year,
                        "p": sp.p, "y": sp.y, "ref": sp.ref, "value": sp.value, "text": t.value,
                        "unit": "µg/m³" if t.kind == "concentration" else "t", "value_unit": unit,
                        "precursors": [list(pr) for pr in sp.precursors],
                        "run": {"required": req, "achieved": ach, "margin": margin,
                                # the central status (a run with samples states P(met) besides)
                                "status": status(margin, req, None, s.at_risk_margin, s.met_probability, s.at_risk_probability)}})
        controls.append({"path": f"targets.{t.id}.value", "group": "targets", "target": i, "value": sp.value,
                         "unit": "%" if t.kind == "reduction_percent" else ("µg/m³" if t.kind == "concentration" else "t"),
                         "fraction": t.kind == "reduction_percent",
                         "min": 0.0, "max": None})
    doc = scenario_document(scen)["scenario"]
    # the saved scenario runs wherever it is put: a response table of its own is named bare, to sit beside it
    needs = []
    air = doc.get("air_quality") or {}
    if air.get("response"):
        needs.append(Path(str(air["response"])).name)
        air["response"] = needs[-1]
    return {
        "generator": GENERATOR,
        "lang": lang,
        "run_id": result.run_id,
        "scenario": {"name": scen.name, "id": scen.slug, "region": scen.region, "base_year": scen.base_year,
                     "doc": doc, "needs": needs},
        "pools": [{"id": pid, "name": model.pool_names[k], "unit": model.pool_units[k], "activity0": float(model.activity0[k]),
                   "growth": col[f"growth:{pid}"]} for k, pid in enumerate(model.pools)],
        "pollutants": [{"id": p, "name": NAMES_ZH.get(p, p) if lang == "zh" else p} for p in model.pollutants],
        "years": list(model.years),
        "offset": [float(y - scen.base_year) for y in model.years],
        "measures": measures,
        "params": params,
        "keys": keys,
        "terms": terms,
        "slots": slots,
        "components": comps,
        "targets": targets,
        "air": {n[4:]: i for n, i in col.items() if n.startswith("air:")},
        "settings": {"at_risk_margin": s.at_risk_margin},
        "controls": controls,
        "run": {"reduction": ds["reduction"].values.tolist(), "emissions_total": ds["emissions_total"].values.tolist(),
                "baseline_total": ds["baseline_total"].values.tolist()},
    }


# ---- the page -------------------------------------------------------------------------------

def _template(name: str) -> str:
    return (resources.files("sim.reports") / _TEMPLATES / name).read_text(encoding="utf-8")


def _font_face(text: str) -> str:
    """An @font-face with the CJK font subset to the page's characters (WOFF, base64), or ''."""
    return _font_face_for("".join(sorted({ch for ch in text if ord(ch) > 126})))


@lru_cache(maxsize=8)
def _font_face_for(text: str) -> str:
    try:
        from fontTools import subset
        from fontTools.ttLib import TTFont
    except ImportError:  # pragma: no cover - fontTools comes with matplotlib
        return ""
    chars = {ord(ch) for ch in text if ord(ch) > 32} | set(range(32, 127)) | {ord(c) for c in "µ³²·—–‰％（）：，、。≥≤±−×"}
    try:
        src = resources.files("mplfonts") / "fonts" / "NotoSansCJKsc-Regular.otf"
        with resources.as_file(src) as path:
            font = TTFont(str(path), lazy=True)
            opts = subset.Options()
            opts.flavor = "woff"
            opts.layout_features = ["*"]
            opts.name_IDs = ["*"]
            opts.notdef_outline = True
            sub = subset.Subsetter(opts)
            sub.populate(unicodes=sorted(chars))
            sub.subset(font)
            import io

            buf = io.BytesIO()
            font.flavor = "woff"
            font.save(buf)
    except Exception:  # no font: the page falls back to the system's CJK fonts
        return ""
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return ("@font-face{font-family:'ersim-cjk';font-style:normal;font-weight:400;"
            f"src:url(data:font/woff;base64,{data}) format('woff');}}")


def render_html(result: Result, lang: str = "zh", embed_font: bool = True) -> str:
    """The explorer page of *result* as one HTML document (no external resources).

    *embed_font* subsets the CJK font to the page's characters (about 100 kB; a second or two);
    without it the page uses the system's CJK fonts.
    """
    import jinja2

    if lang not in LANGS:
        raise InputError(Problem(f"unknown language {lang!r}; valid: {', '.join(LANGS)}"))
    data = explore_data(result, lang)
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    payload = payload.replace("</", "<\\/")  # never close the script element early
    script = _template("explore.js").replace("</", "<\\/")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    tmpl = env.from_string(_template("explore.html.j2"))
    title = (f"{result.scenario.name}：情景推演" if lang == "zh" else f"{result.scenario.name}: what-if explorer")
    page = tmpl.render(lang=lang, title=title, generator=GENERATOR, run_id=result.run_id or "",
                       data=jinja2.utils.markupsafe.Markup(payload), script=jinja2.utils.markupsafe.Markup(script),
                       font_face="@@FONT@@")
    face = _font_face(page + _UI_CHARS) if embed_font else ""
    return page.replace("@@FONT@@", face, 1)


# characters the script writes at run time (labels in both languages are in the script itself)
_UI_CHARS = "0123456789.,+-−%()（）：:达标风险未有变化"


def _is_ours(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            head = fh.read(4096).decode("utf-8", "replace")
    except OSError:
        return False
    return f'<meta name="generator" content="{GENERATOR}">' in head


def write_explore(run: Any, out: str | Path | None = None, lang: str = "zh") -> Path:
    """Write the explorer page of *run* (a Result, run folder, id, id prefix or scenario id).

    Default: ``outputs/<scenario>/explore-<id>/explore.html`` through the one output writer.
    *out* names an HTML file: refused (nothing written) when it exists and ersim did not write it.
    """
    if lang not in LANGS:
        raise InputError(Problem(f"unknown language {lang!r}; valid: {', '.join(LANGS)}"))
    if isinstance(run, Result):
        result = run
        if result.folder is None:
            from sim.store.runs import save_run

            save_run(result)
    else:
        from sim.store.runs import open_run

        result = open_run(run)
    if out is not None:
        target = Path(out)
        if target.is_dir() or (target.exists() and not _is_ours(target)):
            raise InputError(Problem("refusing to overwrite a file ersim did not write; name a new .html file with --out", str(target)))
        if target.suffix.lower() not in (".html", ".htm"):
            raise InputError(Problem(f"--out names the page's file, ending in .html; got {target.name!r}", str(target)))
    html = render_html(result, lang)
    if out is not None:
        target = Path(out)
        tmp = target.parent / f".tmp-{target.name}-{secrets.token_hex(4)}"
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(html, encoding="utf-8")
            os.replace(tmp, target)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise InputError(Problem(f"could not write the page: {exc.strerror or exc}; nothing was written", str(target))) from None
        return target
    from sim.store.folders import OutputFolder, write_output

    def write(folder: OutputFolder) -> None:
        (folder / "explore.html").write_text(html, encoding="utf-8")

    scen = result.scenario
    man = {"run_id": result.run_id, "run_folder": str(result.folder), "scenario": scen.name, "scenario_id": scen.slug,
           "lang": lang, "files": ["explore.html"]}
    return write_output("explore", scen.slug, write, man) / "explore.html"

