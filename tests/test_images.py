"""Image decoding: every odd-but-valid photo is accepted and normalised, every bad file is one clear error."""

from __future__ import annotations

import io
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

import recommender.images as images
from recommender.errors import ImageError
from recommender.images import DEFAULT_MAX_BYTES, UPLOAD_MAX_PIXELS, load_for_model, open_image, open_upload, size_error


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def gradient(width: int = 64, height: int = 48) -> Image.Image:
    """An RGB image whose pixels differ across both axes, so rotations and resizes are visible."""
    y, x = np.mgrid[0:height, 0:width]
    pixels = np.stack([x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1), np.full_like(x, 90)], axis=-1)
    return Image.fromarray(pixels.astype(np.uint8), mode="RGB")


def assert_rgb8(image: Image.Image, size: tuple[int, int]) -> np.ndarray:
    assert image.mode == "RGB"
    assert image.size == size
    return np.asarray(image)


# --- accepted images -----------------------------------------------------------------------------


def test_rgba_png_is_composited_on_white() -> None:
    image = Image.new("RGBA", (4, 4), (255, 0, 0, 0))  # fully transparent red
    image.putpixel((0, 0), (255, 0, 0, 255))  # one opaque red pixel
    image.putpixel((1, 0), (0, 0, 0, 128))  # half-transparent black
    pixels = assert_rgb8(open_image(encode(image, "PNG")), (4, 4))
    assert tuple(pixels[0, 0]) == (255, 0, 0)
    assert tuple(pixels[3, 3]) == (255, 255, 255)  # transparent -> white, not black or red
    assert all(120 <= c <= 135 for c in pixels[0, 1])  # 50% black over white -> mid grey


def test_la_png_is_composited_on_white() -> None:
    image = Image.new("LA", (3, 3), (0, 0))
    image.putpixel((1, 1), (0, 255))
    pixels = assert_rgb8(open_image(encode(image, "PNG")), (3, 3))
    assert tuple(pixels[0, 0]) == (255, 255, 255)
    assert tuple(pixels[1, 1]) == (0, 0, 0)


def test_palette_png_with_transparency_is_composited_on_white() -> None:
    image = Image.new("P", (3, 3), 0)
    image.putpalette([0, 0, 0, 0, 0, 255] + [0] * 762)  # index 0 black, index 1 blue
    image.putpixel((2, 2), 1)
    data = encode(image, "PNG", transparency=0)
    assert Image.open(io.BytesIO(data)).mode == "P"
    pixels = assert_rgb8(open_image(data), (3, 3))
    assert tuple(pixels[0, 0]) == (255, 255, 255)  # transparent index -> white
    assert tuple(pixels[2, 2]) == (0, 0, 255)


@pytest.mark.parametrize("mode", ["L", "1"])
def test_greyscale_and_bilevel(mode: str) -> None:
    image = Image.new(mode, (5, 2), 0)
    image.putpixel((4, 1), 255 if mode == "L" else 1)
    pixels = assert_rgb8(open_image(encode(image, "PNG")), (5, 2))
    assert tuple(pixels[0, 0]) == (0, 0, 0)
    assert tuple(pixels[1, 4]) == (255, 255, 255)


def test_cmyk_jpeg() -> None:
    image = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # pure red in CMYK
    data = encode(image, "JPEG", quality=95)
    assert Image.open(io.BytesIO(data)).mode == "CMYK"
    pixels = assert_rgb8(open_image(data), (16, 16)).astype(int)
    red, green, blue = pixels[8, 8]
    assert red > 230 and green < 25 and blue < 25


def test_sixteen_bit_png_is_scaled_not_clipped() -> None:
    values = np.array([[0, 257 * 64, 257 * 128, 65535]], dtype=np.uint16)
    data = encode(Image.fromarray(values), "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I")
    pixels = assert_rgb8(open_image(data), (4, 1))
    assert list(pixels[0, :, 0]) == [0, 64, 128, 255]  # clipping would give [0, 255, 255, 255]
    assert (pixels[..., 0] == pixels[..., 2]).all()


def test_exif_rotated_jpeg_is_made_upright() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to view
    data = encode(gradient(64, 48), "JPEG", quality=95, exif=exif)
    pixels = assert_rgb8(open_image(data), (48, 64))  # width and height swapped
    # After a clockwise turn the original left edge (red 0) is at the top.
    assert pixels[0, :, 0].mean() < 40 and pixels[-1, :, 0].mean() > 215


def test_tiny_image() -> None:
    data = encode(Image.new("RGB", (1, 1), (10, 200, 30)), "PNG")
    assert tuple(np.asarray(open_image(data))[0, 0]) == (10, 200, 30)
    array = load_for_model(data, (224, 224))
    assert array.shape == (224, 224, 3) and array.dtype == np.uint8
    assert (array == (10, 200, 30)).all()


def test_huge_jpeg_is_decoded_and_resized(tmp_path: Path) -> None:
    path = tmp_path / "huge.jpg"
    gradient(6000, 4000).save(path, quality=80)
    assert open_image(path).size == (6000, 4000)
    array = load_for_model(path, (299, 299))
    assert array.shape == (299, 299, 3) and array.dtype == np.uint8
    # Whole-image resize, no crop: the red ramp still runs from the left edge to the right edge.
    assert array[:, 0, 0].mean() < 10 and array[:, -1, 0].mean() > 245


def test_iphone_heic_photo_is_accepted() -> None:
    """An HEIC file as an iPhone sends it (made here by pillow-heif's own encoder)."""
    data = encode(gradient(64, 48), "HEIF", quality=90)
    assert data[4:12] == b"ftypheic"
    pixels = assert_rgb8(open_upload(data, max_bytes=DEFAULT_MAX_BYTES, longest=1024), (64, 48))
    assert pixels[:, 0, 0].mean() < 40 and pixels[:, -1, 0].mean() > 215  # the red ramp survived the codec
    assert load_for_model(data, (16, 16)).shape == (16, 16, 3)


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF", "PPM"])
def test_an_upload_is_a_jpeg_png_webp_or_heic_and_says_so(fmt: str) -> None:
    """The formats the page and the README name, and only those: the others get the sentence that names them
    (catalogue images, which the merchant chose, may be any format Pillow reads)."""
    data = encode(gradient(64, 48), fmt)
    with pytest.raises(ImageError, match=r"^The file is not a photo we can use; please use a JPEG, PNG, WebP or "
                                         r"HEIC photo\.$"):  # a GIF is readable: "we cannot read" would be untrue
        open_upload(data, max_bytes=DEFAULT_MAX_BYTES, longest=1024)
    assert open_image(data).size == (64, 48)
    for named in ("JPEG", "PNG", "WEBP", "HEIF"):
        assert open_upload(encode(gradient(64, 48), named), max_bytes=DEFAULT_MAX_BYTES, longest=1024).size == (64, 48)


@pytest.mark.parametrize("fmt, mode", [("JPEG", "RGB"), ("PNG", "RGB"), ("PNG", "P"), ("PNG", "I;16"), ("WEBP", "RGBA")])
def test_a_large_picture_is_decoded_only_as_large_as_needed(fmt: str, mode: str) -> None:
    """Uploads and thumbnails keep a longest side of at least `longest`, never the full size."""
    source = gradient(4000, 3000) if mode != "I;16" else Image.new("I;16", (4000, 3000), 40000)
    data = encode(source.convert(mode) if mode not in ("RGB", "I;16") else source, fmt)
    picture = open_upload(data, max_bytes=50 * images.MIB, longest=1000)
    assert picture.mode == "RGB" and 1000 <= max(picture.size) < 2000
    assert abs(picture.width / picture.height - 4 / 3) < 0.01
    full = open_image(data)
    assert full.size == (4000, 3000)  # without `longest`, the full size
    def coarse(image: Image.Image) -> np.ndarray:  # blocks average out palette dithering
        return np.asarray(image.resize((40, 30), Image.Resampling.BOX), dtype=np.float32)

    assert np.abs(coarse(picture) - coarse(full)).mean() < 6  # the same picture, smaller


def test_uploads_have_a_lower_pixel_limit_than_catalogue_images() -> None:
    side = int(UPLOAD_MAX_PIXELS**0.5) + 1
    data = encode(Image.new("L", (side, side)), "PNG")  # a small file of more pixels than an upload may have
    with pytest.raises(ImageError, match="more than 50 megapixels"):
        open_upload(data, max_bytes=DEFAULT_MAX_BYTES, longest=1024)
    assert 100 <= open_image(data, longest=100).width < 200  # a trusted catalogue file of that size still opens


def test_large_decodes_take_turns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two threads decoding large pictures at once never hold two full-size decodes."""
    import threading

    monkeypatch.setattr(images, "LARGE_DECODE_BYTES", 100_000)
    inside, most = [0], [0]
    lock = threading.Lock()
    real_reduce = images._reduce

    def counting_reduce(image, box):
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        try:
            return real_reduce(image, box)
        finally:
            with lock:
                inside[0] -= 1

    monkeypatch.setattr(images, "_reduce", counting_reduce)
    data = encode(gradient(400, 300), "PNG")  # 360,000 bytes of pixels: a "large" decode here
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        with ThreadPoolExecutor(6) as pool:
            sizes = list(pool.map(lambda _: open_image(data, longest=100).size, range(30)))
    finally:
        sys.setswitchinterval(interval)
    assert sizes == [(100, 75)] * 30 and most[0] == 1


@pytest.mark.parametrize("size", [-5, 0, "1e999", float("inf"), float("nan"), None, [1], True, 1024])
def test_a_browser_reported_size_that_is_no_byte_count_gets_a_sentence(size: object) -> None:
    message = str(size_error(size, 1024))
    assert message == "The browser reported an impossible file size; please choose the photo again."
    assert str(size_error(3 * 1024 * 1024, 1024 * 1024)) == "The file is 3 MB, more than the 1 MB limit for images."


def test_load_for_model_size_is_height_width() -> None:
    array = load_for_model(encode(gradient(64, 48), "PNG"), (30, 40))
    assert array.shape == (30, 40, 3)
    # The green ramp follows rows and the red ramp columns, as in the source.
    assert array[0, :, 1].mean() < array[-1, :, 1].mean()
    assert array[:, 0, 0].mean() < array[:, -1, 0].mean()


def test_path_and_bytes_give_the_same_pixels(tmp_path: Path) -> None:
    data = encode(gradient(), "JPEG", quality=90)
    path = tmp_path / "photo.jpg"
    path.write_bytes(data)
    assert np.array_equal(load_for_model(path, (32, 32)), load_for_model(data, (32, 32)))


# --- rejected files --------------------------------------------------------------------------------


def test_zero_bytes(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    for source in (b"", empty):
        with pytest.raises(ImageError, match="empty"):
            open_image(source)


def test_not_an_image(tmp_path: Path) -> None:
    text = tmp_path / "notes.jpg"
    text.write_text("this is not a photo\n")
    with pytest.raises(ImageError, match="not a photo we can use"):
        open_image(text)


def test_truncated_jpeg() -> None:
    data = encode(gradient(200, 150), "JPEG", quality=90)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    for cut in (data[: len(data) // 2], data[:-200]):
        with pytest.raises(ImageError, match="damaged or incomplete"):
            open_image(cut)
        with pytest.raises(ImageError, match="damaged or incomplete"):
            load_for_model(cut, (32, 32))  # the draft (reduced) decode must not hide the damage
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_corrupt_png() -> None:
    data = bytearray(encode(gradient(), "PNG"))
    data[60:80] = b"\x00" * 20  # clobber the image data and its checksum
    with pytest.raises(ImageError, match="damaged or incomplete"):
        open_image(bytes(data))


@pytest.mark.parametrize("pixels", [1000 * 1000, 3000 * 3000])  # above 1x (a warning) and 2x (an error)
def test_decompression_bomb(monkeypatch: pytest.MonkeyPatch, pixels: int) -> None:
    side = int(pixels**0.5)
    data = encode(Image.new("L", (side, side)), "PNG")  # small file, many pixels
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 600_000)
    with pytest.raises(ImageError, match="too many pixels"):
        open_image(data)
    with pytest.raises(ImageError, match="too many pixels"):
        load_for_model(data, (224, 224))


def test_over_the_size_limit() -> None:
    data = encode(gradient(), "PNG")
    assert open_image(data, max_bytes=len(data)).size == (64, 48)
    with pytest.raises(ImageError, match=r"more than the 0\.5 MB limit"):
        open_image(data + b"\x00" * (600 * 1024), max_bytes=512 * 1024)
    with pytest.raises(ImageError, match="more than the 10 MB limit"):
        load_for_model(b"\xff" * (DEFAULT_MAX_BYTES + 1), (8, 8), max_bytes=DEFAULT_MAX_BYTES)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="does not exist"):
        open_image(tmp_path / "nope.jpg")


def test_parallel_decoding_leaves_the_warnings_filter_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bombs are refused from many threads at once, and the process-wide warnings filters stay as they were."""
    before = list(warnings.filters)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 600_000)
    good, bomb = encode(gradient(), "JPEG"), encode(Image.new("L", (1000, 1000)), "PNG")

    def attempt(data: bytes) -> str:
        try:
            return open_image(data).mode
        except ImageError as exc:
            return str(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often, so that overlaps really happen
    try:
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(attempt, [good, bomb] * 500))
    finally:
        sys.setswitchinterval(interval)
    assert results[0::2] == ["RGB"] * 500
    assert all("too many pixels" in r for r in results[1::2])
    assert warnings.filters == before
