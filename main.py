"""Camera firmware: one capture loop feeding a frame hub that any number of viewers share."""
import asyncio
import sys

import camstream
from camstream import health, net
from camstream.camera import Camera
from camstream.capture import capture_loop
from camstream.hub import FrameHub
from camstream.server import Server
from camstream.viewers import Viewers
from camstream.web import add_routes


async def serve(cfg):
    camera = Camera(cfg["camera.framesize"], cfg["camera.pixformat"], cfg["camera.quality"])
    try:
        camera.reset()  # the sensor before the frame buffers: it may need the heap too
    except Exception as exc:  # the capture loop retries
        print("camera: sensor not ready: %r" % (exc,))
    hub = FrameHub(cfg["camera.buffer_kb"] * 1024, cfg["camera.buffers"])
    viewers = Viewers(hub, cfg["viewers.max"])
    connections = cfg["viewers.max"] + 4
    app = Server(cfg["requests.timeout_s"] * 1000, cfg["requests.max_line"],
                 cfg["requests.max_head"], cfg["requests.max_headers"],
                 cfg["viewers.stall_timeout_s"] * 1000, connections)
    add_routes(app, hub, viewers, cfg["login"])
    jobs = (capture_loop(camera, hub, cfg["camera.fps_cap"]), hub.keepalive(), app.watchdog(),
            net.keep_connected(cfg), health.supervise(hub, app, health.watchdog(), health.Led()),
            announce(app, cfg["port"]))
    for job in jobs:
        asyncio.create_task(job)
    try:
        await app.start_server(port=cfg["port"], backlog=connections)
    except OSError as exc:  # the port in use, or no network
        print("camera: cannot listen on port %d: %r" % (cfg["port"], exc))


async def announce(app, port):
    await app.listening()
    print("camera: serving http://%s:%d/" % (net.address(), port))


def load_settings():
    """Read settings.json, then drop the settings module: its checks are not needed again."""
    from camstream import settings
    cfg = settings.load()
    del sys.modules["camstream.settings"], camstream.settings
    return cfg


def main():
    cfg = load_settings()
    try:
        asyncio.run(serve(cfg))
    except KeyboardInterrupt:
        print("camera: stopped")


main()
