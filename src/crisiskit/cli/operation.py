"""What every command that runs a plan shows and asks, the same way (docs/ARCHITECTURE.md,
"CLI conventions"):

    need_terminal(yes=, dry_run=, command=)   no terminal and no --yes: exit 2 before anything
    show_plan(plan, target, ...)              the plan, its target first, refusals before steps
    ask(plan, target, verb=)                  counts restated, then "Apply ... in <target>?"
    declined(target)                          the Declined error to raise on no (exit 4)
    RunProgress(json=)                        the run's ONE live display (console.RunDisplay) as
                                              the engine's phase factory; silent with --output json
    dry_run_done()                            "Dry run: nothing was changed."
    interrupted(progress, rerun=)             one line after a Ctrl-C; returns exit 130
    stopped(rerun=)                           the same, for a run without a live display

A new operation (teardown, export, a day-2 swap) calls these around its engine call:
`need_terminal` → engine(show_plan=..., confirm=ask, phase=progress) → its own outcome lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from crisiskit import console
from crisiskit.errors import EXIT_INTERRUPTED, Declined, InputError
from crisiskit.words import count

if TYPE_CHECKING:
    from crisiskit.cli.wiring import Target
    from crisiskit.plan.model import Plan


def need_terminal(*, yes: bool, dry_run: bool, command: str) -> bool:
    """Return whether the operator can be asked; refuse (exit 2) when he cannot and must be."""
    interactive = console.is_terminal()
    if not (yes or dry_run) and not interactive:
        raise InputError(
            f"{command} needs confirmation: pass --yes to run without a terminal (or --dry-run)"
        )
    return interactive


def show_plan(
    plan: Plan,
    target: Target,
    *,
    refusals: Sequence[str] = (),
    notes: Sequence[str] = (),
    verbose: bool = False,
    asking: bool = False,
) -> None:
    """Print a plan: the target it writes to, why it would be refused, counts, steps.

    `asking`: a prompt follows, which restates the summary (it is not printed twice).
    """
    console.render_plan(
        plan, target=target.description, refusals=refusals, notes=notes, verbose=verbose,
        summary=not asking,
    )


def ask(plan: Plan, target: Target, *, verb: str = "Apply this plan") -> bool:
    """Restate what the plan does, name the target, and ask to go ahead (a Ctrl-C is no)."""
    from crisiskit.cli.wiring import INTERRUPTED
    from crisiskit.console.plan import plan_summary

    console.info(f"Summary: {plan_summary(plan)}.", wrap=True)
    return console.confirm(f"{verb} to {plan.commune} {target.where}?", cancel=INTERRUPTED)


def declined(target: Target) -> Declined:
    """Return the outcome of a "no" at the prompt: exit 4, nothing changed."""
    return Declined(f"Declined: nothing was changed {target.where}.")


class RunProgress:
    """The progress of one run: the engine's phase factory, shown by ONE live display.

    With --output json nothing is shown (stdout is JSON; the display would only be noise on
    stderr). `done()` tells what was done so far, for the line after a Ctrl-C.
    """

    def __init__(self, *, json: bool = False) -> None:
        self.display: console.RunDisplay | None = None if json else console.RunDisplay()

    def __enter__(self) -> RunProgress:
        if self.display is not None:
            self.display.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.display is not None:
            self.display.close()

    def __call__(self, name: str, total: int) -> Any:
        if self.display is None:
            from crisiskit.engine.progress import quiet_phase

            return quiet_phase(name, total)
        return self.display(name, total)

    def done(self) -> list[tuple[str, int, int]]:
        return self.display.progress() if self.display is not None else []


def dry_run_done() -> None:
    """Say that a dry run changed nothing (its last line)."""
    console.info("Dry run: nothing was changed.")


def interrupted(progress: RunProgress, *, rerun: str) -> int:
    """Say, in one line, what an interrupted run did and how to finish it; return 130."""
    phases = progress.done()
    steps = sum(done for _, done, _ in phases)
    if not phases:
        console.info("Interrupted before anything was changed.")
        return EXIT_INTERRUPTED
    total = sum(t for _, _, t in phases)
    open_ = ", ".join(f"{name} {done}/{of}" for name, done, of in phases if done < of)
    console.info(
        f"Interrupted after {steps} of {count(total, 'step')}"
        + (f" (not finished: {open_})" if open_ else "")
        + f"; everything done is journaled: rerun `{rerun}` to resume.", wrap=True
    )
    return EXIT_INTERRUPTED


def stopped(*, rerun: str) -> int:
    """Say, in one line, that a run without a live display was interrupted; return 130."""
    console.info(f"Interrupted; everything done is journaled: rerun `{rerun}` to resume.",
                 wrap=True)
    return EXIT_INTERRUPTED
