"""Pollutant ids (ASCII) with their Chinese and English display names and media."""

from __future__ import annotations

__all__ = ["MEDIUM", "NAMES_EN", "NAMES_ZH", "POLLUTANTS", "canonical_pollutant", "display"]

POLLUTANTS: tuple[str, ...] = (
    "COD", "NH3N", "TN", "TP", "SO2", "NOx", "VOCs", "PM", "PM10", "PM25", "NH3", "CO2",
)
NAMES_ZH = {
    "COD": "化学需氧量", "NH3N": "氨氮", "TN": "总氮", "TP": "总磷", "SO2": "二氧化硫",
    "NOx": "氮氧化物", "VOCs": "挥发性有机物", "PM": "颗粒物", "PM10": "PM10",
    "PM25": "PM2.5", "NH3": "氨", "CO2": "二氧化碳",
}
NAMES_EN = {
    "COD": "COD", "NH3N": "NH3-N", "TN": "TN", "TP": "TP", "SO2": "SO2", "NOx": "NOx",
    "VOCs": "VOCs", "PM": "PM (total)", "PM10": "PM10", "PM25": "PM2.5", "NH3": "NH3", "CO2": "CO2",
}
MEDIUM = {p: ("water" if p in ("COD", "NH3N", "TN", "TP") else "air") for p in POLLUTANTS}

_ALIASES: dict[str, str] = {p.lower(): p for p in POLLUTANTS}
_ALIASES.update({
    "nh3-n": "NH3N", "nh3_n": "NH3N", "氨氮": "NH3N", "化学需氧量": "COD",
    "pm2.5": "PM25", "pm2_5": "PM25", "细颗粒物": "PM25", "可吸入颗粒物": "PM10",
    "颗粒物": "PM", "烟尘": "PM", "tsp": "PM", "so₂": "SO2", "二氧化硫": "SO2",
    "nox": "NOx", "氮氧化物": "NOx", "voc": "VOCs", "vocs": "VOCs", "挥发性有机物": "VOCs",
    "nmhc": "VOCs", "总氮": "TN", "总磷": "TP", "co2": "CO2", "二氧化碳": "CO2", "氨": "NH3",
})


def canonical_pollutant(name: str) -> str | None:
    """The pollutant id for *name* (``'NH3-N'``, ``'氨氮'``, ``'pm2.5'``), or None if unknown."""
    return _ALIASES.get(str(name).strip().lower())


def display(p: str, lang: str = "zh") -> str:
    """Display name of pollutant id *p* in *lang*."""
    return (NAMES_ZH if lang == "zh" else NAMES_EN).get(p, p)
