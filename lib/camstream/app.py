"""The camera application: one capture loop feeding a frame hub that any number of viewers
share, served over the network."""
import asyncio
import gc

from . import forget
from .camera import Camera
from .hub import FrameHub


def load_settings():
    """Read settings.json, then drop the settings module (and the options and checks it
    used): they are not needed again, and their room is free before the frame buffers are
    taken."""
    from . import settings
    cfg = settings.load()
    forget("settings", "options", "checks")
    return cfg


def frame_source(cfg):
    """The sensor and the frame buffers, before the rest of the code is loaded: they are the
    largest blocks, and taken first they leave the heap's free space in one piece."""
    camera = Camera(cfg["camera.framesize"], cfg["camera.pixformat"], cfg["camera.quality"],
                    cfg["camera.fps_cap"], cfg["camera.picture"])
    try:
        camera.reset()
    except Exception as exc:  # the capture loop retries
        print("camera: sensor not ready: %r" % (exc,))
    return camera, FrameHub(cfg["camera.buffer_kb"] * 1024, cfg["camera.buffers"])


async def serve(cfg, camera, hub):
    from . import health, net, stack
    from .build import ID
    from .capture import capture_loop
    from .server import Server
    from .viewers import Viewers
    from .vision import load as load_vision
    from .web import add_routes

    vision = load_vision()
    if vision:
        vision.start(camera)
    else:
        del load_vision
        forget("vision")  # no vision.py: the stage's code leaves the heap
    limits = stack.limits()
    connections, most, rtsp_connections = stack.budget(
        limits, cfg["viewers.max"], 1 if cfg["mqtt.host"] else 0, cfg["rtsp"])
    del stack
    forget("stack")  # read once: its code leaves the heap
    app = Server(cfg["requests.timeout_s"] * 1000, cfg["requests.max_line"],
                 cfg["requests.max_head"], cfg["requests.max_headers"],
                 cfg["viewers.stall_timeout_s"] * 1000, connections, limits)
    viewers = Viewers(hub, most, app.writer)
    if app.link:  # a paced frame takes longer: only a viewer the link would drop is evicted
        from .link import STUCK_MS
        hub.evict_ms = 2 * STUCK_MS
    controls = shared_controls(camera, hub)
    sections = {"update": update_status}  # more parts of /status.json, by name
    if app.link:
        sections["link"] = app.link.stats
    if cfg["mqtt.host"]:  # the optional features, each plugged in when settings ask for it
        sections["mqtt"] = plug("mqtt")(cfg, hub, viewers, vision, controls, ID, net.address,
                                        app.link)
    if cfg["record"]:
        sections["record"] = plug("record")(app, cfg, hub, vision)
    guard = None if cfg["accounts"] is None else plug("accounts")(
        cfg["accounts"], cfg["auth.realm"], cfg["auth.basic"], cfg["auth.nonce_s"])
    if guard and guard.admins():  # updates over the network only for an admin (web.py says why)
        plug("update")(app, ID)
    if cfg["rtsp"]:
        sections["rtsp"] = plug("rtsp")(cfg, hub, viewers, guard, net.address, app,
                                        rtsp_connections)
    add_routes(app, hub, viewers, guard, vision, ID, camera, cfg["name"], sections, controls)
    stages = (vision,) if vision else ()
    watched = (lambda: True) if vision else viewers.watching
    jobs = (capture_loop(camera, hub, stages, cfg["camera.idle_fps"], watched), hub.keepalive(),
            app.watchdog(), net.keep_connected(cfg),
            health.supervise(hub, app, health.take_over_watchdog(), health.Led()),
            announce(app, cfg["port"], cfg["name"], net.address), trial(hub, app, ID))
    for job in jobs:
        if job:
            asyncio.create_task(job)
    keep_free_heap_whole()
    try:
        # on lwIP, room in the accept queue for every connection it can hold: a full queue
        # is answered with a reset
        await app.start_server(port=cfg["port"],
                               backlog=limits.connections if limits else connections)
    except OSError as exc:  # the port in use, or no network
        print("camera: cannot listen on port %d: %r" % (cfg["port"], exc))


def plug(feature):
    """An optional feature's `plug` function: its package, camstream/<feature>/, is loaded
    here, and only here, when settings ask for the feature."""
    return __import__("camstream." + feature, None, None, ("plug",)).plug


def shared_controls(camera, hub):
    """A function giving the camera's runtime controls, one for all who change them, made
    on first use: until then their code takes no heap."""
    made = []

    def controls():
        if not made:
            from .controls import Controls
            made.append(Controls(camera, hub))
        return made[0]
    return controls


def update_status():
    """/status.json's `update` section: the slots' code is loaded for it, then let go."""
    from . import slots
    answer = slots.status()
    forget("slots")
    return answer


def trial(hub, app, build):
    """The job confirming this image once it has served a while, when it runs on trial;
    else None, and the slots' code is let go."""
    from . import slots
    if slots.on_trial():
        return slots.confirm(hub, app, build)
    forget("slots")


def keep_free_heap_whole():
    """Collect garbage whenever a quarter of the free heap has been allocated, not only when
    it runs out: what outlives a collection (a viewer's connection) then lands beside what
    lives already, rather than anywhere in the free heap, which stays in large pieces for the
    user's vision.py."""
    gc.collect()
    gc.threshold(gc.mem_free() // 4)


async def announce(app, port, name, address):
    await app.listening()
    print("camera: serving http://%s:%d/ (http://%s.local%s/)" % (
        address(), port, name, "" if port == 80 else ":%d" % port))


def start_network(cfg):
    """Join Wi-Fi (else open the access point) and set the clock: the one blocking step of a
    start, bounded, with the watchdog fed meanwhile (see health.feed_at_repl)."""
    from . import health, net
    cfg["name"] = cfg["name"] or net.default_name()
    health.Led().show("connecting")
    health.feed_for(net.longest_start_ms(cfg))  # an image on trial: its window covers it
    if not net.start(cfg):
        print("camera: no network (set wifi, or ap.password, in settings.json)")
    if cfg["mqtt.host"]:  # looked up now: later, a look-up would hold the serving loop
        from .mqtt.client import resolve
        cfg["mqtt.host"] = resolve(cfg["mqtt.host"])


def main():
    cfg = load_settings()
    camera, hub = frame_source(cfg)
    try:
        start_network(cfg)
        asyncio.run(serve(cfg, camera, hub))
    except KeyboardInterrupt:
        print("camera: stopped")
    finally:
        from . import health
        health.feed_at_repl()  # the watchdog outlives us: keep it fed at the REPL
