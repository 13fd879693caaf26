"""Writes the JPEG test fixtures and their references decoded by Pillow (saved losslessly as PNG).

Run once with Pillow (built with libjpeg-turbo): python3 make_jpeg_fixtures.py
The Swift tests decode each JPEG with TurboJPEG and compare with the reference PNG.
"""
import io
import os
import random

from PIL import Image

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "jpeg")
os.makedirs(here, exist_ok=True)
rng = random.Random(7)


def picture(width, height):
    """Smooth colour ramps plus a little noise: something a JPEG codec has to work on."""
    img = Image.new("RGB", (width, height))
    px = img.load()
    for y in range(height):
        for x in range(width):
            px[x, y] = (
                (x * 255) // max(1, width - 1),
                (y * 255) // max(1, height - 1),
                min(255, max(0, 128 + rng.randint(-60, 60))),
            )
    return img


def save(img, name, **options):
    path = os.path.join(here, name + ".jpg")
    img.save(path, "JPEG", **options)
    Image.open(path).save(os.path.join(here, name + ".png"))  # Pillow's decode, lossless
    return path


rgb = picture(37, 23)
baseline = save(rgb, "baseline-420", quality=90, subsampling=2)
save(rgb, "baseline-444", quality=95, subsampling=0)
save(picture(41, 17), "progressive", quality=85, progressive=True)
save(picture(19, 31).convert("L"), "gray", quality=90)
picture(9, 7).convert("CMYK").save(os.path.join(here, "cmyk.jpg"), "JPEG", quality=90)
data = open(baseline, "rb").read()
open(os.path.join(here, "truncated.jpg"), "wb").write(data[: len(data) * 9 // 10])          # inside the scan
open(os.path.join(here, "truncated-header.jpg"), "wb").write(data[: len(data) * 3 // 10])   # inside the tables
buffer = io.BytesIO()
rgb.save(buffer, "PNG")
open(os.path.join(here, "png-named.jpg"), "wb").write(buffer.getvalue())
open(os.path.join(here, "text-named.jpg"), "wb").write(b"this is not an image\n")
