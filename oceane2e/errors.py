"""User errors: one exception family, reported as one line by every command.

A :class:`UserError` is a problem the user can fix (a config key, a data file, a checkpoint, an
existing output, a diverging run); its message names the file or key and says what to do. Every
user-facing command (the ``train_*.py`` / ``inference*.py`` scripts through
:func:`oceane2e.entry.run_entry`, and ``python -m oceane2e <command>``) calls
:func:`report_user_errors`, which prints that one line and returns exit status 2; ``--debug`` shows
the traceback instead. Operating-system errors a user causes (a missing or read-only folder, a
symbolic-link loop, a full disk) are reported the same way. docs/errors.md lists the classes.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable

#: exit status of a user error (argparse uses the same for bad arguments)
USER_ERROR_STATUS = 2


class UserError(Exception):
    """Base of every error the user can fix; the message names the file or key and the fix."""


class OutputExistsError(UserError, FileExistsError):
    """A command would overwrite results written earlier; pass ``--overwrite`` (or the config's key)."""


class RunExistsError(UserError, FileExistsError):
    """Training would start over on top of an earlier run's checkpoints and logs."""


class ResumeConfigError(UserError, ValueError):
    """``--resume`` with a config that differs from the checkpoint's in keys that must not change."""


class TrainingDivergedError(UserError, FloatingPointError):
    """A training step produced a non-finite loss, gradient, weight or input."""


#: OS errors caused by the user's files and folders, and what to do about each
_OS_ADVICE: dict[int, str] = {
    errno.ENOENT: "not found; check the path (data.root, --config, checkpoint paths)",
    errno.ENOTDIR: "a path component is not a folder; check the path",
    errno.EISDIR: "is a folder where a file is expected; check the path",
    errno.EACCES: "permission denied; make it writable/readable or point the config elsewhere",
    errno.EPERM: "operation not permitted; check the permissions or point the config elsewhere",
    errno.EROFS: "read-only file system; write the outputs elsewhere (checkpoint_dir, log_dir, results_dir)",
    errno.ENOSPC: "no space left on the device; free space or write the outputs to another disk",
    errno.EDQUOT: "disk quota exceeded; free space or write the outputs elsewhere",
    errno.ELOOP: "symbolic-link loop; fix or remove the link",
    errno.ENAMETOOLONG: "file name too long; use a shorter path",
}


def user_error_line(err: BaseException) -> str | None:
    """The one-line report of ``err`` if it is a user error, else ``None`` (a bug: show the traceback)."""
    if isinstance(err, UserError):
        return "; ".join(line.strip() for line in str(err).splitlines() if line.strip())
    if isinstance(err, (FileNotFoundError, FileExistsError, PermissionError, IsADirectoryError,
                        NotADirectoryError)) and err.errno is None:
        return " ".join(str(err).split())  # raised by our code with a message naming the path and the fix
    if isinstance(err, OSError) and err.errno in _OS_ADVICE:
        where = err.filename if err.filename is not None else "?"
        if err.filename2 is not None:
            where = f"{where} -> {err.filename2}"
        return f"{where}: {_OS_ADVICE[err.errno]} ({os.strerror(err.errno)})"
    return None


def report_user_errors(prog: str, body: Callable[[], int], *, debug: bool = False) -> int:
    """Run ``body()``; a user error becomes one line ``<prog>: error: <message>`` and status 2.

    With ``debug`` the exception propagates (full traceback). Other exceptions always propagate.
    """
    if debug:
        return body()
    try:
        return body()
    except (UserError, OSError) as err:
        line = user_error_line(err)
        if line is None:
            raise
        print(f"{prog}: error: {line} (run with --debug for the traceback)", file=sys.stderr)
        return USER_ERROR_STATUS


def pop_debug_flag(argv: list[str]) -> tuple[list[str], bool]:
    """Remove ``--debug`` from ``argv`` (anywhere); returns the rest and whether it was there."""
    rest = [a for a in argv if a != "--debug"]
    return rest, len(rest) != len(argv)
