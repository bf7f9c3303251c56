"""What the files say: reading web.config files and site trees into checked, located data
(contract A, C, D, E).

- :mod:`~iiscors.config.loader`: hardened XML parsing, located errors;
- :mod:`~iiscors.config.schema`: the IIS schema of the sections iiscors reads;
- :mod:`~iiscors.config.rules`: one file's levels (its root and each ``<location>``);
- :mod:`~iiscors.config.scope`: merging levels into the effective section of each path;
- :mod:`~iiscors.config.site`: a site tree (a web.config per directory);
- :mod:`~iiscors.config.lint`: warnings about what a configuration does not do as meant;
- :mod:`~iiscors.config.diagnostics`: the diagnostic codes and their located form;
- :mod:`~iiscors.config.load`: files in, a usable :class:`~iiscors.config.load.Config` out.

This room may use :mod:`iiscors.policy` (it compiles into it), never the adapters, the command
line or the serving room.
"""
