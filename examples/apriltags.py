"""AprilTags, on a board only (the simulator has no tags to find): a box and a cross on each
tag, and each tag's id, centre and rotation as the result. Copy to vision.py next to main.py.

find_apriltags needs QQVGA or QVGA frames (camera.framesize in settings.json) and takes tens
of milliseconds a frame: EVERY spreads it over frames so the stream keeps its rate.
"""
EVERY = 2


def process(img):
    tags = img.find_apriltags()
    for tag in tags:
        img.draw_rectangle(tag.rect(), color=(0, 255, 0))
        img.draw_cross(tag.cx(), tag.cy(), color=(0, 255, 0))
    return [{"id": tag.id(), "x": tag.cx(), "y": tag.cy(), "rotation": tag.rotation()}
            for tag in tags]
