"""``openmem conformance``: run the suite against a configured provider or an OMP server.

    openmem conformance --provider inmemory
    openmem conformance --provider postgres --config openmem.toml --budget-ms 10
    openmem conformance --base-url http://127.0.0.1:8080 --api-key $KEY

It shows progress while it runs, then a table of results by tier, each failed check's
message, the ``file:line`` in the provider's source to look at and the check's troubleshooting
text, the conformance level, and writes the JSON report (failures carry ``where`` and
``troubleshooting`` there too). The exit code is 1 when a REQUIRED check fails (or the
level is below ``--require-level``), 0 otherwise.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from openmem.cli import memory_from_cli
from openmem.provider import Provider
from openmem_conformance.harness import DEFAULT_BUDGET_MS
from openmem_conformance.registry import CHECKS, Check, Tier
from openmem_conformance.report import CheckResult, ConformanceLevel, ConformanceReport, Outcome
from openmem_conformance.runner import ProviderFactory, validate

__all__ = ["conformance"]

_LEVELS = [level.value.lower() for level in ConformanceLevel]
_RANK = {
    ConformanceLevel.NONE: 0,
    ConformanceLevel.PARTIAL: 1,
    ConformanceLevel.COMPATIBLE: 2,
    ConformanceLevel.NATIVE: 3,
}
_STYLE = {
    Outcome.PASSED: "green",
    Outcome.FAILED: "bold red",
    Outcome.SKIPPED: "dim",
    Outcome.NOT_OFFERED: "dim",
}


class _RichProgress:
    """The runner's progress callbacks drawn as a rich progress bar."""

    def __init__(self, progress: Progress, total: int) -> None:
        self._progress = progress
        self._task = progress.add_task("starting", total=total)

    def started(self, check: Check) -> None:
        self._progress.update(self._task, description=f"[{check.tier.value}] {check.name}")

    def finished(self, result: CheckResult) -> None:
        if result.outcome is Outcome.FAILED:
            self._progress.console.print(
                f"[bold red]FAILED[/] {result.name}: {escape(result.message)}"
            )
        self._progress.advance(self._task)


def _factory(
    provider: str | None,
    config: str | None,
    options: tuple[str, ...],
    base_url: str | None,
    api_key: str | None,
) -> ProviderFactory:
    extra: dict[str, Any] = {}
    if base_url:
        extra["base_url"] = base_url
        provider = provider or "passthrough"
        if api_key:
            extra["api_key"] = api_key
        if not any(o.partition("=")[0].strip() == "clamp_scores" for o in options):
            # One out-of-range score then fails search_results_are_well_formed (which counts
            # the clamped scores) instead of every check that happens to search.
            extra["clamp_scores"] = True

    def build() -> Provider[Any]:
        return memory_from_cli(provider, config, options, **extra).provider

    build()  # configuration errors surface now, as a clean message, not per check
    return build


def _table(report: ConformanceReport) -> Table:
    table = Table(title=f"openmem conformance: {report.provider}", show_lines=False)
    table.add_column("tier")
    table.add_column("check", no_wrap=True)
    table.add_column("result")
    table.add_column("s", justify="right")
    table.add_column("note", overflow="fold")
    for tier in Tier:
        for result in report.by_tier(tier):
            note = result.message
            if not note and "cancel_p99_ms" in result.details:
                note = (
                    f"p99 {result.details['cancel_p99_ms']} ms over "
                    f"{result.details['cancel_samples']} cancels"
                )
            table.add_row(
                tier.value,
                result.name,
                f"[{_STYLE[result.outcome]}]{result.outcome.value}[/]",
                f"{result.seconds:.2f}",
                note[:300],
            )
    return table


def _print_failures(out: Console, report: ConformanceReport) -> None:
    """Each failed check: what went wrong, where in the provider, and what the check asks."""
    for result in report.failed():
        out.print(f"\n[bold red]FAILED[/] {escape(f'[{result.tier.value}]')} {result.name}")
        out.print(f"  what:  {escape(result.message)}")
        if result.where:
            out.print(f"  where: {escape(result.where)}")
        if result.troubleshooting:
            out.print(f"  fix:   {escape(result.troubleshooting)}")


def _print_checks() -> None:
    table = Table(title="openmem conformance checks")
    table.add_column("tier")
    table.add_column("check", no_wrap=True)
    table.add_column("what it proves", overflow="fold")
    table.add_column("runs when declared")
    for check in CHECKS.values():
        table.add_row(check.tier.value, check.name, check.summary, ", ".join(check.requires))
    _stdout().print(table)


def _stdout() -> Console:
    # Tables are wide; a pipe or a log gets room for them instead of folded names.
    return Console() if sys.stdout.isatty() else Console(width=160)


@click.command()
@click.option("--provider", "-p", help="Registered provider name (openmem.providers).")
@click.option("--config", "-c", type=click.Path(dir_okay=False), help="TOML configuration file.")
@click.option("--option", "-o", "options", multiple=True, help="Provider option key=value.")
@click.option("--base-url", help="Test any OMP server over the wire (passthrough provider).")
@click.option("--api-key", envvar="OPENMEM_API_KEY", help="API key for --base-url.")
@click.option(
    "--namespace",
    help="One namespace for every check (default: a fresh one per check; with --api-key, "
    "the key's own namespace).",
)
@click.option(
    "--budget-ms",
    type=float,
    default=DEFAULT_BUDGET_MS,
    show_default=True,
    help="Cancellation budget: ms from task.cancel() to CancelledError (p99).",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False),
    default="conformance-report.json",
    show_default=True,
    help="Where to write the JSON report.",
)
@click.option("--check", "-k", "selected", multiple=True, help="Run only this check (repeatable).")
@click.option("--list-checks", is_flag=True, help="List the checks by tier and exit.")
@click.option(
    "--require-level",
    type=click.Choice(_LEVELS, case_sensitive=False),
    default="compatible",
    show_default=True,
    help="Exit 1 below this level (compatible: every REQUIRED check passes).",
)
def conformance(
    provider: str | None,
    config: str | None,
    options: tuple[str, ...],
    base_url: str | None,
    api_key: str | None,
    namespace: str | None,
    budget_ms: float,
    report_path: str,
    selected: tuple[str, ...],
    list_checks: bool,
    require_level: str,
) -> None:
    """Prove a provider (or an OMP server) conforms: checks by tier, a level, a JSON report."""
    if list_checks:
        _print_checks()
        return
    if not provider and not config and not base_url:
        raise click.UsageError("give --provider NAME, --config FILE or --base-url URL")
    unknown = [name for name in selected if name not in CHECKS]
    if unknown:
        raise click.BadParameter(f"unknown checks {unknown}", param_hint="--check")
    checks = [CHECKS[name] for name in selected] if selected else list(CHECKS.values())
    factory = _factory(provider, config, options, base_url, api_key)
    if base_url and api_key and namespace is None:
        namespace = "default"  # the passthrough's "let the server decide": the key's namespace
    console = Console(stderr=True)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        progress = _RichProgress(bar, len(checks))
        report = asyncio.run(
            validate(
                factory,
                budget_ms=budget_ms,
                checks=checks,
                progress=progress,
                namespace=namespace,
            )
        )
    out = _stdout()
    out.print(_table(report))
    _print_failures(out, report)
    level = report.level()
    colour = "green" if level is ConformanceLevel.NATIVE else "yellow"
    if not report.passed_required():
        colour = "red"
    written = report.write(report_path)
    out.print(f"conformance level: [bold {colour}]{level.value}[/]")
    out.print(f"report: {written}")
    wanted = ConformanceLevel(require_level.capitalize())
    if not report.passed_required() or _RANK[level] < _RANK[wanted]:
        sys.exit(1)
