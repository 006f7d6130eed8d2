"""The study file: variants (config deltas and budgets), axes, and the findings each axis tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml


class SpecError(ValueError):
    """A study file that cannot be run; the message names the file and key."""


@dataclass(frozen=True)
class Variant:
    name: str
    config: str  # a YAML beside the study file (a delta over conf/lm/quickstart.yaml)
    seconds_of: str = ""  # match this variant's seconds of training audio instead of the token budget
    budget_fraction: float = 1.0  # of the study's token budget
    data: str = ""  # a data source of the study (its train shards replace the quickstart's)
    init_from: str = ""  # a variant whose run (same seed) initialises this one
    evaluate: bool = True


@dataclass(frozen=True)
class Finding:
    """One claim, tested on one metric: ``better`` beats ``than`` (another variant), ``than_value``
    (a constant, e.g. 0 for a gain) or ``than_metric`` (another metric of the same variant, e.g. its
    trivial baseline); or ``same`` equals ``as_``."""

    claim: str
    metric: str
    better: str = ""
    than: str = ""
    than_value: float | None = None
    than_metric: str = ""
    same: str = ""
    as_: str = ""
    tolerance: float = 0.0  # for 'same': the largest relative difference that still counts as unchanged
    min_effect: float = 0.0  # for 'better': the smallest difference that matters (e.g. 0.05 WER), whatever z says

    @property
    def pair(self) -> tuple[str, str]:
        if self.better:
            return (self.better, self.than or self.better)
        return (self.same, self.as_)

    @property
    def against(self) -> str:
        """What the first variant is compared with, in words."""
        if self.than_metric:
            return f"its {self.than_metric}"
        if self.than_value is not None:
            return f"{self.than_value:g}"
        return self.pair[1]


@dataclass(frozen=True)
class Axis:
    name: str
    title: str
    variants: list[str]
    findings: list[Finding]
    x: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Study:
    path: Path
    seeds: list[int]
    budget_tokens: int
    variants: dict[str, Variant]
    axes: dict[str, Axis]
    overrides: list[str] = field(default_factory=list)
    eval_tasks: list[str] = field(default_factory=list)
    eval_max_items: int = 0
    third_seed: bool = True
    jobs: int = 1
    quickstart: str = "exp/quickstart"
    data_sources: dict[str, dict] = field(default_factory=dict)

    def config_path(self, v: Variant) -> Path:
        return self.path.parent / v.config

    def order(self) -> list[Variant]:
        """Variants so that each comes after those it depends on (seconds_of, init_from)."""
        done: list[str] = []

        def visit(name: str, stack: tuple[str, ...] = ()) -> None:
            if name in done:
                return
            if name in stack:
                raise SpecError(f"{self.path}: variants depend on each other in a cycle: {' -> '.join(stack + (name,))}")
            v = self.variants[name]
            for dep in (v.seconds_of, v.init_from):
                if dep:
                    visit(dep, stack + (name,))
            done.append(name)

        for name in self.variants:
            visit(name)
        return [self.variants[n] for n in done]


def load_study(path: str | Path) -> Study:
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"{path}: no such study file")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise SpecError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None

    def bad(key: str, msg: str):
        raise SpecError(f"{path}: {key}: {msg}")

    known = {"seeds", "third_seed", "budget_tokens", "jobs", "quickstart", "overrides", "eval", "variants",
             "data_sources", "axes"}
    for k in raw:
        if k not in known:
            bad(k, f"unknown key (known: {', '.join(sorted(known))})")
    variants: dict[str, Variant] = {}
    for name, v in (raw.get("variants") or {}).items():
        try:
            variants[str(name)] = Variant(name=str(name), **v)
        except TypeError as e:
            bad(f"variants.{name}", str(e).replace("__init__() ", ""))
        if not (path.parent / variants[str(name)].config).is_file():
            bad(f"variants.{name}.config", f"{path.parent / v['config']} does not exist")
    sources = dict(raw.get("data_sources") or {})
    for v in variants.values():
        for key, ref in (("seconds_of", v.seconds_of), ("init_from", v.init_from)):
            if ref and ref not in variants:
                bad(f"variants.{v.name}.{key}", f"{ref!r} is not a variant")
        if v.data and v.data not in sources:
            bad(f"variants.{v.name}.data", f"{v.data!r} is not in data_sources")
    axes: dict[str, Axis] = {}
    for name, a in (raw.get("axes") or {}).items():
        findings = []
        for i, f in enumerate(a.get("findings") or []):
            f = dict(f)
            if "as" in f:
                f["as_"] = f.pop("as")
            try:
                fd = Finding(**f)
            except TypeError as e:
                bad(f"axes.{name}.findings[{i}]", str(e).replace("__init__() ", ""))
            refs = sum(bool(x) for x in (fd.than, fd.than_metric)) + (fd.than_value is not None)
            if bool(fd.better) == bool(fd.same) or (fd.better and refs != 1) or (fd.same and not fd.as_):
                bad(f"axes.{name}.findings[{i}]", "give either better + one of than/than_value/than_metric, or same+as")
            for ref in fd.pair:
                if ref not in a.get("variants", []):
                    bad(f"axes.{name}.findings[{i}]", f"{ref!r} is not a variant of the axis")
            findings.append(fd)
        for ref in a.get("variants", []):
            if ref not in variants:
                bad(f"axes.{name}.variants", f"{ref!r} is not a variant")
        axes[str(name)] = Axis(name=str(name), title=a.get("title", name), variants=list(a.get("variants", [])),
                               findings=findings, x={str(k): float(x) for k, x in (a.get("x") or {}).items()})
    ev = raw.get("eval") or {}
    seeds = [int(s) for s in raw.get("seeds", [0, 1])]
    if not seeds or len(set(seeds)) != len(seeds):
        bad("seeds", f"{seeds}: give distinct seeds")
    budget = int(raw.get("budget_tokens", 0))
    if budget <= 0:
        bad("budget_tokens", "must be a positive number of tokens")
    study = Study(path=path, seeds=seeds, budget_tokens=budget, variants=variants, axes=axes,
                  overrides=[str(o) for o in raw.get("overrides") or []], eval_tasks=list(ev.get("tasks") or []),
                  eval_max_items=int(ev.get("max_items", 0)), third_seed=bool(raw.get("third_seed", True)),
                  jobs=max(1, int(raw.get("jobs", 1))), quickstart=str(raw.get("quickstart", "exp/quickstart")),
                  data_sources=sources)
    study.order()  # no cycles
    return study
