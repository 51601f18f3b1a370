"""One error type for bad input: the CLI prints its message on one line and exits with code 2."""

from __future__ import annotations


class UserError(Exception):
    """Bad input from the user: a missing file, a malformed row, an option that does not apply.

    The message names the file/row/option and says how to fix it; the CLI shows it without a traceback.
    """

    exit_code = 2

