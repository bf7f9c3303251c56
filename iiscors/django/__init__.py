"""iiscors for Django: the IIS CORS behaviour of a web.config, as a Django middleware.

In ``settings.py``::

    INSTALLED_APPS = [..., "iiscors.django"]            # the system checks (manage.py check)
    MIDDLEWARE = ["iiscors.django.CorsMiddleware", ...]  # first: preflights before auth
    IISCORS_CONFIG = BASE_DIR / "web.config"             # the default; or a site directory

The middleware (:mod:`iiscors.django.middleware`) works under WSGI and ASGI alike; the settings
(:mod:`iiscors.django.conf`) are checked at start-up and by ``manage.py check``
(:mod:`iiscors.django.checks`), where every web.config diagnostic appears with its code.
docs/frameworks.md has the settings, the checks and the order of the middlewares.
"""

from __future__ import annotations

from iiscors.django.middleware import CorsMiddleware

__all__ = ["CorsMiddleware"]
