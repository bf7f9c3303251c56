"""iiscors: the IIS CORS module's behaviour, read from web.config, for Python web applications.

>>> from iiscors import CorsMiddleware
>>> app = CorsMiddleware(wsgi_app, "web.config")          # doctest: +SKIP

See README.md for the API and docs/behaviour.md for what every rule does.
"""

from __future__ import annotations

from iiscors.config.diagnostics import ConfigError, Diagnostic, Severity
from iiscors.config.load import Config, check_config, load_config
from iiscors.config.loader import DEFAULT_MAX_BYTES
from iiscors.policy.core import CorsRequest, Decision, Outcome, RequestKind
from iiscors.wsgi import CorsMiddleware

__all__ = [
    "DEFAULT_MAX_BYTES",
    "Config",
    "ConfigError",
    "CorsMiddleware",
    "CorsRequest",
    "Decision",
    "Diagnostic",
    "Outcome",
    "RequestKind",
    "Severity",
    "check_config",
    "load_config",
]

__version__ = "0.1.0"
