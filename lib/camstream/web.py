"""The web app: the live page, the MJPEG stream, a still snapshot, the counters and the
runtime controls."""
import gc
import time

from microdot import Response

from .hub import BOUNDARY

NO_CACHE = "no-store, no-cache, must-revalidate"
REASONS = {400: "Bad Request", 415: "Unsupported Media Type", 500: "Internal Server Error"}

PAGE = __file__.rsplit("/", 1)[0] + "/page.html"  # beside this module: read per request,
# so the page takes no room in the heap between requests


def text(body, status, reason, headers=None):
    """A short plain-text answer with its own reason phrase."""
    hdrs = {"Content-Type": "text/plain; charset=UTF-8"}
    if headers:
        hdrs.update(headers)
    return Response(body + "\n", status, hdrs, reason)


def stream_rate(arg):
    """?fps=N: a number from 0.1 to 120, or None when it is not one."""
    try:
        fps = float(arg)
    except (TypeError, ValueError):
        return None
    return fps if 0.1 <= fps <= 120 else None


def add_routes(app, hub, viewers, guard=None, vision=None, build="", camera=None, name="",
               sections=None, controls=None):
    """Serve `hub` to `viewers` from `app`, a `Server`, with `vision`'s results where there is
    a vision stage and `camera`'s controls (`controls()` gives them); with a `guard` (the
    accounts), only to those who log in, and only GET and HEAD to a viewer.
    `build` names the image, `name` the camera; `sections` adds to /status.json each
    optional feature's part (name: a function giving it)."""
    sections = sections or {}
    started = time.ticks_ms()

    @app.before_request
    async def check_login(request):
        request.g.role = "admin"  # an open camera
        if not guard:
            return
        role, challenge = await guard.admit(request.method, request.url,
                                            request.headers.get("Authorization"))
        if challenge:
            return text("Login required", 401, "Unauthorized", challenge)
        request.g.role = role
        if role != "admin" and request.method not in ("GET", "HEAD"):
            return text("This needs an admin account: %s %s changes the camera, and this "
                        "account may only watch" % (request.method, request.path), 403,
                        "Forbidden")

    @app.errorhandler(404)
    async def not_found(request):
        return text("Not found", 404, "Not Found")

    @app.errorhandler(405)
    async def not_allowed(request):
        return text("Method not allowed", 405, "Method Not Allowed",
                    {"Allow": {"/control": "GET, POST", "/update": "POST"}.get(
                        request.path, "GET, HEAD")})

    @app.errorhandler(413)
    async def too_large(request):
        return text("Payload too large", 413, "Payload Too Large")

    @app.errorhandler(500)
    async def failed(request):
        return text("Internal server error", 500, "Internal Server Error")

    @app.get("/")
    async def index(request):
        return Response.send_file(PAGE, content_type="text/html; charset=UTF-8")

    @app.get("/stream.jpg")
    async def stream(request):
        fps = request.args.get("fps")
        if fps is not None:
            fps = stream_rate(fps)
            if fps is None:
                return text("fps must be a number from 0.1 to 120", 400, "Bad Request")
        if viewers.full() and not app.prune():
            return text("Too many viewers", 503, "Service Unavailable", {"Retry-After": "5"})
        return Response(viewers.open(fps or 0), headers={
            "Content-Type": "multipart/x-mixed-replace; boundary=" + BOUNDARY,
            "Cache-Control": NO_CACHE,
            "Pragma": "no-cache",
            "Connection": "close",
        })

    @app.get("/snapshot.jpg")
    async def snapshot(request):
        frame = hub.frame
        if frame is None:
            return text("No frame yet", 503, "Service Unavailable", {"Retry-After": "1"})
        return Response(viewers.still(frame), headers={
            "Content-Type": "image/jpeg",
            "Content-Length": str(len(frame.jpeg)),
            "Cache-Control": "no-store",
            "X-Timestamp": frame.stamp,
            "X-Frame-Age": "%.3f" % (frame.age_ms() / 1000),
        })

    @app.get("/vision.json")
    async def vision_result(request):
        if vision is None:
            return text("No vision stage (no vision.py)", 404, "Not Found")
        if vision.latest is None:
            return text("No result yet", 503, "Service Unavailable", {"Retry-After": "1"})
        return Response(vision.latest, headers={"Content-Type": "application/json",
                                                "Cache-Control": "no-store"})

    if vision:  # the event stream's code is loaded only for a vision stage
        from .events import Events, EventStream
        events = Events(vision)
    else:
        events = EventStream = None

    @app.get("/events")
    async def event_stream(request):
        if events is None:
            return text("No vision stage (no vision.py)", 404, "Not Found")
        if viewers.full(EventStream) and not app.prune():
            return text("Too many listeners", 503, "Service Unavailable", {"Retry-After": "5"})
        return Response(EventStream(viewers, events), headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "Connection": "close",
        })

    @app.route("/control", methods=["GET", "POST"])
    async def control(request):
        if request.method != "POST":
            return controls().describe()
        status, answer = await controls().post(request.headers.get("Content-Type"), request.body)
        return answer if status == 200 else text(answer, status, REASONS[status])

    if not (guard and guard.admins()):
        @app.post("/update")
        async def no_update(request):
            return text("Updates need a login, so that nobody else can replace the camera's "
                        "code: set login.user and login.password (or an admin in users) in "
                        "settings.json", 403, "Forbidden")

    @app.get("/status.json")
    async def status(request):
        gc.collect()
        frame = hub.frame
        answer = {
            "name": name,
            "build": build,
            "uptime_s": time.ticks_diff(time.ticks_ms(), started) // 1000,
            "captures": hub.captures,
            "capture_errors": hub.capture_errors,
            "frame_age_ms": frame.age_ms() if frame else None,
            "frame_bytes": len(frame.jpeg) if frame else 0,
            "framesize": camera.framesize if camera else None,
            "frames_skipped": hub.skipped,
            "viewers_evicted": hub.evicted,
            "frame_buffers": len(hub.pool),
            "frame_buffers_kb": sum(len(buffer.buf) for buffer in hub.pool) // 1024,
            "viewers": viewers.streams,
            "listeners": viewers.count(EventStream) if events else 0,
            "viewer_limit": viewers.limit,
            "viewers_served": viewers.served,
            "requests_rejected": app.rejected,
            "requests_timed_out": app.timed_out,
            "connections": len(app.open),
            "connections_stalled": app.stalled,
            "connections_turned_away": app.turned_away,
            "socket_errors": app.socket_errors,
            "logins_refused": guard.failures if guard else 0,
            "role": request.g.role,  # the asker's: the page shows a viewer no controls
            "heap_used": gc.mem_alloc(),
            "heap_free": gc.mem_free(),
            "vision": vision.stats() if vision else None,
        }
        for section, stats in sections.items():
            answer[section] = stats()
        return answer

    return app
