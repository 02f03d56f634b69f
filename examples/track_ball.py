"""Colour-blob tracking: a box and a cross on the largest blob of the colour below, and its
centre and size as the result. Copy to vision.py next to main.py.

On a board it tracks any object of that colour: set THRESHOLDS to its LAB range (OpenMV IDE:
Tools > Machine Vision > Threshold Editor). The default picks out white and bright objects.
"""
THRESHOLDS = [(80, 100, -20, 20, -20, 20)]  # (L min, L max, A min, A max, B min, B max)
MIN_PIXELS = 200  # smaller blobs are noise


def process(img):
    blobs = img.find_blobs(THRESHOLDS, pixels_threshold=MIN_PIXELS, area_threshold=MIN_PIXELS,
                           merge=True)
    if not blobs:
        return {"found": False}
    blob = max(blobs, key=lambda b: b.pixels())
    img.draw_rectangle(blob.rect(), color=(255, 0, 0), thickness=2)
    img.draw_cross(blob.cx(), blob.cy(), color=(255, 0, 0))
    return {"found": True, "x": blob.cx(), "y": blob.cy(), "w": blob.w(), "h": blob.h(),
            "pixels": blob.pixels()}
