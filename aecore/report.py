"""Verdicts on claims, and glue for quoting computed numbers in the book's prose.

A chapter tests claims from the source texts (``shared/sources``); each test ends in a
:class:`Verdict` whose evidence is a number computed in the notebook, never typed. Verdicts
over trained runs follow the protocol of :mod:`aecore.verdicts` (the book's page "How verdicts
are decided"): they carry their effect, its 95% interval, the number of seeds and the margin.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Sequence

import pandas as pd

from aecore.verdicts import OUTCOMES, Effect, Finding, combine, to_decide

VERDICTS = OUTCOMES  # Supported, Refuted, Inconclusive, Depends, Not reproduced
PROTOCOL_LABEL = "verdict-protocol"  # the MyST label of the page that states the protocol


@dataclasses.dataclass(frozen=True)
class Verdict:
    """One claim, what we found, and the number that decides it.

    Attributes:
      claim: the claim, quoted briefly or paraphrased.
      source: where it comes from, e.g. ``"003 course page"``.
      verdict: ``"Supported"``, ``"Refuted"`` or ``"Depends"``.
      evidence: the deciding measurement, as text with its unit.
      where: a label of the section/cell that shows it (for links in the book).
      checked: whether the verdict is the same in every profile, so nbval can guard it.
        Set False, and say why in the text, for a verdict that could come out differently in
        another profile or on another machine (e.g. one decided at the noise threshold).
      effect: for a verdict over paired runs, the effect with its interval and ``n``.
      margin: the equivalence margin stated before looking (in the effect's unit), and
        ``margin_reason`` why that size would not matter.
      findings: for a verdict combined over conditions (budget, dataset, ...), each
        condition's own outcome and effect.
      to_decide: for an Inconclusive verdict, what would decide it (e.g. "about 9 seeds").
    """

    claim: str
    source: str
    verdict: str
    evidence: str
    where: str = ""
    checked: bool = True
    effect: Effect | None = None
    margin: float | None = None
    margin_reason: str = ""
    findings: tuple[Finding, ...] = ()
    to_decide: str = ""

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")
        object.__setattr__(self, "findings", tuple(self.findings))

    @classmethod
    def from_findings(cls, claim: str, source: str, where: str, findings, margins, evidence: str, *,
                      checked: bool = True, outcome: str | None = None) -> "Verdict":
        """A verdict over one or more conditions, each a :class:`~aecore.verdicts.Finding` with
        its :class:`~aecore.verdicts.Margin`: the outcome is :func:`~aecore.verdicts.combine`'s
        (or ``outcome`` where the claim combines its conditions otherwise, as stated in
        ``evidence``); one condition's effect and margin go in their own columns, several are
        listed each with its outcome; Inconclusive ones say how many seeds would decide them."""
        findings, margins = list(findings), list(margins)
        if not findings or len(findings) != len(margins):
            raise ValueError(f"need one margin per finding, got {len(findings)} and {len(margins)}")
        single = len(findings) == 1
        unmeasured = [f for f in findings if f.effect is None]  # the effect column lists the others
        if not single and unmeasured:
            evidence = evidence.rstrip() + " " + "; ".join(f"{f.condition}: {f.outcome}" for f in unmeasured) + "."
        return cls(claim, source, outcome or combine(findings), evidence, where, checked=checked,
                   effect=findings[0].effect if single else None,
                   margin=margins[0].value if single else None,
                   margin_reason=margins[0].reason if single else "",
                   findings=() if single else tuple(findings), to_decide=to_decide(findings, margins))

    def effect_text(self, fmt: str = ".4f") -> str:
        """The effect column: ``"+0.0004 [-0.0011, +0.0019], n = 3"`` (unit in the evidence); for a
        combined verdict one entry per condition with its outcome, ``"A: +0.0040 [+0.0018,
        +0.0062] Supported; B: ..."``, and the seeds once when every condition has the same;
        ``""`` for a computed claim."""
        def one(e: Effect) -> str:
            return f"{e.mean:+{fmt}} [{e.low:+{fmt}}, {e.high:+{fmt}}]"

        if self.effect is not None:
            return f"{one(self.effect)}, n = {self.effect.n}"
        measured = [f for f in self.findings if f.effect is not None]
        if not measured:
            return ""
        ns = {f.effect.n for f in measured}
        text = "; ".join(f"{f.condition}: {one(f.effect)}" + ("" if len(ns) == 1 else f", n = {f.effect.n}")
                         + f" {f.outcome}" for f in measured)
        return text + (f" (n = {ns.pop()} each)" if len(ns) == 1 else "")


def decide(condition: bool, *, if_true: str = "Supported", if_false: str = "Refuted") -> str:
    """Turns a measured comparison into a verdict word (keeps the logic visible in cells)."""
    return if_true if bool(condition) else if_false


def verdict_table(verdicts: list[Verdict], *, with_evidence: bool = True) -> pd.DataFrame:
    """A table with one row per claim: claim, source, verdict (and evidence)."""
    rows = [dataclasses.asdict(v) for v in verdicts]
    cols = ["claim", "source", "verdict"] + (["evidence"] if with_evidence else [])
    return pd.DataFrame(rows, columns=[f.name for f in dataclasses.fields(Verdict)])[cols]


def decide_by_count(n_for: int, n_total: int) -> str:
    """A claim tested ``n_total`` times (per setting, dataset or budget), as a verdict word:
    ``"Supported"`` when it held every time, ``"Refuted"`` when it never did, ``"Depends"``
    otherwise.

    Args:
      n_for: how many tests went the claim's way (e.g. BCE beat MSE beyond the seed spread).
      n_total: how many tests there were (at least 1).

    Raises:
      ValueError: ``n_total < 1`` or ``n_for`` outside ``[0, n_total]``.
    """
    if n_total < 1 or not 0 <= n_for <= n_total:
        raise ValueError(f"need 0 <= n_for <= n_total and n_total >= 1, got {n_for} of {n_total}")
    if n_for == n_total:
        return "Supported"
    return "Refuted" if n_for == 0 else "Depends"


def format_verdicts(verdicts: list[Verdict]) -> str:
    """Plain-text verdict lines, stable across profiles (what nbval checks).

    Verdicts with ``checked=False`` are listed by claim only, without their verdict.
    """
    lines = [f"[{v.verdict}] {v.claim} ({v.source})" for v in verdicts if v.checked]
    lines += [f"[not checked across profiles] {v.claim} ({v.source})" for v in verdicts if not v.checked]
    return "\n".join(lines)


def glue(name: str, value, *, display: bool = False):
    """``myst_nb.glue`` when available (the book build), a no-op elsewhere (e.g. Colab).

    Returns ``value`` so a cell can glue and use a number in one line.
    """
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        value = value.item()  # NumPy scalar -> Python number, so "{glue:text}`x:.2f`" can format it
    try:
        from myst_nb import glue as _glue
    except ImportError:
        return value
    _glue(name, value, display=display)
    return value


def outcome_glue_name(where: str) -> str:
    """The glue name of the outcome of the verdict decided at section ``where``:
    ``"ch3-bce"`` -> ``"ch3_bce_outcome"``."""
    return where.replace("-", "_") + "_outcome"


def glue_outcomes(verdicts, names: Mapping[str, str] | None = None) -> dict[str, str]:
    """Glue each verdict's outcome in lower case (``"refuted"``, ``"inconclusive"``, ...) under
    :func:`outcome_glue_name` of its section, so that prose outside the verdict table (key
    takeaways) can name an outcome without typing it. Returns ``{glue name: outcome}``.

    Args:
      verdicts: the chapter's verdicts.
      names: ``{claim: section-like name}`` for verdicts that share a section with another: their
        outcome is glued under :func:`outcome_glue_name` of that name instead (``{"So BCE cannot
        ...": "ch4-claim-grey"}`` -> ``ch4_claim_grey_outcome``).

    Raises:
      ValueError: two verdicts under the same name, one without a section, or a name given for a
        claim that is not among the verdicts.
    """
    names = dict(names or {})
    unknown = sorted(set(names) - {v.claim for v in verdicts})
    if unknown:
        raise ValueError(f"names given for claims that no verdict makes: {unknown}")
    out: dict[str, str] = {}
    for v in verdicts:
        where = names.get(v.claim, v.where)
        if not where:
            raise ValueError(f"verdict {v.claim!r} has no section (where) to name its outcome by")
        name = outcome_glue_name(where)
        if name in out:
            raise ValueError(f"two verdicts are decided in the same section {where!r}; give one of them a name of "
                             f"its own (glue_outcomes(..., names={{claim: name}}))")
        out[name] = v.verdict.lower()
    for name, outcome in out.items():
        glue(name, outcome)
    return out


VERDICTS_MIME = "application/vnd.aecore.verdicts+json"


class VerdictTable:
    """A verdict table for notebooks: Markdown for readers, JSON for the claim ledger.

    Displayed, it yields two representations of the same verdicts: ``text/markdown`` (each
    row links to the section that decides it; ``where`` is a MyST label such as ``ch3-bn``)
    and :data:`VERDICTS_MIME` JSON, which ``tools/build_pages.py`` reads from the committed
    notebooks to build the book's claim ledger.
    """

    def __init__(self, verdicts: list[Verdict]):
        self.verdicts = list(verdicts)

    def markdown(self) -> str:
        def cell(text: str) -> str:
            return str(text).replace("|", "\\|").replace("\n", " ")

        lines = ["| claim (source, section) | verdict | effect [95% interval] | evidence |",
                 "|---|---|---|---|"]
        for v in self.verdicts:
            link = f", {{ref}}`{v.where}`" if v.where else ""
            evidence = v.evidence.rstrip()
            if v.margin is not None or v.to_decide:
                evidence += "" if evidence.endswith(".") else "."
            evidence += f" Margin ±{v.margin:.4g}: {v.margin_reason}." if v.margin is not None else ""
            evidence += f" To decide: {v.to_decide}." if v.to_decide else ""
            lines.append(f"| {cell(v.claim)} ({source_link(cell(v.source))}{link}) | **{v.verdict}** | "
                         f"{cell(v.effect_text())} | {cell(evidence)} |")
        lines.append("")
        lines.append(f"How each verdict is decided: {{ref}}`the protocol <{PROTOCOL_LABEL}>`.")
        return "\n".join(lines)

    def records(self) -> list[dict[str, Any]]:
        """The verdicts as JSON-able dicts (what the claim ledger reads)."""
        out = []
        for v in self.verdicts:
            d = dataclasses.asdict(v)
            d["effect_text"] = v.effect_text()
            out.append(d)
        return out

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/markdown": self.markdown(), "text/plain": format_verdicts(self.verdicts),
                VERDICTS_MIME: self.records()}


def source_link(source: str) -> str:
    """A verdict's source (``"001 answer"``) with its id linked to the Sources page's section
    (``{ref}`001 <source-001>` answer``); text without an id is returned as it is."""
    import re

    return re.sub(r"^(\d{3})\b", lambda m: f"{{ref}}`{m.group(1)} <source-{m.group(1)}>`", str(source))


def verdict_markdown(verdicts: list[Verdict]) -> VerdictTable:
    """The verdict table of a chapter (see :class:`VerdictTable`)."""
    return VerdictTable(verdicts)


def findings_table(verdict: "Verdict | Sequence[Finding]", fmt: str = ".4f", *, effect: str = "effect",
                   outcome: str = "outcome", evidence: str | None = None) -> pd.DataFrame:
    """One row per condition of a verdict (or of a list of findings): the effect with its 95%
    interval, ``n`` and the condition's outcome (what a section shows beside its own table; the
    verdict table lists the same findings).

    ``effect`` and ``outcome`` name those columns (e.g. "BatchNorm − plain [MSE per pixel]",
    "BatchNorm worse?"); with ``evidence`` a column of that name holds each finding's evidence (its
    margin, say; a leading repeat of the column's name is left out). A finding without an effect
    shows empty effect cells.
    """
    if isinstance(verdict, Verdict):
        findings = verdict.findings or ((Finding("all", verdict.verdict, verdict.effect),) if verdict.effect else ())
        if not findings:
            raise ValueError(f"the verdict on {verdict.claim!r} has no measured effect (a computed claim)")
    else:
        findings = tuple(verdict)
        if not findings:
            raise ValueError("no findings to tabulate")
    rows = {}
    for f in findings:
        row = {effect: format(f.effect.mean, "+" + fmt) if f.effect else "",
               "95% interval": (f"[{f.effect.low:+{fmt}}, {f.effect.high:+{fmt}}]" if f.effect else ""),
               "seeds": f.effect.n if f.effect else ""}
        if evidence is not None:
            row[evidence] = f.evidence.removeprefix(evidence + " ")  # "margin ±0.01" under "margin": "±0.01"
        rows[f.condition] = {**row, outcome: f.outcome}
    return pd.DataFrame.from_dict(rows, orient="index")
