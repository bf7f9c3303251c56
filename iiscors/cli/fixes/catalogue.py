"""Which diagnostic codes ``iiscors fix`` repairs, what it does, and when it leaves one alone.

A code is fixable when its repair is unambiguous: one right edit, whose effect on the answers
the report can state exactly.  ``CodeInfo.fixable`` in :mod:`iiscors.config.diagnostics` flags
the same codes (a test keeps the two in step), and ``docs/diagnostics.md`` prints these
sentences under each code (:mod:`iiscors.cli.docgen`).
"""

from __future__ import annotations

#: Said of every origin rewrite (W204, W205, W210).
_ORIGIN_NOTE = (" The origin is rewritten only when the result earns no new warning and "
                "duplicates no other origin of the file.")

#: code -> what ``iiscors fix`` does about it: a verb phrase, then sentences (Markdown).
FIXES: dict[str, str] = {
    "E302": "removes the later entry when it is identical to the earlier one in "
            "the same collection element (same attributes and values, same children). Entries "
            "that differ, or that duplicate an entry of another level, are left for you: the "
            "file is then refused.",
    "W103": "removes the `<remove>` inside a rule's allowHeaders, allowMethods or "
            "exposeHeaders, where nothing can be inherited (and the list element, when nothing "
            "is left in it). A `<remove origin>` is left alone: "
            "it may remove an origin of a parent web.config or of applicationHost.config.",
    "W201": "removes `allowCredentials` when the `*` rule is the only rule in "
            "every scope it applies to (it then answers `Access-Control-Allow-Origin: *`, which "
            "browsers never accept with credentials). Beside other rules it does work, for "
            "every site: that is left for you to decide.",
    "W204": "lower-cases the scheme and the host (a path is left as written)."
            + _ORIGIN_NOTE,
    "W205": "removes a lone trailing slash. A real path, query or fragment is left "
            "for you: which origin was meant is not certain."
            + _ORIGIN_NOTE,
    "W210": "removes the default port (`:443` for https and wss, `:80` for http "
            "and ws)." + _ORIGIN_NOTE,
    "W213": "removes the OPTIONS entry, and the allowMethods element when nothing is left in "
            "it (preflight answers then no longer list OPTIONS in "
            "Access-Control-Allow-Methods).",
}
