"""The in-process benchmark of issue 6 (``python tools/bench.py``), one module per job.

- :mod:`benchmark.candidates`: the applications compared (bare apps, iiscors around them, the
  dict floor, flask-cors, Starlette's CORSMiddleware);
- :mod:`benchmark.answers`: one untimed call per candidate and request, and the check of its
  CORS answer (a wrong answer is never timed);
- :mod:`benchmark.timing`: the clock, the timed loops, calibration, samples taken in turns;
- :mod:`benchmark.results`: the cells of the table and their summary figures;
- :mod:`benchmark.experiments`, :mod:`benchmark.first_sight`, :mod:`benchmark.flatness`,
  :mod:`benchmark.costs`: what is measured (repeated requests, a new origin every call,
  growth with the configuration's size, web.config load and CLI start-up);
- :mod:`benchmark.policy_memory`: what the compiled policy alone keeps per origin (issue 17);
- :mod:`benchmark.targets`: the targets of issues 6 and 17, judged (``--check``);
- :mod:`benchmark.report`: the Markdown table;
- :mod:`benchmark.cli`: the command line.

:mod:`benchmark.ab` (run on its own) compares a commit's request path with the working
tree's in one process (issue 17's method).

The configurations, requests and bare apps are shared with the HTTP benchmark in
``tools/_benchlib.py``.
"""
