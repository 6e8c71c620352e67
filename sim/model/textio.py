"""Reading the text files a planner hands over: size limits, encodings, CSV records with lines.

Every input file (scenario YAML, inventory CSV, coefficient tables, PM2.5 response) goes through
:func:`read_source` and :func:`decode`, so that an empty, binary, oversized, UTF-16 or
mis-encoded file fails the same way everywhere: an InputError that names the file and, where
one exists, the line and the encoding.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

from sim.core.errors import InputError, Problem

__all__ = ["csv_records", "decode", "is_file", "near_file", "overlong_rows", "read_source", "table_rows"]

_BOMS = (
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"),
    (b"\xfe\xff", "UTF-16"),
)
_MAGIC = (
    (b"PK\x03\x04", "a zip archive (an xlsx workbook?)"),
    (b"\xd0\xcf\x11\xe0", "an old Excel/Office file (.xls)"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
)
_NAMES = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "gb18030": "GBK/GB18030", "gbk": "GBK"}


def read_source(path: str | Path, what: str, limit: int) -> bytes:
    """The bytes of *path*; InputError if it is missing, unreadable or larger than *limit*."""
    p = Path(path)
    name = str(path)
    try:
        if not p.is_file():
            raise InputError(Problem(f"{what} not found{near_file(p)}", name))
        size = p.stat().st_size
        if size > limit:
            raise InputError(Problem(f"{what} is {size / 2**20:.1f} MiB; at most {limit / 2**20:.0f} MiB is accepted", name))
        return p.read_bytes()
    except OSError as exc:
        raise InputError(Problem(f"cannot read {what}: {exc.strerror or exc}", name)) from None


def is_file(p: Path) -> bool:
    """``Path.is_file`` that says False for names the system cannot even look up (too long, NUL)."""
    try:
        return p.is_file()
    except (OSError, ValueError):
        return False


def near_file(p: Path) -> str:
    """`` (did you mean 'inventory.csv'?)`` for a file of a close name in the same folder."""
    import difflib

    try:
        names = [q.name for q in p.parent.iterdir() if q.is_file()] if p.parent.is_dir() else []
    except OSError:
        return ""
    close = difflib.get_close_matches(p.name, names, n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _line_of(raw: bytes, offset: int) -> int:
    return raw.count(b"\n", 0, offset) + 1


def decode(raw: bytes, name: str, what: str, encodings: tuple[str, ...] = ("utf-8-sig",), advice: str = "save it as UTF-8") -> str:
    """Text of *raw* in the first of *encodings* that fits; InputError naming the encoding otherwise.

    A file that is UTF-8 but for a few stray bytes (two encodings pasted together) is reported
    as broken UTF-8 at its line, not read as GBK mojibake.
    """
    for bom, enc in _BOMS:
        if raw.startswith(bom):
            raise InputError(Problem(f"{what} is {enc} text (Excel's 'Unicode Text'); {advice}", name))
    for magic, kind in _MAGIC:
        if raw.startswith(magic):
            raise InputError(Problem(f"{what} is {kind}, not text", name))
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise InputError(Problem(f"{what} is a binary file, not text (NUL byte at line {_line_of(raw, nul)})", name))
    first_error: UnicodeDecodeError | None = None
    for enc in encodings:
        try:
            text = raw.decode(enc)
        except UnicodeDecodeError as exc:
            first_error = first_error or exc
            continue
        if first_error is not None and enc != encodings[0]:
            _not_broken_utf8(raw, first_error, name, what, advice)
        return text
    assert first_error is not None
    if "utf-8" in encodings[0]:
        _not_broken_utf8(raw, first_error, name, what, advice)
    line = _line_of(raw, first_error.start)
    names = list(dict.fromkeys(_NAMES.get(e, e) for e in encodings))
    tried = "neither " + " nor ".join(names) if len(names) > 1 else "not " + names[0]
    raise InputError(Problem(f"{what} is {tried} text "
                             f"(byte {raw[first_error.start]:#04x} at line {line} does not decode); {advice}", name, line))


def _not_broken_utf8(raw: bytes, error: UnicodeDecodeError, name: str, what: str, advice: str) -> None:
    """InputError when *raw* is UTF-8 but for a few bad bytes: many valid multi-byte UTF-8
    characters, few undecodable ones (a GBK file has almost no valid UTF-8 sequences)."""
    text = raw.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    good = sum(1 for ch in text if ord(ch) > 0x7F) - bad
    if good >= 4 and good >= 2 * bad:
        line = _line_of(raw, error.start)
        raise InputError(Problem(f"{what} is UTF-8 except for byte {raw[error.start]:#04x} at line {line} "
                                 f"(text in two encodings pasted together?); {advice}", name, line))


def csv_records(text: str, name: str) -> list[tuple[int, list[str]]]:
    """(line, cells) of every record of a CSV text; the line is where the record starts.

    Quotes are read strictly: a quoted cell that is never closed (it would swallow every row
    after it) or a stray character after a closing quote is an InputError at the record's line.
    """
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    out: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for row in reader:
            out.append((start, row))
            start = reader.line_num + 1
    except csv.Error as exc:
        msg = str(exc)
        if "end of data" in msg or "unexpected end" in msg:
            msg = "a quoted cell opened on this line is never closed (a stray '\"'?)"
        else:
            msg = f"malformed CSV: {msg} (quote the whole cell, and double any '\"' inside it)"
        raise InputError(Problem(msg, name, start)) from None
    return out


def overlong_rows(records: list[tuple[int, list[str]]], width: int, name: str, padded: bool = True) -> dict[int, Problem]:
    """Records with more cells than the header has columns, by line: an unquoted comma in a cell
    (``1,386`` or ``GB 13271, 表1``) shifts every cell after it into the wrong column.

    Excel pads every row to its widest column, so for files that Excel wrote (*padded*) empty
    cells beyond the header count only when the record is also longer than most records.
    """
    from collections import Counter

    lengths = Counter(len(cells) for _, cells in records)
    usual = lengths.most_common(1)[0][0] if lengths else width
    out: dict[int, Problem] = {}
    for line, cells in records:
        extra = [x for x in cells[width:] if (x or "").strip()]
        if extra or len(cells) > (max(width, usual) if padded else width):
            shown = ", ".join(repr(x) for x in (extra or cells[width:])[:3])
            out[line] = Problem(f"row has {len(cells)} cells but the header has {width} columns (a comma inside a cell "
                                f"that is not quoted?); cells beyond the header: {shown}", name, line)
    return out


def table_rows(records: list[tuple[int, list[str]]], columns: tuple[str, ...], name: str,
               problems: list[Problem]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, {column: stripped cell}) for each data row after the header; rows with more cells
    than columns become problems, blank rows are skipped."""
    overlong = overlong_rows(records[1:], len(columns), name, padded=False)
    for line, cells in records[1:]:
        if line in overlong:
            problems.append(overlong[line])
            continue
        if not any(x.strip() for x in cells):
            continue
        yield line, {k: (cells[j] if j < len(cells) else "").strip() for j, k in enumerate(columns)}
