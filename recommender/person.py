"""A person in a photo and the places their garments sit: a pose model, so shop the look frames each garment.

Windows over a photo rarely frame a worn garment well; a person's joints do (the shoulders and hips bound a
top, the hips and ankles trousers). The model is BlazePose (MediaPipe, Apache 2.0), two TFLite files that
mediapipe's wheels up to 0.10.21 carry inside them (`scripts/fetch_person_model.sh` takes them out into
`models/person/`; the package itself does not install beside TensorFlow 2.21). Its detector finds a person
by the face and returns the hip centre and the body's size; the landmark model then places 33 joints in a
square around them. Without the files, or without a person, shop the look keeps its windows alone.

Photos are upright (EXIF rotation applied), so the square is not rotated: a person leaning far is missed.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from recommender.regions import Box
from recommender.settings import PROJECT_ROOT

__all__ = ["PERSON_MODEL_DIR", "Person", "PersonModel", "person_model", "garment_places"]

log = logging.getLogger(__name__)

PERSON_MODEL_DIR = PROJECT_ROOT / "models" / "person"
DETECTOR, LANDMARKS = "pose_detection.tflite", "pose_landmark_full.tflite"
DETECTED = 0.8  # the detector this sure: 0.1 % of the demo's and 0.4 % of clothing-small train's garments laid
# flat pass it, 69 % of Kaggle's worn tops, bottoms and dresses (MediaPipe's 0.5: 5.1 %, 2.5 %, 72 %; README)
PRESENT = 0.5  # the landmark model's own threshold that a person is there (MediaPipe's default; a probability)
INPUTS = {DETECTOR: (1, 224, 224, 3), LANDMARKS: (1, 256, 256, 3)}  # what each file must take
OUTPUTS = {DETECTOR: {"Identity", "Identity_1"}, LANDMARKS: {"Identity", "Identity_1"}}  # ... and give
SEEN = 0.5  # a joint this visible counts
_STRIDES = (8, 16, 32, 32, 32)  # the detector's anchor layers (MediaPipe's pose_detection graph)
# BlazePose's joints used here
NOSE, LEFT_EAR, RIGHT_EAR = 0, 7, 8
SHOULDERS, ELBOWS, HIPS, KNEES, ANKLES, FEET = (11, 12), (13, 14), (23, 24), (25, 26), (27, 28), (29, 30, 31, 32)


@dataclass(frozen=True)
class Person:
    """A person found in a photo: 33 joints as (x, y) fractions of the photo and how visible each is."""

    joints: np.ndarray  # (33, 2)
    visible: np.ndarray  # (33,) in [0, 1]
    score: float

    def seen(self, joints: tuple[int, ...]) -> np.ndarray:
        """The (m, 2) places of those of `joints` that are visible."""
        rows = [j for j in joints if self.visible[j] >= SEEN]
        return self.joints[rows].reshape(-1, 2)


def _anchors() -> np.ndarray:
    """(2254, 2) anchor centres of the detector, in fractions of its 224-pixel input."""
    centres, layer = [], 0
    while layer < len(_STRIDES):
        same = sum(1 for s in _STRIDES[layer:] if s == _STRIDES[layer])  # layers of one stride share a grid
        side = int(np.ceil(224 / _STRIDES[layer]))
        grid = (np.stack(np.meshgrid(np.arange(side), np.arange(side)), axis=-1).reshape(-1, 2) + 0.5) / side
        centres.append(np.repeat(grid, 2 * same, axis=0))
        layer += same
    return np.concatenate(centres).astype(np.float32)


def _letterboxed(image: Image.Image, size: int) -> tuple[np.ndarray, float, float, float]:
    """The photo scaled into a black square of `size`, and how to map back: (pixels, scale, pad x, pad y)."""
    scale = size / max(image.size)
    width, height = max(1, round(image.width * scale)), max(1, round(image.height * scale))
    square = Image.new("RGB", (size, size))
    pad_x, pad_y = (size - width) // 2, (size - height) // 2
    square.paste(image.resize((width, height), Image.BILINEAR), (pad_x, pad_y))
    return np.asarray(square, np.float32), scale, pad_x, pad_y


def _sigmoid(x: np.ndarray | float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -80.0, 80.0)))


class PersonModel:
    """The two BlazePose TFLite models; `find` gives the most confident person of a photo, or None."""

    def __init__(self, detector: Any, landmarks: Any) -> None:
        self._detector, self._landmarks = detector, landmarks
        self._anchors = _anchors()
        self._lock = threading.Lock()  # an interpreter runs one photo at a time; the app's threads share it

    @classmethod
    def load(cls, folder: Path = PERSON_MODEL_DIR) -> "PersonModel | None":
        """The models in `folder`; None (said once in the log) when they are not there or cannot be read."""
        from recommender.backbones import _open_interpreter

        paths = [Path(folder) / DETECTOR, Path(folder) / LANDMARKS]
        if not all(path.is_file() for path in paths):
            log.warning("No person model in %s (scripts/fetch_person_model.sh fetches it): shop the look uses "
                        "windows alone, which frame a worn garment less well.", folder)  # said once: loaded once
            return None
        try:
            interpreters = [_open_interpreter(path, num_threads=1) for path in paths]
            for path, interpreter in zip(paths, interpreters):
                shape = tuple(int(v) for v in interpreter.get_input_details()[0]["shape"])
                names = {d["name"] for d in interpreter.get_output_details()}
                if shape != INPUTS[path.name] or not OUTPUTS[path.name] <= names:
                    raise ValueError(f"{path.name} takes {shape} and gives {sorted(names)}, not BlazePose's "
                                     f"{INPUTS[path.name]} and {sorted(OUTPUTS[path.name])}")
        except (ValueError, RuntimeError) as exc:
            log.warning("The person model in %s cannot be used (%s): shop the look uses windows alone; delete the "
                        "folder and run scripts/fetch_person_model.sh again.", folder, exc)
            return None
        return cls(*interpreters)

    @staticmethod
    def _run(interpreter: Any, pixels: np.ndarray) -> dict[str, np.ndarray]:
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], pixels[np.newaxis])
        interpreter.invoke()
        return {d["name"]: interpreter.get_tensor(d["index"])[0] for d in interpreter.get_output_details()}

    def find(self, image: Image.Image) -> Person | None:
        """The most confident person of an upright RGB photo (joints in fractions of it), or None."""
        with self._lock:
            return self._find(image)

    def _find(self, image: Image.Image) -> Person | None:
        pixels, scale, pad_x, pad_y = _letterboxed(image, 224)
        out = self._run(self._detector, pixels / 127.5 - 1.0)
        scores = _sigmoid(out["Identity_1"][:, 0])
        best = int(np.argmax(scores))
        if scores[best] < DETECTED:
            return None
        raw = out["Identity"][best] / 224.0  # box then 4 key points, each (x, y) offsets from the anchor
        hip = (raw[4:6] + self._anchors[best]) * 224.0
        reach = (raw[6:8] + self._anchors[best]) * 224.0
        to_photo = np.array([pad_x, pad_y], np.float32)
        hip, reach = (hip - to_photo) / scale, (reach - to_photo) / scale
        side = 2.0 * 1.25 * float(np.hypot(*(reach - hip)))  # MediaPipe's region of interest: 1.25 x the body's circle
        if side < 8:
            return None
        left, top = hip - side / 2
        crop = image.transform((256, 256), Image.EXTENT, (left, top, left + side, top + side), Image.BILINEAR)
        marks = self._run(self._landmarks, np.asarray(crop.convert("RGB"), np.float32) / 255.0)
        if float(marks["Identity_1"][0]) < PRESENT:  # the model's own sigmoid is inside it
            return None
        points = marks["Identity"].reshape(-1, 5)[:33]
        joints = (np.array([left, top]) + points[:, :2] / 256.0 * side) / np.array(image.size, np.float32)
        return Person(joints.astype(np.float32), _sigmoid(points[:, 3]).astype(np.float32), float(scores[best]))


@lru_cache(maxsize=1)
def person_model() -> PersonModel | None:
    """The person model shared by a process (loaded once; None without its files)."""
    return PersonModel.load()


def _span(points: np.ndarray, margin_x: float, margin_y: float) -> tuple[float, float, float, float]:
    low, high = points.min(axis=0), points.max(axis=0)
    return (float(low[0] - margin_x), float(low[1] - margin_y), float(high[0] + margin_x), float(high[1] + margin_y))


def garment_places(person: Person, aspect: float) -> dict[str, tuple[float, float, float, float]]:
    """Per garment kind (top, bottoms, dress, shoes, hat: `recommender.garment_kinds.GARMENT_KINDS`' kinds), the box
    (fractions of the photo, clipped) where a person's joints say it sits; a kind whose joints are hidden, or
    whose box is too small for the app to keep (`regions.Box`), has no place. `aspect`: the photo's width / height (margins are in the person's
    own lengths, measured in pixels of either side alike)."""
    scale = np.array([aspect, 1.0], np.float32)  # joints in units of the photo's height
    shoulders, hips = person.seen(SHOULDERS) * scale, person.seen(HIPS) * scale
    if len(shoulders) < 2 or len(hips) < 1:
        return {}
    torso = float(abs(hips[:, 1].mean() - shoulders[:, 1].mean())) or 1e-3
    width = max(float(abs(shoulders[0, 0] - shoulders[1, 0])), torso / 3)  # seen side-on, the shoulders meet
    places: dict[str, tuple[float, float, float, float]] = {}
    elbows = person.seen(ELBOWS) * scale
    places["top"] = _span(np.concatenate([shoulders, hips, elbows]), 0.2 * width, 0.15 * torso)
    legs = np.concatenate([hips, person.seen(KNEES) * scale, person.seen(ANKLES) * scale])
    if len(legs) > len(hips):
        places["bottoms"] = _span(legs, 0.25 * width, 0.1 * torso)
        places["dress"] = _span(np.concatenate([shoulders, legs]), 0.25 * width, 0.1 * torso)
    feet = person.seen(ANKLES + FEET) * scale
    if len(feet) >= 2:
        places["shoes"] = _span(feet, 0.15 * width, 0.1 * torso)
    ears = person.seen((LEFT_EAR, RIGHT_EAR)) * scale
    if len(ears) == 2 and person.visible[NOSE] >= SEEN:
        head = float(abs(ears[0, 0] - ears[1, 0])) or width / 2
        centre = ears.mean(axis=0)
        places["hat"] = (float(centre[0] - head), float(centre[1] - 1.3 * head), float(centre[0] + head),
                         float(centre[1] + 0.2 * head))
    kept = {kind: Box.around(l / aspect, t, r / aspect, b) for kind, (l, t, r, b) in places.items()}
    return {kind: (box.left, box.top, box.right, box.bottom) for kind, box in kept.items() if box is not None}
