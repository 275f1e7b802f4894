"""The person model (recommender.person): where a person's garments sit, from their joints; the real BlazePose
files when `scripts/fetch_person_model.sh` fetched them (skipped otherwise)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from recommender.person import PERSON_MODEL_DIR, Person, PersonModel, garment_places

ROOT = Path(__file__).resolve().parent.parent
KAGGLE = ROOT.parent / "shared" / "data" / "fashion-product-images-small" / "images"
JOINTS = {0: (0.5, 0.12), 7: (0.46, 0.11), 8: (0.54, 0.11),  # nose, ears
          11: (0.4, 0.22), 12: (0.6, 0.22), 13: (0.37, 0.35), 14: (0.63, 0.35),  # shoulders, elbows
          23: (0.44, 0.5), 24: (0.56, 0.5), 25: (0.44, 0.7), 26: (0.56, 0.7),  # hips, knees
          27: (0.44, 0.88), 28: (0.56, 0.88), 29: (0.43, 0.9), 30: (0.57, 0.9), 31: (0.42, 0.92), 32: (0.58, 0.92)}


def standing(hidden: tuple[int, ...] = ()) -> Person:
    """A person standing upright in a square photo, every joint of JOINTS visible but `hidden`."""
    joints = np.full((33, 2), 0.5, np.float32)
    visible = np.zeros(33, np.float32)
    for j, place in JOINTS.items():
        joints[j] = place
        visible[j] = 0.0 if j in hidden else 0.99
    return Person(joints, visible, 0.9)


def test_each_garment_kind_sits_where_the_joints_say() -> None:
    places = garment_places(standing(), 1.0)
    assert set(places) == {"top", "bottoms", "dress", "shoes", "hat"}
    top, bottoms, shoes, hat = places["top"], places["bottoms"], places["shoes"], places["hat"]
    assert top[1] < 0.22 < 0.5 < top[3] and top[0] < 0.37 and top[2] > 0.63  # shoulders to hips, elbows in
    assert bottoms[1] < 0.5 and bottoms[3] >= 0.88 and bottoms[0] < 0.44 < 0.56 < bottoms[2]  # hips to ankles
    assert shoes[1] < 0.88 and shoes[3] > 0.92 and shoes[1] > bottoms[1] + 0.3  # the feet only
    assert hat[3] <= 0.2 and hat[1] < 0.11  # the head, above the ears
    assert places["dress"][1] < 0.22 and places["dress"][3] >= 0.88
    assert all(0.0 <= v <= 1.0 for box in places.values() for v in box)


def test_hidden_joints_leave_their_garments_out() -> None:
    assert "shoes" not in garment_places(standing(hidden=(27, 28, 29, 30, 31, 32)), 1.0)
    legs = garment_places(standing(hidden=(25, 26, 27, 28, 29, 30, 31, 32)), 1.0)
    assert set(legs) == {"top", "hat"}  # no leg below the hips: no trousers, no dress
    assert garment_places(standing(hidden=(11,)), 1.0) == {}  # one shoulder: no person to dress


def test_a_wide_photo_keeps_margins_in_the_person_s_own_lengths() -> None:
    """The same person in a photo twice as wide: x fractions halve about the middle, so do the margins."""
    square = garment_places(standing(), 1.0)["top"]
    person = standing()
    wide = Person(np.column_stack([0.25 + person.joints[:, 0] / 2, person.joints[:, 1]]), person.visible, 0.9)
    top = garment_places(wide, 2.0)["top"]
    np.testing.assert_allclose(top, (0.25 + square[0] / 2, square[1], 0.25 + square[2] / 2, square[3]), atol=1e-5)


class FakeInterpreter:
    """A TFLite interpreter that answers fixed outputs, as the two BlazePose files' interfaces are."""

    def __init__(self, shape: tuple[int, ...], outputs: dict[str, np.ndarray]) -> None:
        self.shape, self.outputs, self.inputs = shape, outputs, []

    def get_input_details(self) -> list[dict]:
        return [{"index": 0, "shape": np.array(self.shape)}]

    def get_output_details(self) -> list[dict]:
        return [{"name": name, "index": i} for i, name in enumerate(self.outputs)]

    def set_tensor(self, index: int, value: np.ndarray) -> None:
        self.inputs.append(value)

    def invoke(self) -> None:
        pass

    def get_tensor(self, index: int) -> np.ndarray:
        return list(self.outputs.values())[index]


def fakes(score: float, present: float) -> tuple[FakeInterpreter, FakeInterpreter]:
    """A detector sure at `score` (a logit) of one person whose hip centre is anchor 812's centre (the 28 x 28
    grid's (14, 14): 14.5 / 28 of the input) and whose body reaches 40 input pixels above it; a landmark model
    that puts every joint in the middle of its square, visible, a person there with probability `present`."""
    scores = np.full((1, 2254, 1), -10.0, np.float32)
    scores[0, 812, 0] = score
    raw = np.zeros((1, 2254, 12), np.float32)
    raw[0, 812, 7] = -40.0  # key point 1 (the body's reach): 40 pixels above the hip centre
    joints = np.tile(np.array([128.0, 128.0, 0.0, 10.0, 10.0], np.float32), 39)[None]
    return (FakeInterpreter((1, 224, 224, 3), {"Identity": raw, "Identity_1": scores}),
            FakeInterpreter((1, 256, 256, 3), {"Identity": joints, "Identity_1": np.array([[present]], np.float32)}))


def test_the_detector_s_hip_centre_becomes_the_joints_square_in_the_photo_s_fractions() -> None:
    """A photo twice as wide as high is letterboxed into the detector's square: its hip centre maps back to the
    photo, and the landmark model's square (2 x 1.25 x the reach, about the hip) back to the photo's fractions."""
    detector, landmarks = fakes(5.0, 0.99)
    person = PersonModel(detector, landmarks).find(Image.new("RGB", (448, 224)))
    centre = 14.5 / 28 * 224  # the anchor's centre in the detector's input; the photo is scaled by 0.5, padded 56 down
    assert person is not None and person.score > 0.99
    np.testing.assert_allclose(person.joints[0], [centre * 2 / 448, (centre - 56) * 2 / 224], atol=1e-5)
    assert (person.visible > 0.99).all()
    assert detector.inputs[0].shape == (1, 224, 224, 3) and landmarks.inputs[0].shape == (1, 256, 256, 3)
    assert -1.0 <= detector.inputs[0].min() and detector.inputs[0].max() <= 1.0  # the detector reads [-1, 1]


def test_no_person_when_the_detector_or_the_landmark_model_is_unsure() -> None:
    assert PersonModel(*fakes(0.5, 0.99)).find(Image.new("RGB", (300, 400))) is None  # the detector at 0.62
    assert PersonModel(*fakes(5.0, 0.3)).find(Image.new("RGB", (300, 400))) is None  # nobody in the square


def test_without_the_model_files_there_is_no_person_model(tmp_path: Path, caplog) -> None:
    assert PersonModel.load(tmp_path) is None
    # said where a shop's log shows it (a warning), with the command that fetches it
    assert [r.levelname for r in caplog.records] == ["WARNING"] and "fetch_person_model.sh" in caplog.text


def test_files_that_are_not_blaze_pose_s_are_said_and_not_used(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    import shutil

    shipped = ROOT / "models" / "mobilenet_v2_1.0_224_quant.tflite"  # a valid TFLite model of another interface
    for name in ("pose_detection.tflite", "pose_landmark_full.tflite"):
        shutil.copy(shipped, tmp_path / name)
    assert PersonModel.load(tmp_path) is None and "not BlazePose's" in caplog.text
    (tmp_path / "pose_detection.tflite").write_bytes(b"not a model")  # a corrupt file
    assert PersonModel.load(tmp_path) is None and "run scripts/fetch_person_model.sh again" in caplog.text


@pytest.fixture(scope="module")
def model() -> PersonModel:
    found = PersonModel.load(PERSON_MODEL_DIR)
    if found is None:
        pytest.skip(f"no person model in {PERSON_MODEL_DIR} (scripts/fetch_person_model.sh fetches it)")
    return found


def test_a_garment_laid_flat_has_no_person(model: PersonModel) -> None:
    for path in sorted((ROOT / "demo" / "catalogue" / "images").glob("*.jpg"))[:10]:
        with Image.open(path) as image:
            assert model.find(image.convert("RGB")) is None, path.name


@pytest.mark.skipif(not KAGGLE.is_dir(), reason=f"{KAGGLE} (the Kaggle small set in ../shared) is absent")
def test_a_model_wearing_a_t_shirt_is_found_with_the_top_on_the_body(model: PersonModel) -> None:
    with Image.open(KAGGLE / "1855.jpg") as image:  # a man in a grey T-shirt, face to camera
        person = model.find(image.convert("RGB"))
    assert person is not None and person.score > 0.5
    places = garment_places(person, 60 / 80)
    top, hat = places["top"], places["hat"]
    assert 0.2 < top[1] < 0.45 and top[3] > 0.8  # the shoulders a third down, the hips at the bottom edge
    assert hat[3] < top[1] + 0.05  # the head above the top


@pytest.mark.skipif(not KAGGLE.is_dir(), reason=f"{KAGGLE} (the Kaggle small set in ../shared) is absent")
def test_the_app_s_threads_share_one_model_safely(model: PersonModel) -> None:
    """gunicorn's threads share the process's model: photos found at once give what each gives alone."""
    from concurrent.futures import ThreadPoolExecutor

    pictures = []
    for name in ("1855.jpg", "53759.jpg", "7990.jpg", "39716.jpg"):
        with Image.open(KAGGLE / name) as image:
            pictures.append(image.convert("RGB"))
    alone = [model.find(picture) for picture in pictures]
    assert sum(one is not None for one in alone) >= 3  # people, found
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(model.find, pictures * 6))
    for one, other in zip(alone * 6, together):
        assert (one is None) == (other is None)
        if one is not None:
            np.testing.assert_array_equal(one.joints, other.joints)


def _fetch(tmp_path: Path, present: dict[str, bytes]) -> tuple[subprocess.CompletedProcess, Path]:
    """scripts/fetch_person_model.sh in a checkout of its own, with the package registry unreachable."""
    import os
    import shutil

    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "fetch_person_model.sh", tmp_path / "scripts")
    folder = tmp_path / "models" / "person"
    folder.mkdir(parents=True)
    for name, data in present.items():
        (folder / name).write_bytes(data)
    env = {**os.environ, "PYTHON": sys.executable, "PIP_INDEX_URL": "http://127.0.0.1:9/simple", "PIP_FIND_LINKS": "",
           "PIP_EXTRA_INDEX_URL": ""}
    done = subprocess.run(["bash", "scripts/fetch_person_model.sh"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    return done, folder


def test_fetching_without_the_registry_is_one_sentence_and_no_broken_file(tmp_path: Path) -> None:
    done, folder = _fetch(tmp_path, {"pose_detection.tflite": b"half a download"})
    assert done.returncode == 0, done.stderr  # setup.sh goes on: shop the look keeps its windows
    assert "could not be fetched" in done.stdout and "windows alone" in done.stdout
    assert not list(folder.glob("*.tflite"))  # the file of another digest is not kept


def test_fetching_again_keeps_the_right_files_and_says_nothing(tmp_path: Path, model: PersonModel) -> None:
    present = {name: (PERSON_MODEL_DIR / name).read_bytes()
               for name in ("pose_detection.tflite", "pose_landmark_full.tflite")}
    done, folder = _fetch(tmp_path, present)
    assert done.returncode == 0 and done.stdout == ""
    assert {p.name for p in folder.glob("*.tflite")} == set(present)
