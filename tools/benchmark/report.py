"""The benchmark's Markdown report: the cells, flatness, load and start-up, and the targets."""

from __future__ import annotations

from typing import Any

from benchmark.results import Cell, Flat
from benchmark.targets import Target

#: The distributions whose versions the JSON records.
VERSIONED = ("iiscors", "werkzeug", "flask", "flask-cors", "starlette")


def fmt_us(v: float | None) -> str:
    if v is None:
        return "–"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def md_row(*cols: object) -> str:
    return "| " + " | ".join(str(c) for c in cols) + " |"


def render_table(
    cells: list[Cell],
    flats: list[Flat],
    loads: list[dict[str, Any]],
    startup: dict[str, Any] | None,
    targets: list[Target],
    notes: list[str],
    meta: dict[str, Any],
) -> str:
    lines = header_lines(meta) + cell_lines(cells)
    if flats:
        lines += flat_lines(flats)
    if loads:
        lines += load_lines(loads)
    if startup:
        lines += ["", startup_line(startup)]
    if targets:
        lines += target_lines(targets)
    if notes:
        lines += ["", "Notes:"] + [f"- {n}" for n in notes]
    return "\n".join(lines)


def header_lines(meta: dict[str, Any]) -> list[str]:
    sample_ms = meta["sample_time"] * 1e3
    return [
        f"# iiscors in-process benchmark (Python {meta['python']}, {meta['rounds']} rounds "
        f"of ~{sample_ms:.0f} ms samples, {meta['clock']} clock, load average "
        f"{meta['loadavg']} on {meta['cpus']} CPUs)",
        "",
        "Per-call µs: median and min–max over rounds; ratio to the same framework's bare app; "
        "added µs = median of the per-round differences against it.",
        "",
    ]


def cell_lines(cells: list[Cell]) -> list[str]:
    lines = [
        md_row("config", "request", "candidate", "median µs", "min–max", "ratio", "added µs"),
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for c in cells:
        if not c.verified:
            lines.append(md_row(c.scenario, c.request, c.candidate, "NOT VERIFIED", "", "", ""))
            continue
        ratio = f"{c.ratio:.2f}x" if c.ratio is not None else ""
        added = ""
        if c.added_us is not None:
            added = ("+" if c.added_us >= 0 else "") + fmt_us(c.added_us)
        spread = f"{fmt_us(c.min_us)}–{fmt_us(c.max_us)}"
        lines.append(
            md_row(c.scenario, c.request, c.candidate, fmt_us(c.median_us), spread, ratio, added)
        )
    return lines


def flat_lines(flats: list[Flat]) -> list[str]:
    return [
        "",
        "Flatness: raw+iiscors for every configuration in the same rounds; growth = median "
        "of the per-round ratios to the reference configuration, minus 1 (first sight: a "
        "new origin every call).",
        "",
        md_row("config", "request", "median µs", "growth", "against"),
        "|---|---|---:|---:|---|",
        *(md_row(f.scenario, f.request, fmt_us(f.median_us), f"{f.growth:+.1%}", f.reference)
          for f in flats),
    ]


def load_lines(loads: list[dict[str, Any]]) -> list[str]:
    lines = [
        "",
        "Load: CorsMiddleware() (load + validate + compile) and the floor (lxml parse + one walk "
        "reading each element's line and origin) in turns; ratio = median of the per-round "
        "ratios. Memory: what the middleware keeps per configured origin.",
        "",
        md_row("web.config", "bytes", "CorsMiddleware() s", "min–max s", "floor s",
               "× floor (min–max)", "load_config s", "check_config s", "peak MiB",
               "retained B/origin", "RSS B/origin"),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for ld in loads:
        rss = ld["rss_bytes_per_origin"]
        lines.append(
            md_row(
                ld["scenario"],
                f"{ld['file_bytes']:,}",
                f"{ld['build_s']:.3f}",
                f"{ld['build_min_s']:.3f}–{ld['build_max_s']:.3f}",
                f"{ld['floor_s']:.3f}",
                f"{ld['floor_ratio']:.1f} ({ld['floor_ratio_min']:.1f}–"
                f"{ld['floor_ratio_max']:.1f})",
                f"{ld['load_config_s']:.3f}",
                f"{ld['check_config_s']:.3f}",
                f"{ld['peak_mib']:.1f}",
                f"{ld['retained_bytes_per_origin']:.0f}",
                "–" if rss is None else f"{rss:.0f}",
            )
        )
    return lines


def startup_line(startup: dict[str, Any]) -> str:
    return (
        "`python -m iiscors validate` (1-origin web.config): "
        f"median {startup['validate_s'] * 1e3:.0f} ms "
        f"(min {startup['validate_min_s'] * 1e3:.0f} ms; "
        f"`python -c pass` {startup['python_s'] * 1e3:.0f} ms), "
        f"exit code {startup['exit_code']}"
    )


def target_lines(targets: list[Target]) -> list[str]:
    lines = ["", md_row("target", "value", "limit", "result"), "|---|---:|---|---|"]
    for t in targets:
        value = "–" if t["value"] is None else f"{t['value']:.3g}"
        result = {True: "PASS", False: "**FAIL**", None: "skipped"}[t["passed"]]
        detail = f" ({t['detail']})" if t["detail"] else ""
        lines.append(md_row(t["target"] + detail, value, t["limit"], result))
    return lines


def versions() -> dict[str, str]:
    """The installed version of each distribution of :data:`VERSIONED`."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for dist in VERSIONED:
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "not installed"
    return out
