"""A minimal Django project for iiscors's tests: the settings a new project has, with
iiscors.django installed and its middleware first, and views that need a login."""
