"""Board start-up, on every reset: join Wi-Fi (else open the access point) and set the clock."""
from camstream import net, settings
from camstream.health import Led

Led().show("connecting")
net.start(settings.load(warn=lambda *_: None))  # main.py reports settings problems
