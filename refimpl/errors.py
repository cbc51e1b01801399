"""The one exception type the package raises for bad input.

Every message names the file, key, layer or value at fault, on one line.
The CLI prints it as ``refimpl: error: <message>`` and exits with status 2.
"""


class RefimplError(Exception):
    """Bad input or an unsatisfiable request (never an internal bug)."""


def check_choice(what: str, value, choices):
    """``value`` if it is one of ``choices``, else RefimplError
    "unknown <what> '<value>' (choose from: a, b, c)"."""
    if value not in choices:
        raise RefimplError(f"unknown {what} '{value}' (choose from: {', '.join(choices)})")
    return value
