"""Camera firmware: one capture loop feeding a frame hub that any number of viewers share."""
import asyncio
import sys

import camstream
from camstream.camera import Camera
from camstream.hub import FrameHub


def load_settings():
    """Read settings.json, then drop the settings module: its checks are not needed again."""
    from camstream import settings
    cfg = settings.load()
    del sys.modules["camstream.settings"], camstream.settings
    return cfg


def frame_source(cfg):
    """The sensor and the frame buffers, before the rest of the code is loaded: they are the
    largest blocks, and taken first they leave the heap's free space in one piece."""
    camera = Camera(cfg["camera.framesize"], cfg["camera.pixformat"], cfg["camera.quality"])
    try:
        camera.reset()
    except Exception as exc:  # the capture loop retries
        print("camera: sensor not ready: %r" % (exc,))
    return camera, FrameHub(cfg["camera.buffer_kb"] * 1024, cfg["camera.buffers"])


CFG = load_settings()
CAMERA, HUB = frame_source(CFG)

from camstream import health, net  # noqa: E402 - after the frame buffers, on purpose
from camstream.capture import capture_loop  # noqa: E402
from camstream.server import Server  # noqa: E402
from camstream.viewers import Viewers  # noqa: E402
from camstream.vision import load as load_vision  # noqa: E402
from camstream.web import add_routes  # noqa: E402


async def serve(cfg, camera, hub):
    vision = load_vision()
    if vision:
        vision.start(camera)
    viewers = Viewers(hub, cfg["viewers.max"])
    connections = cfg["viewers.max"] + 4
    app = Server(cfg["requests.timeout_s"] * 1000, cfg["requests.max_line"],
                 cfg["requests.max_head"], cfg["requests.max_headers"],
                 cfg["viewers.stall_timeout_s"] * 1000, connections)
    add_routes(app, hub, viewers, cfg["login"], vision)
    stages = (vision,) if vision else ()
    jobs = (capture_loop(camera, hub, cfg["camera.fps_cap"], stages), hub.keepalive(),
            app.watchdog(),
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


def main():
    try:
        asyncio.run(serve(CFG, CAMERA, HUB))
    except KeyboardInterrupt:
        print("camera: stopped")


main()
