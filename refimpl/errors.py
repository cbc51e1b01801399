"""The one exception type the package raises for bad input.

Every message names the file, key, layer or value at fault, on one line.
The CLI prints it as ``refimpl: error: <message>`` and exits with status 2.
"""


class RefimplError(Exception):
    """Bad input or an unsatisfiable request (never an internal bug)."""
