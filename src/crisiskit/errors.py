"""Exceptions raised by crisiskit's core, and the exit code each maps to.

    CrisisKitError                 exit 1 unless a subclass says otherwise
    ├── InputError                 exit 2: invalid inventory, playbook, argument, environment
    │                              value (CRISISKIT_*); nothing was changed
    ├── Declined                   exit 4: the operator answered no to the confirmation;
    │                              nothing was changed
    ├── PreconditionFailed         exit 3: a check refused the operation before any write
    │   │                          (convention, devices, seats, conflicts; missing credentials)
    │   ├── LockHeld               another run holds the commune's lock (flock or tenant lease)
    │   ├── LeaseUnavailable       the commune's tenant lease cannot be taken or read
    │   ├── SignInFailed           Microsoft Entra ID refused the sign-in, or is unreachable
    │   ├── StateMismatch          the local state is not the one expected (lost, emptied)
    │   ├── UnsafePath             a link or a foreign object stands where crisiskit writes
    │   └── LoanConflict           (crisiskit.state.api) a device is lent to someone else
    └── OperationFailed            exit 1: the operation started and could not finish
        ├── LeaseLost              another run took the commune's lease over mid-run
        ├── GraphError             (crisiskit.graph.errors) Graph answered with an error, or
        │   │                      not at all within the retry budget
        │   └── AmbiguousWrite     a write whose outcome is unknown: look it up, never resend
        ├── StateError             (crisiskit.state.api) the state store cannot be used
        └── SchemaTooNew           (crisiskit.state.migrations) state written by a newer crisiskit

The CLI catches CrisisKitError, prints its message to stderr and exits with `exit_code`.
A Ctrl-C is not in the tree (it is Python's KeyboardInterrupt): the CLI ends the operation
at its next wait, says what was done, and exits 130 (`EXIT_INTERRUPTED`, 128 + SIGINT, what
shells report for a command stopped by Ctrl-C).
Messages never contain secrets: secrets are `crisiskit.secrets.Secret`, which masks itself.

Not in the tree, on purpose: `crisiskit.plan.model.PlanError` (a ValueError: a plan with
duplicate ids, unknown or circular dependencies, or a verb no resource declares) is a defect
in the code that built the plan, refused before any request; it is never the operator's doing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INPUT = 2
EXIT_PRECONDITION = 3
EXIT_DECLINED = 4
EXIT_INTERNAL = 70  # sysexits' EX_SOFTWARE: a bug in crisiskit, its traceback in a file
EXIT_INTERRUPTED = 130


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One problem in an input file, located as precisely as the file allows."""

    file: str
    line: int
    col: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.col}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class CrisisKitError(Exception):
    """Base of every error crisiskit reports to its user."""

    exit_code = EXIT_FAILED


class InputError(CrisisKitError):
    """Invalid input: an inventory, a playbook, a command-line value."""

    exit_code = EXIT_INPUT

    def __init__(self, message: str, diagnostics: Iterable[Diagnostic] = ()) -> None:
        self.diagnostics = sorted(diagnostics)
        super().__init__(message)

    def __str__(self) -> str:
        if not self.diagnostics:
            return super().__str__()
        return "\n".join(str(d) for d in self.diagnostics)


class Declined(CrisisKitError):
    """The operator answered no when asked to confirm: nothing was changed.

    Not a failure (exit 1 means "started and could not finish, rerun") nor a refusal (exit 3
    means "a check said no"): a script can tell that a person chose not to go ahead.
    """

    exit_code = EXIT_DECLINED


def unknown(what: str, value: str, known: Iterable[str]) -> InputError:
    """Return the InputError for a name that is not one of `known`, with "did you mean"."""
    import difflib

    names = list(dict.fromkeys(known))  # in the order given (the inventory's), once each
    close = difflib.get_close_matches(value.lower(), names, n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    listed = ", ".join(names) if names else "none"
    return InputError(f"unknown {what} {value!r}{hint} (known: {listed})")


class PreconditionFailed(CrisisKitError):
    """A check made before any write refused the operation."""

    exit_code = EXIT_PRECONDITION


class LockHeld(PreconditionFailed):
    """Another crisiskit run holds this commune: its local lock, or its lease in the tenant."""


class LeaseUnavailable(PreconditionFailed):
    """The commune's lease in the tenant cannot be read or taken (nothing was written)."""


class SignInFailed(PreconditionFailed):
    """Microsoft Entra ID refused the sign-in (secret, certificate) or could not be reached."""


class StateMismatch(PreconditionFailed):
    """The local state is not the one this home's outputs (or the tenant) say it should be."""


class UnsafePath(PreconditionFailed):
    """A link, or something that is not crisiskit's own file or folder, stands where it writes."""


class OperationFailed(CrisisKitError):
    """The operation started and could not be completed; a rerun resumes it."""

    exit_code = EXIT_FAILED


class LeaseLost(OperationFailed):
    """The run lost the commune's tenant lease mid-way: it stopped writing, its passes are void."""
