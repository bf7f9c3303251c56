"""What to answer: the decision core and what it is made of (contract B, C1, D1).

Pure on purpose: nothing in this room imports werkzeug, lxml, or any other room of the package,
so that a decision can be tested and reasoned about without files, servers or frameworks.

- :mod:`~iiscors.policy.model`: the effective section of a path and its origin rules (plain data);
- :mod:`~iiscors.policy.origins`: serialized origins, rule patterns, the most-specific lookup;
- :mod:`~iiscors.policy.headers`: header names and list-header grammar;
- :mod:`~iiscors.policy.core`: the compiled policy and its decision.
"""
