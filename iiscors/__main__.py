"""``python -m iiscors``: the same as the ``iiscors`` command."""

from iiscors.cli import main

if __name__ == "__main__":
    main()
