"""Board start-up, on every reset: join Wi-Fi (else open the access point), set the clock,
and say where the camera will be."""


def start():
    from camstream import net, settings
    from camstream.health import Led

    Led().show("connecting")
    cfg = settings.load(warn=lambda *_: None)  # main.py reports settings problems
    address = net.start(cfg)
    print("camera: http://%s:%d/" % (address, cfg["port"]) if address else
          "camera: no network (set wifi, or ap.password, in settings.json)")


start()
del start  # nothing of boot.py stays on the heap for main.py
