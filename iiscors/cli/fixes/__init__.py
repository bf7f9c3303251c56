"""The machinery of ``iiscors fix`` (the command itself is :mod:`iiscors.cli.fix`).

- :mod:`~iiscors.cli.fixes.catalogue`: which diagnostic codes ``fix`` repairs, and how;
- :mod:`~iiscors.cli.fixes.model`: what a repair is (edits plus what the report announces);
- :mod:`~iiscors.cli.fixes.source`: bytes to text and back, byte for byte;
- :mod:`~iiscors.cli.fixes.context`: one analysis of a text, with diagnostics mapped to nodes;
- :mod:`~iiscors.cli.fixes.fixers`: the repairs, code by code (origin rewrites in
  :mod:`~iiscors.cli.fixes.origins`, element removals in :mod:`~iiscors.cli.fixes.removals`);
- :mod:`~iiscors.cli.fixes.planner`: the rounds of analysis and repair, and their verification;
- :mod:`~iiscors.cli.fixes.writer`: reading a file once and replacing it atomically;
- :mod:`~iiscors.cli.fixes.patch`: the unified diff a dry run prints;
- :mod:`~iiscors.cli.fixes.migration`: ``--migrate-custom-headers``, customHeaders CORS turned
  into a ``<cors>`` section (``migration_find``, ``migration_rule``, ``migration_effect``,
  ``migration_text``).

The edits themselves are spans of the original text (:mod:`iiscors.config.edits`), found by
:mod:`iiscors.config.xmlspans`: nothing is re-serialised, so comments, quoting, indentation, line
endings, the byte order mark and the encoding survive outside the edited spans.
"""
