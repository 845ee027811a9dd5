"""How robust each claim is across seeds: a sweep's tables (``make sweep``), and the report's reading of them.

`deeplinear_book.sweep` writes ``draws.csv`` and ``robustness.csv`` through `tables` and `write_csv`; the latter has
one row per claim and finding (chapter, claim, kind, draws, held, not_held). The book commits one as
``book/presets/robustness.csv``. The report shows, for every claim, "held at 8 of 8 seeds" (`held_text`), and
lists every claim that fails at some draw, with the draws (`failures_markdown`, Markdown text): a claim that
fails at some seeds is reported as such, never dropped.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._files import atomic_write, csv_text
from .ledger import Ledger, evaluate, reproduced

__all__ = ["Robustness", "tables", "write_csv", "label", "load", "held_text", "failures_markdown"]


@dataclass(frozen=True)
class Robustness:
    """One claim (or finding) over a sweep: ``draws`` run, ``held`` at, the draws it did not hold at
    (``not_held``, e.g. ``("seed=3",)``), and how many draws were outside its hypotheses
    (``not_applicable``: neither held nor failed).

    Attributes
    ----------
    chapter : str
        The chapter's stem.
    claim : str
        The claim's id.
    draws : int
        Draws run.
    held : int
        Draws at which it held.
    not_held : tuple
        The draws at which it did not hold, e.g. ``("seed=3",)``.
    not_applicable : int
        Draws outside its hypotheses.
    """

    chapter: str
    claim: str
    draws: int
    held: int
    not_held: tuple[str, ...]
    not_applicable: int = 0


def label(parameters: dict[str, Any]) -> str:
    """A draw's parameters as ``seed=3`` (several: ``k=4,seed=3``, in name order).

    Parameters
    ----------
    parameters : dict
        Name -> value of a draw.

    Returns
    -------
    str
        A draw's parameters as ``seed=3`` (several: ``k=4,seed=3``, in name order).

    Examples
    --------
    >>> from deeplinear_book.robustness import label
    >>> label({"seed": 3, "k": 4})
    'k=4,seed=3'
    """
    return ",".join(f"{k}={json.dumps(v)}" for k, v in sorted(parameters.items()))


def tables(the_ledger: Ledger, results: list[dict[str, Any]]) -> tuple[list[dict], list[dict]]:
    """The rows of ``draws.csv`` (one per draw and ledger entry of its chapter) and of ``robustness.csv`` (one
    per entry: how many draws, at how many it held, and the draws at which it did not), for ``results``
    (each a chapter, parameters, glued values and error), in the ledger's order and then the draws' order.

    Parameters
    ----------
    the_ledger : Ledger
        The claims ledger.
    results : list of dict
        The draws: chapter, parameters, glued values and error.

    Returns
    -------
    tuple
        ``(draws, robustness)`` rows.
    """
    order = {e.id: i for i, e in enumerate((*the_ledger.claims, *the_ledger.findings))}
    draw_rows = []
    for r in sorted(results, key=lambda r: (r["chapter"], sorted(r["parameters"].items()))):
        values = {} if r["error"] else {r["chapter"]: r["values"]}
        for row in evaluate(the_ledger, values):
            if row.entry.chapter != r["chapter"]:
                continue
            draw_rows.append(
                {
                    "chapter": r["chapter"],
                    "claim": row.entry.id,
                    "kind": row.entry.kind,
                    "seed": r["parameters"].get("seed", ""),
                    "parameters": json.dumps(r["parameters"], sort_keys=True),
                    "verdict": row.verdict,
                    "held": "yes" if reproduced(row) else "n/a" if row.verdict == "not applicable" else "no",
                    "measured": "; ".join(f"{n} = {v!r}" for n, v, _, _ in row.measured),
                    "reason": row.reason if row.verdict == "not applicable" else "",
                    "error": r["error"] or "",
                }
            )
    draw_rows.sort(key=lambda w: (w["chapter"], order[w["claim"]]))  # stable: the draws stay in order
    robustness: dict[str, dict[str, Any]] = {}
    for w in draw_rows:
        row = robustness.setdefault(
            w["claim"],
            {
                "chapter": w["chapter"],
                "claim": w["claim"],
                "kind": w["kind"],
                "draws": 0,
                "held": 0,
                "not_applicable": 0,
            },
        )
        row["draws"] += 1
        row["held"] += w["held"] == "yes"
        row["not_applicable"] += w["held"] == "n/a"
        if w["held"] == "no":
            missed = label(json.loads(w["parameters"]))
            row["not_held"] = f"{row['not_held']}; {missed}" if row.get("not_held") else missed
    return draw_rows, [dict(row, not_held=row.get("not_held", "")) for row in robustness.values()]


def write_csv(path: Path | str, rows: list[dict[str, Any]]) -> None:
    """Write ``rows`` (dicts with the same keys, the header) to ``path`` atomically; an empty file for no rows.
    The argument order is that of `deeplinear_book.ledger.write_csv`.

    Parameters
    ----------
    path : Path or str
        Path of the file.
    rows : list of dict
        Dicts with the same keys.
    """
    header = list(rows[0]) if rows else []
    atomic_write(path, csv_text(header, ([row[k] for k in header] for row in rows)) if rows else "")


def load(path: str | Path, name: str = "sweep_file") -> dict[str, Robustness]:
    """Claim id -> `Robustness` from a sweep's ``robustness.csv``; ``""`` gives an empty mapping (no sweep).

    Raises ValueError naming the parameter ``name`` and ``path`` when it is not such a file.

    Parameters
    ----------
    path : str or Path
        Path of the file.
    name : str, optional
        The parameter name to give in an error.

    Returns
    -------
    dict
        Claim id -> `Robustness`.

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).
    """
    if path == "":
        return {}
    if not isinstance(path, (str, Path)) or not Path(path).is_file():
        raise ValueError(f"{name} must be a sweep's robustness.csv (make sweep) or '', got {path!r}")
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    needed = {"chapter", "claim", "draws", "held", "not_held"}
    if rows and not needed <= set(rows[0]):
        raise ValueError(f"{name} {path} lacks the columns {sorted(needed - set(rows[0]))}")
    out = {}
    for row in rows:
        not_held = tuple(d.strip() for d in row["not_held"].split(";") if d.strip())
        outside = int(row.get("not_applicable") or 0)
        out[row["claim"]] = Robustness(
            row["chapter"], row["claim"], int(row["draws"]), int(row["held"]), not_held, outside
        )
    return out


def held_text(robust: dict[str, Robustness], claim: str, unit: str = "seeds") -> str:
    """ "held at 8 of 8 seeds" for one claim ("held at 30 of 30 parameter draws; 2 outside its hypotheses"
    where some draws were), or "" when the sweep did not run it.

    Parameters
    ----------
    robust : dict
        What `load` returned.
    claim : str
        The claim's id.
    unit : str, optional
        What a draw is called.

    Returns
    -------
    str
        The text, or "".
    """
    r = robust.get(claim)
    if r is None:
        return ""
    inside = r.draws - r.not_applicable
    text = f"held at {r.held} of {inside} {unit if inside != 1 else unit.rstrip('s')}"
    return text + (f"; {r.not_applicable} outside its hypotheses" if r.not_applicable else "")


def failures_markdown(ledger: Ledger, robust: dict[str, Robustness], draws_of: str = "seeds of the sweep") -> str:
    """Markdown: every claim and finding of ``ledger`` that did not hold at some draw of the sweep (draws
    outside its hypotheses are not failures), with those draws, in ledger order; a sentence saying so when
    there is none (or no sweep). ``draws_of`` names the draws ("seeds of the sweep", "draws of the parameter
    survey").

    Parameters
    ----------
    ledger : Ledger
        The claims ledger.
    robust : dict
        What `load` returned.
    draws_of : str, optional
        What the draws are, in words.

    Returns
    -------
    str
        Markdown.
    """
    if not robust:
        return "No sweep was given."
    entries = [*ledger.claims, *ledger.findings]
    failed = [(e, robust[e.id]) for e in entries if e.id in robust and robust[e.id].not_held]
    missing = [e.id for e in entries if e.id not in robust]
    draws = max(r.draws for r in robust.values())
    lines = []
    if failed:
        lines.append(f"Claims and findings that did not hold at every one of the {draws} {draws_of}:")
        lines.append("")
        for entry, r in failed:
            title = getattr(entry, "statement", None) or getattr(entry, "title", entry.id)
            lines.append(
                f"- `{entry.id}` ({entry.chapter}): {title}: held at {r.held} of {r.draws - r.not_applicable}; not at "
                + ", ".join(r.not_held)
            )
    else:
        lines.append(f"Every claim and finding held at every one of the {draws} {draws_of}.")
    if missing:
        lines += ["", "Not in the sweep (rows newer than it): " + ", ".join(f"`{m}`" for m in missing) + "."]
    return "\n".join(lines)


# The committed report notebook's name for `failures_markdown` (kept for it; not in __all__).
failures = failures_markdown
