"""Motion detection by frame difference: the mean change between this frame and the last,
on an 8x8-pooled copy (small enough for any board's heap). Copy to vision.py next to main.py.
"""
THRESHOLD = 2  # mean change (0-100) above which the scene counts as moving
POOL = 8  # pool 8x8 pixels into one: QVGA becomes 40x30

previous = None


def process(img):
    global previous
    current = img.mean_pooled(POOL, POOL)  # a new small image: this frame's stays untouched
    if previous is None:
        previous = current
        return None
    level = previous.difference(current).get_statistics().l_mean()  # in place, on the old one
    previous = current
    moving = level > THRESHOLD
    if moving:
        img.draw_string(4, 28, "motion", color=(255, 0, 0), scale=2)
    return {"motion": moving, "level": level}
