"""What every section reader shares: how IIS reads a boolean, and the transform namespace.

:mod:`iiscors.config.rules` reads the sections of contract A, :mod:`iiscors.config.rewrite` the
URL Rewrite recipe of contract C2; both read values the same way, from here.
"""

from __future__ import annotations

#: The namespace of web.config transforms (xdt:Transform, xdt:Locator), in lxml's {ns} form
XDT = "{http://schemas.microsoft.com/XML-Document-Transform}"


def parse_bool(value: str) -> bool | None:
    """Contract A5: ``true``/``false`` in any letter case, nothing else."""
    folded = value.lower()
    if folded == "true":
        return True
    if folded == "false":
        return False
    return None
