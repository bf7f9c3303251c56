"""Hosting: ``iiscors serve`` (a WSGI app, a static site or a reverse proxy behind the
middleware), the playground and the built-in demo.  The top room: it may use every other room,
and none uses it except the command line's lazy commands."""
