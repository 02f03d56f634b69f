"""A board's start-up on the host: boot.py, then main.py, in one interpreter."""
import boot  # noqa: F401
import main  # noqa: F401
