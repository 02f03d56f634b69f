"""Board start-up: runs on every reset, before main.py. Nothing to do on the host."""
