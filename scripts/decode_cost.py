"""Memory and time one upload or one thumbnail costs, for the worst pictures we accept (and one we refuse).

Each case runs in a fresh Python process (so its peak resident memory is its own): the picture is
written to a temp folder first, then decoded the way the app does it, for an upload (decode, model
input, the kept 1024 px copy) or for a catalogue thumbnail. Prints one JSON line per case:
  {"case", "pixels", "file_kb", "seconds", "peak_extra_mib", "outcome"}
where peak_extra_mib is the rise of the process's peak resident memory over its level after imports.

    python scripts/decode_cost.py            # all cases
    python scripts/decode_cost.py --case upload-png-bomb
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# name -> (what the app does with it, PIL mode, width, height, format)
CASES = {
    "upload-png-bomb": ("upload", "L", 9400, 9400, "PNG"),  # 88 MP in about 100 KB: the attack
    "upload-png-49mp": ("upload", "RGB", 7000, 7000, "PNG"),  # the largest PNG an upload may be
    "upload-jpeg-48mp": ("upload", "RGB", 8000, 6000, "JPEG"),  # a 48-megapixel phone photo
    "thumbnail-jpeg-81mp": ("thumbnail", "RGB", 9000, 9000, "JPEG"),  # a huge catalogue image
}

MAKE = """
import sys
from PIL import Image, ImageDraw
mode, width, height, fmt, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
Image.MAX_IMAGE_PIXELS = None
image = Image.new(mode, (width, height), "white")
ImageDraw.Draw(image).rectangle((width // 4, height // 4, width // 2, height // 2), fill="black")
image.save(path, fmt)
"""

MEASURE = """
import json, resource, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[4])  # the clone's root: the child imports the project however it was started
from PIL import Image
import recommender.images as images
from recommender.errors import ImageError
from recommender.thumbnails import ThumbnailCache
from recommender.uploads import STORED_SIDE

kind, path, cache = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
data = path.read_bytes()
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
try:
    if kind == "upload":  # what Services.add_upload does before the model: one decode, then two reductions
        picture = images.open_upload(data, max_bytes=50 * images.MIB, longest=STORED_SIDE)
        images.fit_to_model(picture, (224, 224))
        picture.copy().thumbnail((STORED_SIDE, STORED_SIDE), Image.Resampling.LANCZOS)
    else:
        ThumbnailCache(cache).of_file(path)
    outcome = "ok"
except ImageError as exc:
    outcome = f"refused: {exc}"
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": round(seconds, 3), "peak_extra_mib": round((peak - base) / 1024, 1), "outcome": outcome}))
"""


def run_case(name: str, folder: Path) -> dict[str, object]:
    kind, mode, width, height, fmt = CASES[name]
    picture = folder / f"{name}.{fmt.lower()}"
    if not picture.exists():
        subprocess.run([sys.executable, "-c", MAKE, mode, str(width), str(height), fmt, str(picture)], check=True)
    done = subprocess.run([sys.executable, "-c", MEASURE, kind, str(picture), str(folder / "cache"), str(ROOT)],
                          capture_output=True, text=True, cwd=ROOT)
    if done.returncode:
        said = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise SystemExit(f"{name}: the measuring process failed ({said}).")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {"case": name, "pixels": width * height, "file_kb": round(picture.stat().st_size / 1024, 1), **result}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=sorted(CASES), action="append", help="run only this case (repeatable)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="decode-cost-") as tmp:
        for name in args.case or CASES:
            print(json.dumps(run_case(name, Path(tmp))), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
