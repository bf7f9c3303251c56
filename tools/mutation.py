"""Mutation testing of the core with mutmut: one module at a time, then a score per module.

A mutation run changes the code one small edit at a time (``<`` for ``<=``, ``and`` for ``or``, a
string made ``"XX...XX"``, an argument dropped...) and runs the tests that call the changed
function.  A mutant the tests notice is *killed*; one they do not is a *survivor*: a behaviour no
test pins.  docs/mutation.md records the scores and explains every survivor.

Which modules and how mutmut runs are configured once, in ``[tool.mutmut]`` of pyproject.toml;
tools/mutation_focus.py picks the tests.  This script runs mutmut for each module in turn (so a
run is bounded and can stop after any module) and prints the score of each::

    pip install -e '.[mutation]'
    python tools/mutation.py                     # every module, one worker (hours)
    python tools/mutation.py origins plan merge  # some modules, by file name
    python tools/mutation.py plan merge --together  # in one mutmut run (it sets up once)
    python tools/mutation.py --report            # the scores of the last runs, nothing run
    python tools/mutation.py --report --survivors  # and each survivor's diff
    python tools/mutation.py core --rerun survivors  # after adding tests for core's survivors
                                                     # (the explained ones are not run again)

mutmut keeps its work and its verdicts in ``mutants/`` (not committed); remove it to start over.
A run checks only the mutants not checked yet, so a run stopped half-way (Ctrl-C, ``--timeout``)
resumes where it stopped; mutmut itself forgets the verdicts of a function whose code changed.

Score = (killed + timed out + rejected by mypy --strict) / all mutants: mypy --strict is a gate
every change must pass, so a mutant it rejects could never be merged.  Every survivor must be
explained, by its mutmut name, in docs/mutation.md's "Survivors explained".  Exit status: 0 when
every module reached ``--target`` (95 % by default) and no survivor is unexplained, else 1.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tomllib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORK_DIR = REPO / "mutants"
#: mutmut's verdicts that count as the mutant being caught
CAUGHT = frozenset({"killed", "timeout", "caught by type check"})
#: mutmut's verdict for a mutant it has made but not run yet
UNCHECKED = frozenset({"not checked"})
DEFAULT_TARGET = 95.0
#: where every survivor is explained (equivalent or out of scope), by its mutmut name
EXPLAINED_DOC = REPO / "docs" / "mutation.md"
EXPLAINED_HEADING = "## Survivors explained"
MUTANT_NAME = re.compile(r"`(iiscors\.[^`\s]+__mutmut_\d+)`")


@dataclass(frozen=True)
class Module:
    """A module under mutation: ``name`` for the command line, ``dotted`` as mutmut names it."""

    name: str
    path: str
    dotted: str

    @property
    def mutant_glob(self) -> str:
        return f"{self.dotted}.*"


@dataclass(frozen=True)
class Score:
    module: Module
    verdicts: Counter[str]
    survivors: tuple[str, ...]

    @property
    def total(self) -> int:
        return sum(self.verdicts.values())

    @property
    def caught(self) -> int:
        return sum(n for verdict, n in self.verdicts.items() if verdict in CAUGHT)

    @property
    def percent(self) -> float:
        return 100.0 * self.caught / self.total if self.total else 0.0


def configured_modules(pyproject: Path = REPO / "pyproject.toml") -> list[Module]:
    """The modules of ``[tool.mutmut] only_mutate``, in the order written there."""
    config = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    paths: list[str] = config["tool"]["mutmut"]["only_mutate"]
    return [Module(Path(p).stem, p, p.removesuffix(".py").replace("/", ".")) for p in paths]


def choose(modules: list[Module], names: Sequence[str]) -> list[Module]:
    """The modules named on the command line (all when none is), or SystemExit naming the
    unknown ones."""
    if not names:
        return modules
    by_name = {m.name: m for m in modules}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise SystemExit(f"unknown module(s): {', '.join(unknown)}; "
                         f"choose from: {', '.join(by_name)}")
    return [by_name[n] for n in names]


def mutmut_command() -> list[str]:
    """``mutmut``, from this interpreter's environment first (mutmut's own advice: its console
    script, not ``python -m mutmut``)."""
    beside = Path(sys.executable).parent / "mutmut"
    found = str(beside) if beside.exists() else shutil.which("mutmut")
    if found is None:
        raise SystemExit("mutmut is not installed: pip install -e '.[mutation]'")
    return [found]


def child_env() -> dict[str, str]:
    """The environment for mutmut: this interpreter's scripts first on PATH (mutmut runs
    ``mypy`` by name), and no PYTHONPATH, which could put the unmutated package ahead of the
    copy mutmut imports from ``mutants/``."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def explained(doc: Path = EXPLAINED_DOC) -> frozenset[str]:
    """The mutants docs/mutation.md explains (its "Survivors explained" section names each one
    in backticks): a rerun of the survivors skips them, and the report counts the others."""
    try:
        text = doc.read_text(encoding="utf-8")
    except OSError:
        return frozenset()
    _, _, section = text.partition(EXPLAINED_HEADING)
    return frozenset(MUTANT_NAME.findall(section))


def pending(module: Module, found: dict[str, str], which: str,
            skip: frozenset[str] = frozenset()) -> list[str]:
    """What to run of ``module``: mutmut's names, or its glob when every mutant is to run.

    ``which`` is ``new`` (the mutants not checked yet: a run stopped half-way resumes),
    ``survivors`` (those not caught and not in ``skip``, the explained ones: after adding
    tests) or ``all``.
    """
    mine = {name: v for name, v in found.items() if name.startswith(module.dotted + ".")}
    if which == "all" or not mine:
        return [module.mutant_glob]
    if which == "new":
        return sorted(name for name, v in mine.items() if v in UNCHECKED)
    return sorted(name for name, v in mine.items() if v not in CAUGHT and name not in skip)


def run_mutmut(label: str, names: list[str], workers: int, timeout: float) -> int:
    """Run mutmut on ``names``; its exit status (124 when ``timeout`` ran out)."""
    command = [*mutmut_command(), "run", "--max-children", str(workers), *names]
    shown = names[0] if len(names) == 1 else f"{len(names)} mutants"
    print(f"== {label}: mutmut run {shown}", flush=True)
    # its own process group, so that a timeout stops mutmut's workers too, not only mutmut
    process = subprocess.Popen(command, cwd=REPO, env=child_env(), start_new_session=True)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop(process)
        print(f"== {label}: stopped after {timeout:.0f} s", flush=True)
        return 124
    except KeyboardInterrupt:
        stop(process)
        raise


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop mutmut and its workers (the mutants it had started stay unchecked)."""
    os.killpg(process.pid, signal.SIGTERM)
    process.wait()


def run_modules(modules: list[Module], args: argparse.Namespace) -> int:
    """Run each module's pending mutants, one mutmut run per module (or one for all of them
    with ``--together``, which sets up once: mutmut's mypy pass and clean run take minutes)."""
    batches: list[tuple[str, list[str]]] = []
    found = verdicts() if WORK_DIR.is_dir() else {}
    for module in modules:
        names = pending(module, found, args.rerun, explained())
        if not names:
            print(f"== {module.path}: nothing to run ({args.rerun})")
        elif args.together and batches:
            label, previous = batches[-1]
            batches[-1] = (f"{label} + {module.path}", previous + names)
        else:
            batches.append((module.path, names))
    for label, names in batches:
        status = run_mutmut(label, names, args.workers, args.timeout)
        if status not in (0, 124):
            return status  # a failed clean run or a broken setup: mutmut said why above
    return 0


def verdicts() -> dict[str, str]:
    """mutant name -> mutmut's verdict, for every mutant of every module run so far."""
    out = subprocess.run([*mutmut_command(), "results", "--all", "true"], cwd=REPO,
                         env=child_env(), capture_output=True, text=True, check=True).stdout
    found: dict[str, str] = {}
    for line in out.splitlines():
        name, sep, verdict = line.strip().rpartition(": ")
        if sep and name.startswith("iiscors."):
            found[name] = verdict
    return found


def score(module: Module, found: dict[str, str]) -> Score:
    prefix = module.dotted + "."
    mine = {name: v for name, v in found.items() if name.startswith(prefix)}
    survivors = tuple(sorted(name for name, v in mine.items() if v not in CAUGHT))
    return Score(module, Counter(mine.values()), survivors)


def table(scores: Iterable[Score]) -> str:
    """A Markdown table: one row per module, then the overall figure."""
    rows = ["| module | mutants | killed | mypy | timeout | survived | no tests | not run "
            "| score |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    total, caught = 0, 0
    for s in scores:
        v = s.verdicts
        rows.append(f"| {s.module.path} | {s.total} | {v['killed']} | "
                    f"{v['caught by type check']} | {v['timeout']} | {v['survived']} | "
                    f"{v['no tests']} | {v['not checked']} | {s.percent:.1f} % |")
        total, caught = total + s.total, caught + s.caught
    overall = 100.0 * caught / total if total else 0.0
    rows.append(f"| **all** | {total} | | | | | | | **{overall:.1f} %** |")
    return "\n".join(rows)


def show_survivors(scores: Iterable[Score]) -> None:
    for s in scores:
        for name in s.survivors:
            subprocess.run([*mutmut_command(), "show", name], cwd=REPO, env=child_env(),
                           check=False)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("modules", nargs="*", help="module file names (origins, core, ...); "
                        "default: all of [tool.mutmut] only_mutate")
    parser.add_argument("--workers", type=int, default=1,
                        help="mutants tested at once (default 1: the machine's 2 cores are "
                        "shared)")
    parser.add_argument("--timeout", type=float, default=3600.0,
                        help="seconds one mutmut run may take before it is stopped")
    parser.add_argument("--rerun", choices=("new", "survivors", "all"), default="new",
                        help="which mutants of each module to run: those not run yet (default; "
                        "a stopped run resumes), those that survived (after adding tests), all")
    parser.add_argument("--together", action="store_true",
                        help="one mutmut run for all the modules named (it sets up once)")
    parser.add_argument("--report", action="store_true",
                        help="print the scores of the last runs; run nothing")
    parser.add_argument("--survivors", action="store_true",
                        help="also print each surviving mutant's diff")
    parser.add_argument("--target", type=float, default=DEFAULT_TARGET,
                        help="the score every module must reach (percent)")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    modules = choose(configured_modules(), args.modules)
    status = 0 if args.report else run_modules(modules, args)
    if status:
        return status
    if not WORK_DIR.is_dir():
        raise SystemExit("no mutation results yet: run without --report first")
    found = verdicts()
    scores = [score(m, found) for m in modules]
    print(table(scores))
    known = explained()
    unexplained = [name for s in scores for name in s.survivors if name not in known]
    for s in scores:
        for name in s.survivors:
            print(f"{found[name]}: {name}{'' if name in known else '  (not explained)'}")
    if args.survivors:
        show_survivors(scores)
    print(f"{len(unexplained)} survivor(s) not explained in {EXPLAINED_DOC.relative_to(REPO)}")
    reached = all(s.total and s.percent >= args.target for s in scores)
    return 0 if reached and not unexplained else 1


if __name__ == "__main__":
    sys.exit(main())
