"""``python -m iiscors``: the same as the ``iiscors`` command."""

from iiscors.cli.main import main

if __name__ == "__main__":
    main()
