"""The claims ledger as data: ``book/ledger.toml`` read, checked and evaluated.

Each ``[[claim]]`` names a claim of the papers (kind "claim", a statement a run could refute) or a check of
the algebra (kind "check": an identity, a definition or a construction, verified but no evidence about the
papers), the chapter section that tests it and its checks on the values the chapter glues
(`deeplinear_book.claims.claim`). A claim may state ``hypotheses``, checks of the run's setting (zero least-squares
floor, a learning rate below the stability edge, ...): where one fails the run is outside the claim and its
verdict is "not applicable", with the reason. Every claim says why its criterion cannot fail by chance inside
its chapter's stated parameter ranges (``calibration``, an argument or the test that simulates it). Each
``[[finding]]`` is an erratum, a discrepancy of the released code, a sharpening or a deviation of the book,
with a text that quotes glued values. The
reproduction report renders the ledger, the chapter tests read their thresholds from it, and
``make reproduce`` writes its verdicts to ``ledger.csv`` (`write_csv`); `failed_checks` lists the checks that a
rerun fails.

    ledger = load(root / "book" / "ledger.toml")
    rows = evaluate(ledger, {"01-alignment": glued_values(path), ...})
"""

from __future__ import annotations

import math
import operator
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ._files import atomic_write, csv_text

__all__ = [
    "FINDING_VERDICTS",
    "KINDS",
    "VERDICTS",
    "Check",
    "Claim",
    "Finding",
    "Ledger",
    "Row",
    "load",
    "evaluate",
    "failed_checks",
    "fmt",
    "render_finding",
    "reproduced",
    "write_csv",
    "table",
    "POSITIVE",
    "CSV_COLUMNS",
    "anchor",
]

KINDS = ("claim", "check", "erratum", "code discrepancy", "sharpening", "deviation")
# The book's one verdict vocabulary: a claim is confirmed (with a caveat, when its row states one), not
# reproduced, not applicable (the run is outside its hypotheses) or not run; a check of the algebra is verified
# (or not reproduced); a finding is named by its kind, or is not reproduced when its numbers no longer show it.
FINDING_VERDICTS = {
    "erratum": "paper erratum",
    "code discrepancy": "code discrepancy",
    "sharpening": "beyond the papers",
    "deviation": "the book's deviation",
}
VERDICTS = (
    "confirmed",
    "confirmed with a caveat",
    "verified",
    "not applicable",
    "not reproduced",
    "not run",
    *FINDING_VERDICTS.values(),
)
# The verdicts that are no failure: a claim confirmed, a check verified, a finding shown, or a run outside the
# claim's hypotheses ("not applicable" says nothing for or against it).
POSITIVE = frozenset(VERDICTS) - {"not reproduced", "not run", "not applicable"}
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
# A row's number, as the ledger file gives it: its chapter's number, a dot and its place among the chapter's rows.
_NUMBER = re.compile(r"^(\d+)\.([1-9]\d*)$")
# Text a reader sees outside math ($...$) and code (`...`): no glued value's name, no TeX outside math.
_MATH_OR_CODE = re.compile(r"\$[^$]+\$|`[^`]*`")
_MATH = re.compile(r"(\$[^$]+\$)")
_GLUE_NAME = re.compile(r"\b[a-z][a-z0-9]*_[a-z0-9_]+\b")
_RAW_TEX = re.compile(r"[_^]\{?|\\[A-Za-z]+")
# The fields of a row that a reader sees (the report and the chapters' Summary render them).
_SHOWN = ("statement", "caveat", "paper_setting", "title", "source", "quote", "text")


def fmt(v: Any) -> str:
    """A value as the report prints it: 3 significant digits, e-notation outside [1e-3, 1e4).

    Parameters
    ----------
    v : object
        A value.

    Returns
    -------
    str
        A value as the report prints it: 3 significant digits, e-notation outside [1e-3, 1e4).

    Examples
    --------
    >>> from deeplinear_book.ledger import fmt
    >>> fmt(0.91234)
    '0.912'
    """
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
    """One comparison of a glued value: ``value <op> threshold`` (a number or another glued name).

    Attributes
    ----------
    value : str
        The glued name compared.
    op : str
        The comparison ("<", "<=", ">", ">=", "==").
    threshold : object
        A number or another glued name.
    note : str
        What the check means, in words.
    """

    value: str
    op: str
    threshold: Any
    note: str = ""

    def criterion(self, values: Mapping[str, Any] | None = None, label: Callable[[str], str] | None = None) -> str:
        """The criterion as written, e.g. ``≤ 1e-12`` or ``< fig1b_loss_initial``; given a chapter's glued
        ``values``, a threshold that names one shows that value and, in words, its name:
        ``< 0.0123 (fig1b loss initial)``, or the ``label`` it gives the name (`Ledger.label`).

        Parameters
        ----------
        values : mapping or None, optional
            A chapter's glued values (None: the criterion as written).
        label : callable or None, optional
            Gives a glued name in words (`Ledger.label`).

        Returns
        -------
        str
            The criterion.
        """
        named = isinstance(self.threshold, str) and values is not None and self.op not in ("is", "between")
        if self.op == "is":
            text = str(self.threshold)
        elif self.op == "between":
            low, high = self.threshold
            text = f"in [{fmt(low)}, {fmt(high)}]"
        elif named:
            text = f"{_OPS[self.op][0]} {fmt(_get(values, self.threshold))}"
        else:
            text = f"{_OPS[self.op][0]} {_threshold_text(self.threshold)}"
        said = (label or (lambda name: name.replace("_", " ")))(self.threshold) if named else ""
        notes = ([said] if named else []) + ([self.note] if self.note else [])
        return f"{text} ({'; '.join(notes)})" if notes else text

    def holds(self, values: Mapping[str, Any]) -> bool:
        """Whether the check holds for a chapter's glued ``values`` (KeyError naming a missing value).

        Parameters
        ----------
        values : mapping
            A chapter's glued values.

        Returns
        -------
        bool
            Whether the check holds for a chapter's glued ``values`` (KeyError naming a missing value).
        """
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
    """A ledger row: ``id``, the ``paper`` ("RNBU", "JT", ...), its ``kind`` ("claim" or "check"), the
    ``statement``, the ``chapter`` (file stem) and ``section`` (label) that test it, its ``checks``, a
    ``caveat`` (what the evidence does not show; the verdict is then "confirmed with a caveat"), its
    ``hypotheses`` (checks of the run's setting; one that fails makes the verdict "not applicable") and, for a
    claim, its ``calibration``: why no criterion fails by chance inside the chapter's stated ranges (an
    argument, or ``test_calibration.py::test_name``, the unit test that simulates it). ``paper_setting`` names
    the paper's (or the released script's) experiment whose settings the chapter's ``paper`` preset uses for
    this row ("" when no paper runs an experiment for it: the paper run then has "no paper experiment").

    Attributes
    ----------
    id : str
        The row's id.
    paper : str
        The paper ("RNBU", "JT", ...).
    kind : str
        "claim" or "check".
    statement : str
        The claim, in words.
    chapter : str
        The chapter (file stem) that tests it.
    section : str
        The section (label) that tests it.
    checks : tuple
        Its checks (`Check`).
    caveat : str
        What the evidence does not show (the verdict is then "confirmed with a caveat").
    hypotheses : tuple
        Checks of the run's setting; one that fails makes the verdict "not applicable".
    calibration : str
        Why no criterion fails by chance inside the chapter's stated ranges.
    paper_setting : str
        Where the paper (or a released script) gives its settings.
    number : str
        The row's number ("3.2": chapter 3, row 2).
    """

    id: str
    paper: str
    kind: str
    statement: str
    chapter: str
    section: str
    checks: tuple[Check, ...]
    caveat: str = ""
    hypotheses: tuple[Check, ...] = ()
    calibration: str = ""
    paper_setting: str = ""
    number: str = ""

    @property
    def calibration_tests(self) -> list[str]:
        """The unit tests the calibration names (``test_calibration.py::test_name``)."""
        return re.findall(r"\b(test_\w+\.py::test_\w+)", self.calibration)


@dataclass(frozen=True)
class Finding:
    """An erratum, code discrepancy, sharpening or deviation: the ``quote`` it concerns (from ``source``),
    a ``text`` that quotes glued values as ``{name}``, the ``checks`` that show it (possibly none), and, as
    for a claim, ``hypotheses`` and a ``calibration`` (required where it has checks).

    Attributes
    ----------
    id : str
        The row's id.
    kind : str
        The kind: erratum, code discrepancy, sharpening or deviation.
    title : str
        A short title.
    source : str
        Where ``quote`` is from.
    quote : str
        The sentence it concerns.
    chapter : str
        The chapter (file stem) that shows it.
    section : str
        The section (label) that shows it.
    text : str
        What was found; ``{name}`` quotes a glued value.
    checks : tuple
        The checks that show it (possibly none).
    hypotheses : tuple
        Checks of the run's setting.
    calibration : str
        Why no check fails by chance (required where it has checks).
    number : str
        The row's number.
    """

    id: str
    kind: str
    title: str
    source: str
    quote: str
    chapter: str
    section: str
    text: str
    checks: tuple[Check, ...] = ()
    hypotheses: tuple[Check, ...] = ()
    calibration: str = ""
    number: str = ""

    @property
    def calibration_tests(self) -> list[str]:
        return re.findall(r"\b(test_\w+\.py::test_\w+)", self.calibration)

    @property
    def statement(self) -> str:
        return self.title

    def names(self) -> list[str]:
        """The glued values the text quotes, ``{name}`` outside its ``$math$`` (whose braces are TeX's).

        Returns
        -------
        list of str
            The glued values the text quotes, ``{name}`` outside its ``$math$`` (whose braces are TeX's).
        """
        return [n for i, part in enumerate(_MATH.split(self.text)) if not i % 2 for n in _PLACEHOLDER.findall(part)]


@dataclass(frozen=True)
class Ledger:
    """The claims (and checks) and the findings, each with its ``number`` ("3.2": chapter 3, row 2), and
    ``labels``: what each glued value that a check reads is, in words (the ``[labels]`` table; a ledger without
    one shows a value's name with spaces for underscores).

    Attributes
    ----------
    claims : tuple
        The claims and checks (`Claim`).
    findings : tuple
        The findings (`Finding`).
    labels : mapping
        Glued name -> what it is, in words.
    """

    claims: tuple[Claim, ...]
    findings: tuple[Finding, ...]
    labels: Mapping[str, str] = field(default_factory=dict)

    def label(self, name: str) -> str:
        """What the glued value ``name`` is, in words.

        Parameters
        ----------
        name : str
            A glued name.

        Returns
        -------
        str
            What the glued value ``name`` is, in words.
        """
        return self.labels.get(name) or name.replace("_", " ")

    def rows(self) -> list[Claim | Finding]:
        """Every row, claims (and checks) first, then findings, in the ledger file's order.

        Returns
        -------
        list of Claim or Finding
            Every row, claims (and checks) first, then findings, in the ledger file's order.
        """
        return [*self.claims, *self.findings]

    def chapters(self) -> list[str]:
        """The chapters (file stems) that the claims and findings name, sorted.

        Returns
        -------
        list of str
            The stems.
        """
        return sorted({c.chapter for c in self.claims} | {f.chapter for f in self.findings})

    def for_chapter(self, chapter: str) -> list[Claim | Finding]:
        """The claims and findings of ``chapter``.

        Parameters
        ----------
        chapter : str
            Chapter stem or number, e.g. "03" or "03-invariance-theorem".

        Returns
        -------
        list of Claim or Finding
            The claims and findings of ``chapter``.
        """
        return [e for e in (*self.claims, *self.findings) if e.chapter == chapter]


@dataclass(frozen=True)
class Row:
    """A claim or finding evaluated: each check's (value name, value, criterion, held), the verdict, and for
    "not applicable" or "not run" the ``reason`` in words (the hypothesis that failed, the missing value).

    Attributes
    ----------
    entry : Claim or Finding
        The claim or finding.
    measured : tuple
        Each check's (value name, value, criterion, held).
    verdict : str
        The verdict.
    reason : str
        Why "not applicable" or "not run", in words.
    """

    entry: Claim | Finding
    measured: tuple[tuple[str, Any, str, bool], ...]
    verdict: str
    reason: str = ""


def anchor(entry: Claim | Finding) -> str:
    """The row's anchor in the reproduction report, made from its id: ``claim-theorem-1-if`` for a claim or a
    check, ``finding-equation-6`` for a finding (the report's target, which the chapters' Summaries link to).

    Parameters
    ----------
    entry : Claim or Finding
        A claim or finding.

    Returns
    -------
    str
        The anchor.
    """
    return f"{'claim' if isinstance(entry, Claim) else 'finding'}-{entry.id}"


def _chapter_number(chapter: str) -> str:
    """A chapter's number from its file stem: ``03-invariance-theorem`` -> ``3`` (else the stem itself)."""
    digits = re.match(r"\d+", chapter)
    return str(int(digits[0])) if digits else chapter


def _numbered(path: Path, entries: list[Claim | Finding]) -> list[Claim | Finding]:
    """The rows with their numbers: the ones the file gives (every row or none), else counted in file order."""
    given = [e for e in entries if e.number]
    if given and len(given) != len(entries):
        missing = [e.id for e in entries if not e.number]
        raise ValueError(f"{path.name}: every row needs a number once one has, and {missing} have none")
    if not given:
        count: dict[str, int] = {}
        numbered = []
        for e in entries:
            count[e.chapter] = count.get(e.chapter, 0) + 1
            numbered.append(replace(e, number=f"{_chapter_number(e.chapter)}.{count[e.chapter]}"))
        return numbered
    seen: dict[str, str] = {}
    for e in entries:
        match = _NUMBER.match(e.number)
        if not match or match[1] != _chapter_number(e.chapter):
            raise ValueError(
                f"{path.name}: {e.id} has number {e.number!r}: a number is its chapter's "
                f"({_chapter_number(e.chapter)}), a dot and its place among the chapter's rows, e.g. 3.2"
            )
        if e.number in seen:
            raise ValueError(f"{path.name}: the number {e.number} is given to {seen[e.number]} and {e.id}")
        seen[e.number] = e.id
    return entries


def _reader_text_problems(text: str) -> list[str]:
    """What a reader should not see in a ledger text: unbalanced $, TeX outside math, a glued value's name."""
    if text.count("$") % 2:
        return ["an unbalanced $ (math is written $...$)"]
    prose = _MATH_OR_CODE.sub(" ", text)
    problems = [f"the name {m[0]!r} (say what it is in words)" for m in _GLUE_NAME.finditer(prose)]
    problems += [
        f"TeX outside math ({m[0]!r}; write it as $...$)" for m in _RAW_TEX.finditer(_GLUE_NAME.sub(" ", prose))
    ]
    problems += [f"a | in math ({m!r}; write \\lvert or \\lVert)" for m in re.findall(r"\$[^$]+\$", text) if "|" in m]
    return problems


def _check_shown_text(path: Path, entries: list[Claim | Finding], labels: Mapping[str, str]) -> None:
    for e in entries:
        texts = [(k, getattr(e, k, "")) for k in _SHOWN]
        texts += [(f"the note of {c.value}", c.note) for c in (*e.checks, *e.hypotheses)]
        for where, text in texts:
            prose = "".join(p if i % 2 else _PLACEHOLDER.sub("", p) for i, p in enumerate(_MATH.split(text or "")))
            for problem in _reader_text_problems(prose):
                raise ValueError(f"{path.name}: {e.id}'s {where} shows {problem}")
    for name, text in labels.items():
        for problem in _reader_text_problems(text):
            raise ValueError(f"{path.name}: the label of {name} shows {problem}")


def _check_labels(path: Path, entries: list[Claim | Finding], labels: Any) -> dict[str, str]:
    """The ``[labels]`` table checked: a non-empty text for every value a check reads or compares with."""
    if not isinstance(labels, dict) or not all(isinstance(t, str) and t.strip() for t in labels.values()):
        raise ValueError(f"{path.name}: [labels] maps each glued value's name to a non-empty text in words")
    if not labels:
        return {}
    read = {}
    for e in entries:
        for c in (*e.checks, *e.hypotheses):
            read.setdefault(c.value, e.id)
            if isinstance(c.threshold, str) and c.op not in ("is", "between"):
                read.setdefault(c.threshold, e.id)
    missing = [f"{name} ({row})" for name, row in read.items() if name not in labels]
    if missing:
        raise ValueError(f"{path.name}: [labels] has no text for {', '.join(missing)}")
    unused = sorted(set(labels) - set(read))
    if unused:
        raise ValueError(f"{path.name}: [labels] names values that no check reads: {unused}")
    return dict(labels)


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
    """Read and check a ledger file (ValueError naming the entry at fault).

    Parameters
    ----------
    path : Path or str
        Path of the file.

    Returns
    -------
    Ledger
        The ledger.

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).
    """
    path = Path(path)
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    unknown = set(data) - {"claim", "finding", "labels"}
    if unknown:
        raise ValueError(f"{path}: unknown tables {sorted(unknown)} (a ledger has [[claim]], [[finding]] and [labels])")
    claims, findings, seen = [], [], set()
    for i, entry in enumerate(data.get("claim", [])):
        where = f"{path.name}: claim {i + 1} ({entry.get('id', 'no id')})"
        _fields(
            entry,
            where,
            ("id", "paper", "kind", "statement", "chapter", "section", "checks"),
            ("caveat", "hypotheses", "calibration", "paper_setting", "number"),
        )
        if not isinstance(entry["checks"], list) or not entry["checks"]:
            raise ValueError(f"{where}: checks must be a non-empty list")
        if not isinstance(entry.get("hypotheses", []), list):
            raise ValueError(f"{where}: hypotheses must be a list of checks")
        if entry["kind"] == "claim" and not str(entry.get("calibration", "")).strip():
            raise ValueError(
                f"{where}: a claim needs a calibration: why its criteria cannot fail by chance inside the chapter's "
                "stated parameter ranges (an argument, or test_calibration.py::test_name)"
            )
        checks = tuple(_check(c, f"{where}, check {j + 1}") for j, c in enumerate(entry["checks"]))
        hypotheses = tuple(_check(c, f"{where}, hypothesis {j + 1}") for j, c in enumerate(entry.get("hypotheses", [])))
        claims.append(Claim(**{**entry, "checks": checks, "hypotheses": hypotheses}))
    for i, entry in enumerate(data.get("finding", [])):
        where = f"{path.name}: finding {i + 1} ({entry.get('id', 'no id')})"
        _fields(
            entry,
            where,
            ("id", "kind", "title", "source", "quote", "chapter", "section", "text"),
            ("checks", "hypotheses", "calibration", "number"),
        )
        checks = tuple(_check(c, f"{where}, check {j + 1}") for j, c in enumerate(entry.get("checks", [])))
        if checks and not str(entry.get("calibration", "")).strip():
            raise ValueError(
                f"{where}: a finding with checks needs a calibration: why they cannot fail by chance inside the "
                "chapter's stated parameter ranges (an argument, or test_calibration.py::test_name)"
            )
        hypotheses = tuple(_check(c, f"{where}, hypothesis {j + 1}") for j, c in enumerate(entry.get("hypotheses", [])))
        findings.append(Finding(**{**entry, "checks": checks, "hypotheses": hypotheses}))
    for entry in (*claims, *findings):
        if entry.id in seen:
            raise ValueError(f"{path.name}: the id {entry.id!r} is used twice")
        seen.add(entry.id)
        kinds = ("claim", "check") if isinstance(entry, Claim) else tuple(FINDING_VERDICTS)
        if entry.kind not in kinds:
            raise ValueError(f"{path.name}: {entry.id} has kind {entry.kind!r}, not one of {kinds}")
    rows = _numbered(path, [*claims, *findings])
    labels = _check_labels(path, rows, data.get("labels", {}))
    _check_shown_text(path, rows, labels)
    claims, findings = rows[: len(claims)], rows[len(claims) :]
    return Ledger(tuple(claims), tuple(findings), labels)


def _measure(checks: tuple[Check, ...], values: Mapping[str, Any]) -> tuple[tuple[str, Any, str, bool], ...]:
    return tuple((c.value, _get(values, c.value), c.criterion(), c.holds(values)) for c in checks)


def evaluate(
    ledger: Ledger, values: Mapping[str, Mapping[str, Any]], errors: Mapping[str, str] | None = None
) -> list[Row]:
    """Every claim's and finding's verdict on ``values`` (chapter -> glued name -> value), claims first.

    A claim is "not applicable" when one of its hypotheses fails (the reason names it), else "confirmed"
    (or "confirmed with a caveat") when all its checks hold and "not reproduced" when one fails; a check of
    the algebra is "verified" or "not reproduced"; a finding is named by its kind ("paper erratum", ...) when
    its checks hold and is "not reproduced" when one fails; any row is "not run" when its chapter is missing
    (``errors`` gives a failed chapter's error, the reason) or glued no value that a check reads.

    Parameters
    ----------
    ledger : Ledger
        The ledger (`load`).
    values : mapping
        Chapter -> glued name -> value.
    errors : mapping or None, optional
        Chapter -> the error it stopped with.

    Returns
    -------
    list of Row
        Every claim's and finding's verdict on ``values`` (chapter -> glued name -> value), claims first.
    """
    errors = errors or {}
    rows = []
    for entry in (*ledger.claims, *ledger.findings):
        if entry.chapter not in values:
            reason = errors.get(entry.chapter) or "the run did not include the chapter"
            rows.append(Row(entry, (), "not run", f"{entry.chapter}: {reason}"))
            continue
        chapter = values[entry.chapter]
        try:
            hypotheses = _measure(getattr(entry, "hypotheses", ()), chapter)
            measured = _measure(entry.checks, chapter)
        except KeyError as missing:  # a run older than the row, or a chapter that stopped early
            rows.append(Row(entry, (), "not run", f"{entry.chapter}: {missing.args[0]} (a run older than the row)"))
            continue
        outside = [(c, m) for c, m in zip(getattr(entry, "hypotheses", ()), hypotheses, strict=True) if not m[3]]
        if outside:
            reason = "; ".join(
                f"{c.note or ledger.label(c.value)}: {ledger.label(c.value)} = {fmt(m[1])}, "
                f"not {replace(c, note='').criterion(chapter, ledger.label)}"
                for c, m in outside
            )
            rows.append(Row(entry, hypotheses, "not applicable", f"outside the claim's hypotheses: {reason}"))
            continue
        if not all(m[3] for m in measured):
            verdict = "not reproduced"
        elif isinstance(entry, Finding):
            verdict = FINDING_VERDICTS[entry.kind]
        elif entry.kind == "check":
            verdict = "verified"
        else:
            verdict = "confirmed with a caveat" if entry.caveat else "confirmed"
        rows.append(Row(entry, measured, verdict))
    return rows


def reproduced(row: Row) -> bool:
    """Whether a row's verdict is one of the book's positive ones (`POSITIVE`: not "not reproduced", "not
    applicable" or "not run").

    Parameters
    ----------
    row : Row
        An evaluated row.

    Returns
    -------
    bool
        Whether the verdict is positive.
    """
    return row.verdict in POSITIVE


def failed_checks(ledger: Ledger, chapter: str, values: Mapping[str, Any], skip: tuple[str, ...] = ()) -> list[str]:
    """The checks of ``chapter``'s claims and findings that fail on its glued ``values``, one readable line each
    (a list, empty when every check holds; the chapter tests assert on it);
    checks on the value names in ``skip`` are left out (a rerun with a smaller budget skips, say, the losses),
    and so are the checks of a claim whose hypotheses fail (it is "not applicable" there).

    Parameters
    ----------
    ledger : Ledger
        The ledger (`load`).
    chapter : str
        Chapter stem or number, e.g. "03" or "03-invariance-theorem".
    values : mapping
        The chapter's glued values.
    skip : tuple, optional
        Value names whose checks are left out.

    Returns
    -------
    list of str
        One readable line per failing check.
    """
    out = []
    for entry in ledger.for_chapter(chapter):
        if not all(h.holds(values) for h in getattr(entry, "hypotheses", ())):
            continue
        for c in entry.checks:
            if c.value in skip:
                continue
            if not c.holds(values):
                out.append(f"{entry.id}: {c.value} = {fmt(values[c.value])}, expected {c.criterion()}")
    return out


def render_finding(finding: Finding, values: Mapping[str, Any], show: Callable[[Any], str] = fmt) -> str:
    """The finding's text with each ``{name}`` outside its ``$math$`` replaced by the chapter's glued value,
    formatted by ``show``.

    Parameters
    ----------
    finding : Finding
        The finding.
    values : mapping
        The chapter's glued values.
    show : callable, optional
        Formats a value.

    Returns
    -------
    str
        The text.
    """
    parts = _MATH.split(finding.text)
    return "".join(p if i % 2 else _PLACEHOLDER.sub(lambda m: show(_get(values, m[1])), p) for i, p in enumerate(parts))


CSV_COLUMNS = ("claim", "chapter", "kind", "verdict", "statement", "measured", "reason")


def write_csv(path: Path | str, rows: list[Row]) -> None:
    """Write ``rows`` to ``path`` (atomically), one line per claim, check and finding (`CSV_COLUMNS`): claim (the
    id), chapter, kind ("claim", "check" or a finding's kind), verdict, statement (a finding's title), measured
    (``name = value; ...``) and the reason of a "not applicable" or "not run". The argument order is that of
    `deeplinear_book.robustness.write_csv`.

    Parameters
    ----------
    path : Path or str
        Path of the file.
    rows : list of Row
        What `evaluate` returned.
    """
    lines = []
    for r in rows:
        measured = "; ".join(f"{n} = {fmt(v)}" for n, v, _, _ in r.measured)
        e = r.entry
        lines.append([e.id, e.chapter, e.kind, r.verdict, e.statement, measured, r.reason])
    atomic_write(path, csv_text(CSV_COLUMNS, lines))


def table(rows: list[Row]) -> str:
    """The rows as a small plain-text table for a terminal: verdict, id, and what was measured (or why not).

    Parameters
    ----------
    rows : list of Row
        What `evaluate` returned.

    Returns
    -------
    str
        The rows as a small plain-text table for a terminal: verdict, id, and what was measured (or why not).
    """
    if not rows:
        return "(no ledger rows for this chapter)"
    width = max(len(r.verdict) for r in rows)
    ident = max(len(r.entry.id) for r in rows)
    lines = []
    for r in rows:
        detail = r.reason or "; ".join(f"{n} = {fmt(v)}" + ("" if ok else " ✗") for n, v, _, ok in r.measured)
        lines.append(f"{r.verdict:<{width}}  {r.entry.id:<{ident}}  {detail}")
    return "\n".join(lines)
