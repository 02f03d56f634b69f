"""A board with an SD card at /sdcard (host/sim_card.py), then main.py."""
import sim_card  # noqa: F401
import main  # noqa: F401
