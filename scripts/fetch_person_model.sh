#!/usr/bin/env bash
# Fetch the person (pose) model that shop the look frames garments with: BlazePose's two TFLite files
# (Apache 2.0), taken out of mediapipe's wheel 0.10.21 (the last to carry them) into models/person/.
# The package itself is not installed (it needs numpy < 2 and protobuf < 5, which TensorFlow 2.21 does not
# allow). Needs the package registry; without it, shop the look keeps its windows alone (one line says so).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=models/person
FILES="pose_detection.tflite pose_landmark_full.tflite"
if [ -f "$OUT/pose_detection.tflite" ] && [ -f "$OUT/pose_landmark_full.tflite" ]; then exit 0; fi
PYTHON=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "Fetching the person model (BlazePose, from mediapipe 0.10.21's wheel, about 35 MB)..."
if ! "$PYTHON" -m pip download -q --no-deps --only-binary=:all: "mediapipe==0.10.21" -d "$tmp" >/dev/null 2>&1; then
    echo "The person model could not be fetched (no access to the package registry?): shop the look uses windows alone."
    exit 0
fi
mkdir -p "$OUT"
for f in $FILES; do
    "$PYTHON" - "$tmp" "$f" "$OUT" <<'PY'
import pathlib, sys, zipfile
wheel = next(pathlib.Path(sys.argv[1]).glob("mediapipe-*.whl"))
name, out = sys.argv[2], pathlib.Path(sys.argv[3])
with zipfile.ZipFile(wheel) as z:
    member = next(m for m in z.namelist() if m.endswith("/" + name))
    data = z.read(member)
temp = out / (name + ".part")
temp.write_bytes(data)
temp.replace(out / name)
PY
done
cat > "$OUT/README.md" <<'TXT'
BlazePose (MediaPipe pose detection and full landmark models), Apache License 2.0, Copyright The MediaPipe
Authors; taken unchanged from the mediapipe 0.10.21 wheel by scripts/fetch_person_model.sh.
TXT
echo "Person model in $OUT."
