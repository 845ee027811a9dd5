"""The claims ledger as data: ``book/ledger.toml`` read, checked and evaluated.

Each ``[[claim]]`` names a claim of the papers, the chapter section that tests it and its checks on the
values the chapter glues (`companion.claims.claim`); each ``[[finding]]`` is an erratum, a discrepancy of
the released code, a sharpening or a deviation of the book, with a text that quotes glued values. The
reproduction report renders the ledger, the chapter tests read their thresholds from it, and
``make reproduce`` writes its verdicts to ``ledger.csv`` (`write_csv`).

    ledger = load(root / "book" / "ledger.toml")
    rows = evaluate(ledger, {"01-alignment": glued_values(path), ...})
"""

from __future__ import annotations

import csv
import math
import operator
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "KINDS",
    "VERDICTS",
    "Check",
    "Claim",
    "Finding",
    "Ledger",
    "Row",
    "load",
    "evaluate",
    "failures",
    "fmt",
    "render_finding",
    "write_csv",
]

KINDS = ("claim", "erratum", "code discrepancy", "sharpening", "deviation")
VERDICTS = ("confirmed", "not reproduced", "not run")
_OPS = {
    "le": ("≤", operator.le),
    "lt": ("<", operator.lt),
    "ge": ("≥", operator.ge),
    "gt": (">", operator.gt),
    "eq": ("=", operator.eq),
    "is": ("", None),
    "between": ("in", None),
}
_PLACEHOLDER = re.compile(r"\{([A-Za-z_]\w*)\}")


def fmt(v: Any) -> str:
    """A value as the report prints it: 3 significant digits, e-notation outside [1e-3, 1e4)."""
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isfinite(v) and (v == 0 or 1e-3 <= abs(v) < 1e4):
            return f"{v:.3g}"
        return f"{v:.1e}"
    return str(v)


def _threshold_text(t: Any) -> str:
    if isinstance(t, str):
        return t
    if isinstance(t, float) and 0 < 1 - t < 1e-3:
        return f"1 − {_compact(1 - t)}"
    return _compact(t)


def _compact(t: float) -> str:
    """A threshold as written by hand: 1e-12, 1e-3, 0.95, 2."""
    text = f"{t:.0e}" if 0 < abs(t) < 1e-2 and float(f"{t:.0e}") == t else f"{t:.6g}"
    return re.sub(r"e([+-])0*(\d)", lambda m: "e" + m.group(1).replace("+", "") + m.group(2), text)


@dataclass(frozen=True)
class Check:
    """One comparison of a glued value: ``value <op> threshold`` (a number or another glued name)."""

    value: str
    op: str
    threshold: Any
    note: str = ""

    def criterion(self) -> str:
        """The criterion as the report shows it, e.g. ``≤ 1e-12`` or ``< fig1b_loss_initial``."""
        if self.op == "is":
            text = str(self.threshold)
        elif self.op == "between":
            low, high = self.threshold
            text = f"in [{fmt(low)}, {fmt(high)}]"
        else:
            text = f"{_OPS[self.op][0]} {_threshold_text(self.threshold)}"
        return f"{text} ({self.note})" if self.note else text

    def holds(self, values: Mapping[str, Any]) -> bool:
        """Whether the check holds for a chapter's glued ``values`` (KeyError naming a missing value)."""
        v = _get(values, self.value)
        if self.op == "is":
            return v is self.threshold
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return False
        if self.op == "between":
            low, high = self.threshold
            return bool(low <= v <= high)
        t = _get(values, self.threshold) if isinstance(self.threshold, str) else self.threshold
        return bool(_OPS[self.op][1](v, t))


@dataclass(frozen=True)
class Claim:
    """A ledger row: ``id``, the ``paper`` ("RNBU", "JT", ...), its ``kind``, the ``statement``, the
    ``chapter`` (file stem) and ``section`` (label) that test it, and its ``checks``."""

    id: str
    paper: str
    kind: str
    statement: str
    chapter: str
    section: str
    checks: tuple[Check, ...]


@dataclass(frozen=True)
class Finding:
    """An erratum, code discrepancy, sharpening or deviation; ``text`` quotes glued values as ``{name}``."""

    id: str
    kind: str
    title: str
    chapter: str
    section: str
    text: str

    def names(self) -> list[str]:
        return _PLACEHOLDER.findall(self.text)


@dataclass(frozen=True)
class Ledger:
    claims: tuple[Claim, ...]
    findings: tuple[Finding, ...]

    def chapters(self) -> list[str]:
        return sorted({c.chapter for c in self.claims} | {f.chapter for f in self.findings})

    def for_chapter(self, chapter: str) -> list[Claim]:
        return [c for c in self.claims if c.chapter == chapter]


@dataclass(frozen=True)
class Row:
    """A claim evaluated: each check's (value name, value, criterion, held) and the verdict."""

    claim: Claim
    measured: tuple[tuple[str, Any, str, bool], ...]
    verdict: str


def _get(values: Mapping[str, Any], name: str) -> Any:
    try:
        return values[name]
    except KeyError:
        raise KeyError(f"no glued value named {name!r}") from None


def _fields(entry: dict, where: str, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> None:
    missing = [k for k in required if k not in entry]
    unknown = [k for k in entry if k not in required + optional]
    if missing or unknown:
        raise ValueError(f"{where}: missing keys {missing}, unknown keys {unknown}")
    for k in required:
        if k != "checks" and not (isinstance(entry[k], str) and entry[k]):
            raise ValueError(f"{where}: {k} must be a non-empty string, got {entry[k]!r}")


def _check(entry: dict, where: str) -> Check:
    ops = [k for k in entry if k in _OPS]
    unknown = [k for k in entry if k not in _OPS and k not in ("value", "note")]
    if len(ops) != 1 or unknown or not isinstance(entry.get("value"), str):
        raise ValueError(
            f"{where}: a check is {{ value = <glued name>, <one of {', '.join(_OPS)}> = <threshold> "
            f"[, note = <text>] }}, got {entry!r}"
        )
    op, t = ops[0], entry[ops[0]]
    if op == "is" and not isinstance(t, bool):
        raise ValueError(f"{where}: `is` takes true or false, got {t!r}")
    if op == "between" and not (isinstance(t, list) and len(t) == 2 and t[0] <= t[1]):
        raise ValueError(f"{where}: `between` takes [low, high] with low <= high, got {t!r}")
    if op not in ("is", "between") and (isinstance(t, bool) or not isinstance(t, (int, float, str))):
        raise ValueError(f"{where}: `{op}` takes a number or a glued name, got {t!r}")
    return Check(entry["value"], op, tuple(t) if op == "between" else t, entry.get("note", ""))


def load(path: Path | str) -> Ledger:
    """Read and check a ledger file (ValueError naming the entry at fault)."""
    path = Path(path)
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    unknown = set(data) - {"claim", "finding"}
    if unknown:
        raise ValueError(f"{path}: unknown tables {sorted(unknown)} (a ledger has [[claim]] and [[finding]])")
    claims, findings, seen = [], [], set()
    for i, entry in enumerate(data.get("claim", [])):
        where = f"{path.name}: claim {i + 1} ({entry.get('id', 'no id')})"
        _fields(entry, where, ("id", "paper", "kind", "statement", "chapter", "section", "checks"))
        if not isinstance(entry["checks"], list) or not entry["checks"]:
            raise ValueError(f"{where}: checks must be a non-empty list")
        checks = tuple(_check(c, f"{where}, check {j + 1}") for j, c in enumerate(entry["checks"]))
        claims.append(Claim(**{**entry, "checks": checks}))
    for i, entry in enumerate(data.get("finding", [])):
        where = f"{path.name}: finding {i + 1} ({entry.get('id', 'no id')})"
        _fields(entry, where, ("id", "kind", "title", "chapter", "section", "text"))
        findings.append(Finding(**entry))
    for entry in (*claims, *findings):
        if entry.id in seen:
            raise ValueError(f"{path.name}: the id {entry.id!r} is used twice")
        seen.add(entry.id)
        if entry.kind not in KINDS:
            raise ValueError(f"{path.name}: {entry.id} has kind {entry.kind!r}, not one of {KINDS}")
    return Ledger(tuple(claims), tuple(findings))


def evaluate(ledger: Ledger, values: Mapping[str, Mapping[str, Any]]) -> list[Row]:
    """Every claim's verdict on ``values`` (chapter -> glued name -> value): "confirmed" when all its
    checks hold, "not reproduced" when one fails, "not run" when its chapter is missing."""
    rows = []
    for claim in ledger.claims:
        if claim.chapter not in values:
            rows.append(Row(claim, (), "not run"))
            continue
        chapter = values[claim.chapter]
        measured = tuple((c.value, _get(chapter, c.value), c.criterion(), c.holds(chapter)) for c in claim.checks)
        verdict = "confirmed" if all(m[3] for m in measured) else "not reproduced"
        rows.append(Row(claim, measured, verdict))
    return rows


def failures(ledger: Ledger, chapter: str, values: Mapping[str, Any], skip: tuple[str, ...] = ()) -> list[str]:
    """The checks of ``chapter``'s claims that fail on its glued ``values``, as readable lines; checks on
    the value names in ``skip`` are left out (a test rerun with a smaller budget skips, say, the losses)."""
    out = []
    for claim in ledger.for_chapter(chapter):
        for c in claim.checks:
            if c.value in skip:
                continue
            if not c.holds(values):
                out.append(f"{claim.id}: {c.value} = {fmt(values[c.value])}, expected {c.criterion()}")
    return out


def render_finding(finding: Finding, values: Mapping[str, Any]) -> str:
    """The finding's text with each ``{name}`` replaced by the chapter's glued value, formatted by `fmt`."""
    return _PLACEHOLDER.sub(lambda m: fmt(_get(values, m.group(1))), finding.text)


def write_csv(rows: list[Row], path: Path | str) -> None:
    """One line per claim: claim, chapter, kind, verdict, statement, measured (``name = value; ...``)."""
    path = Path(path)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["claim", "chapter", "kind", "verdict", "statement", "measured"])
        for r in rows:
            measured = "; ".join(f"{n} = {fmt(v)}" for n, v, _, _ in r.measured)
            w.writerow([r.claim.id, r.claim.chapter, r.claim.kind, r.verdict, r.claim.statement, measured])
    tmp.replace(path)
