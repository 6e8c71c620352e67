"""What a scenario says about its plan beyond measures and targets: the period it credits, the
assumptions that decide a verdict, and the plan's targets and measures it does not evaluate.

The scenario states them (``period``, ``assumptions``, ``out_of_scope``); this module checks them,
writes them into the run's manifest and gives the lines the terminal and the appendix print, so
that they reach every reader of a run and not only the reader of the YAML.
"""

from __future__ import annotations

from typing import Any

__all__ = ["check_scope", "scope_lines", "scope_manifest"]


def check_scope(scen: Any) -> list[str]:
    """Warnings: an assumption that names an unknown target."""
    ids = {t.id for t in scen.targets}
    out = []
    for a in getattr(scen, "assumptions", []) or []:
        for tid in a.decides:
            if tid not in ids:
                out.append(f"假设“{a.text[:40]}…”所称决定的目标 {tid!r} 不在本情景中 "
                           f"(an assumption says it decides target {tid!r}, which the scenario does not have)")
    return out


def scope_manifest(scen: Any) -> dict[str, Any]:
    """The manifest entries (plain JSON)."""
    return {
        "period": getattr(scen, "period", None),
        "assumptions": [a.model_dump(exclude_none=True) for a in getattr(scen, "assumptions", []) or []],
        "out_of_scope": [o.model_dump(exclude_none=True) for o in getattr(scen, "out_of_scope", []) or []],
    }


def scope_lines(man: dict[str, Any], lang: str = "zh") -> dict[str, list[str]]:
    """Text for the terminal and the appendix, from a manifest: period, assumptions, out of scope."""
    zh = lang == "zh"
    period = man.get("period")
    out: dict[str, list[str]] = {"period": [str(period)] if period else [], "assumptions": [], "out_of_scope": []}
    for a in man.get("assumptions") or []:
        text = str(a.get("text", ""))
        decides = a.get("decides") or []
        if decides:
            text += (f"（决定目标 {', '.join(decides)} 的结论）" if zh else f" (decides target {', '.join(decides)})")
        if a.get("source"):
            text += (f"；依据：{a['source']}" if zh else f"; basis: {a['source']}")
        out["assumptions"].append(text)
    for o in man.get("out_of_scope") or []:
        kind = o.get("kind", "target")
        label = ("目标" if kind == "target" else "措施") if zh else kind
        text = f"[{label}] {o.get('item', '')} — {o.get('reason', '')}"
        if o.get("source"):
            text += f"（{o['source']}）" if zh else f" ({o['source']})"
        out["out_of_scope"].append(text)
    return out
