"""Render the simulated sensor's test card: QVGA JPEG frames with visible motion, and
`truth.json`: where the ball is in each frame, for the stand-in's vision methods.

The same frames at other frame sizes and JPEG qualities go in folders `SIZE-qQUALITY`
(`QQVGA-q85`, `QVGA-q30` ...): the stand-in serves the one its settings select.

Usage: python tools/make_testcard.py OUT_DIR [FRAMES]
"""
import json
import math
import os
import random
import sys

from PIL import Image, ImageDraw

WIDTH, HEIGHT = 320, 240
QUALITY = 85
SIZES = {"QQVGA": (160, 120), "QVGA": (320, 240), "VGA": (640, 480)}
QUALITIES = (10, 30, 50, 70, 85, 95)
BALL_RADIUS = 22
BARS = [(192, 192, 192), (192, 192, 0), (0, 192, 192), (0, 192, 0),
        (192, 0, 192), (192, 0, 0), (0, 0, 192)]


def background(seed=7):
    """Colour bars over a fine, fixed texture (gives a realistic JPEG size)."""
    img = Image.new("RGB", (WIDTH, HEIGHT))
    draw = ImageDraw.Draw(img)
    bar = WIDTH // len(BARS) + 1
    for i, colour in enumerate(BARS):
        draw.rectangle([i * bar, 0, (i + 1) * bar, HEIGHT * 2 // 3], fill=colour)
    for x in range(WIDTH):
        level = x * 255 // (WIDTH - 1)
        draw.line([x, HEIGHT * 2 // 3, x, HEIGHT], fill=(level, level, level))
    rng = random.Random(seed)
    px = img.load()
    for y in range(HEIGHT):
        for x in range(WIDTH):
            r, g, b = px[x, y]
            n = rng.randint(-14, 14)
            px[x, y] = (max(0, min(255, r + n)), max(0, min(255, g + n)),
                        max(0, min(255, b + n)))
    return img


def ball(i, count):
    """The ball's centre in frame `i`: it circles the card once every `count` frames."""
    angle = 2 * math.pi * i / count
    return WIDTH // 2 + int(110 * math.cos(angle)), HEIGHT // 3 + int(60 * math.sin(angle))


def frame(base, i, count):
    """One frame: a ball circling the card, a sweeping bar and the frame number."""
    img = base.copy()
    draw = ImageDraw.Draw(img)
    cx, cy = ball(i, count)
    r = BALL_RADIUS
    draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(255, 255, 255),
                 outline=(0, 0, 0), width=3)
    sweep = i * WIDTH // count
    draw.rectangle([sweep, HEIGHT - 30, sweep + 12, HEIGHT - 1], fill=(255, 64, 0))
    draw.rectangle([4, 4, 92, 22], fill=(0, 0, 0))
    draw.text((8, 8), "frame %02d" % i, fill=(255, 255, 255))
    return img


def main(out_dir, count=30):
    os.makedirs(out_dir, exist_ok=True)
    base = background()
    sizes = []
    for i in range(count):
        path = os.path.join(out_dir, "%02d.jpg" % i)
        img = frame(base, i, count)
        img.save(path, "JPEG", quality=QUALITY)
        sizes.append(os.path.getsize(path))
        for name, size in SIZES.items():
            scaled = img if size == (WIDTH, HEIGHT) else img.resize(size, Image.BILINEAR)
            for quality in QUALITIES:
                for suffix, picture, sampling in (("", scaled, 2), ("-422", scaled, 1),
                                                  ("-444", scaled, 0),
                                                  ("-gray", scaled.convert("L"), 0)):
                    folder = os.path.join(out_dir, "%s-q%d%s" % (name, quality, suffix))
                    os.makedirs(folder, exist_ok=True)
                    picture.save(os.path.join(folder, "%02d.jpg" % i), "JPEG", quality=quality,
                                 subsampling=sampling)
    with open(os.path.join(out_dir, "truth.json"), "w") as f:
        json.dump({"radius": BALL_RADIUS, "balls": [ball(i, count) for i in range(count)]}, f)
    print("test card: %d frames, %d to %d bytes, in %s"
          % (count, min(sizes), max(sizes), out_dir))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 30)
