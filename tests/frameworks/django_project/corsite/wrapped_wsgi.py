"""Both recipes at once: wsgi.py wrapped in iiscors.CorsMiddleware *and* the middleware in
MIDDLEWARE.  The wrapper meets each request first and handles it; the Django middleware steps
aside (iiscors.layering): no header twice."""

from __future__ import annotations

from corsite.settings import BASE_DIR
from corsite.wsgi import application as django_application
from iiscors import CorsMiddleware

application = CorsMiddleware(django_application, BASE_DIR / "web.config")
