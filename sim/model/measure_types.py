"""The measure types: one table that the validator, the compiler, the appendix and compare read.

A measure type says which fields a measure of that type needs, which engine edit it becomes
(DESIGN.md section 3), how it is named in Chinese and English, which Chinese words in a plan
mean it, its default category, and the sentence that explains its arithmetic in an appendix.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.core import engine

__all__ = ["MEASURE_TYPES", "TYPE_IDS", "MeasureType", "engine_code", "type_label"]


@dataclass(frozen=True)
class MeasureType:
    """One row of the table."""

    id: str
    engine_code: int
    zh: str
    en: str
    #: Chinese words a plan uses for the type (accepted in a scenario's ``type:``)
    aliases: tuple[str, ...]
    #: fields a measure of this type must give; a tuple inside means "one of these"
    required: tuple[str | tuple[str, ...], ...]
    #: default category (中文) when the measure and its pool's sector say nothing
    category: str
    method_zh: str
    method_en: str


MEASURE_TYPES: dict[str, MeasureType] = {t.id: t for t in (
    MeasureType(
        "retire", engine.RETIRE, "淘汰关停", "retirement", ("淘汰", "退出", "关停", "取缔", "拆除", "淘汰关停"),
        ("quantity",), "产业结构",
        "淘汰关停：A_k 减少 q × s[m,y]（s 为当年累计完成比例 × 完成率）；有替代源类时，替代源类增加 q × s × 折算系数。",
        "Retirement: A_k falls by q × s[m,y] (s = cumulative share done × completion); a replacement pool gains q × s × conversion."),
    MeasureType(
        "switch", engine.SWITCH, "能源替代", "fuel switch", ("替代", "改造", "替换", "转换", "煤改气", "煤改电", "双替代", "能源替代"),
        ("quantity", "to"), "能源结构",
        "能源替代：A_k 减少 q × s[m,y]，接收源类增加 q × s × 折算系数（按热值与效率的能量当量折算）。",
        "Fuel switch: A_k falls by q × s[m,y]; the receiving pool gains q × s × conversion (energy-equivalent)."),
    MeasureType(
        "control", engine.CONTROL, "末端治理", "add-on control", ("治理", "控制", "末端治理", "深度治理", "超低排放", "脱硝", "除尘"),
        (("quantity", "share"), "efficiency"), "工业治理",
        "末端治理：覆盖比例 c = q × s / A_k，覆盖部分的 (1 − η) 变为 (1 − η)(1 − η_m)。",
        "Add-on control: covered share c = q × s / A_k; on it (1 − η) becomes (1 − η)(1 − η_m)."),
    MeasureType(
        "standard", engine.STANDARD, "排放标准提升", "emission standard", ("标准", "排放标准", "执行标准", "提标", "排放限值", "排放标准提升"),
        (("quantity", "share"), "ef"), "工业治理",
        "排放标准提升：覆盖部分的排放系数由 EF_k 降为 EF_new（仅当新标准更严时），d = 1 − EF_new / EF_k。",
        "Emission standard: on the covered share the factor falls from EF_k to EF_new (only where stricter), d = 1 − EF_new / EF_k."),
    MeasureType(
        "treat", engine.TREAT, "污水治理", "treatment", ("处理", "污水处理", "水处理", "治污", "资源化利用", "污水治理"),
        ("quantity", ("removal", "c_in")), "水",
        "污水治理：削减负荷 R = 水量 × 负荷系数 × 天数 × (C_in − C_out) × 10⁻⁶ 吨/年（或按单位去除量），不超过该源类排放量。",
        "Treatment: load removed R = flow × load factor × days × (C_in − C_out) × 10⁻⁶ t/a (or a removal per unit), never more than the pool emits."),
)}

TYPE_IDS: tuple[str, ...] = tuple(MEASURE_TYPES)


def engine_code(type_id: str) -> int:
    """The engine's integer code of a measure type."""
    return MEASURE_TYPES[type_id].engine_code


def type_label(type_id: str, lang: str = "zh") -> str:
    """The type's display name in *lang* (the id itself when unknown)."""
    t = MEASURE_TYPES.get(type_id)
    if t is None:
        return type_id
    return t.zh if lang == "zh" else t.en
