"""Feature extractors: shapes, determinism (within and across processes), weights errors, TFLite files
(tiny ones converted here, and the real ones in ../shared when present)."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from recommender.backbones import KERAS_BACKBONES, load_extractor
from recommender.errors import RecommenderError, WeightsUnavailable
from recommender.images import load_for_model
from recommender.model_spec import ModelSpec
from tests.conftest import DEMO_PHOTOS, REPO, TFLITE_V1, TFLITE_V2, require
from tests.tflite_models import CHANNELS, CLASSES, SIZE, TinyTFLite

ROOT = Path(__file__).resolve().parent.parent


def random_batch(n: int, size: tuple[int, int], seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, *size, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def mobilenet() -> object:
    return load_extractor(ModelSpec.parse("mobilenet_v2", "none"), seed=0)


# --- Keras backbones with random weights ---------------------------------------------------------------


@pytest.mark.parametrize("name, dim", [("resnet50", 2048), ("mobilenet_v2", 1280)])
def test_random_weights_shape_and_determinism(name: str, dim: int) -> None:
    extractor = load_extractor(ModelSpec.parse(name, "none"), seed=0)
    assert (extractor.spec, extractor.input_size, extractor.dim) == (ModelSpec(name, "none"), (224, 224), dim)
    batch = random_batch(3, extractor.input_size)
    vectors = extractor.embed(batch)
    assert vectors.shape == (3, dim) and vectors.dtype == np.float32
    assert np.isfinite(vectors).all()
    assert np.array_equal(extractor.embed(batch), vectors)  # same batch, same output
    assert not np.allclose(vectors[0], vectors[1], rtol=1e-3, atol=0)  # different images, different vectors
    again = load_extractor(ModelSpec.parse(name, "none"), seed=0)  # a second model from the same seed is the same model
    np.testing.assert_allclose(again.embed(batch), vectors, rtol=1e-5, atol=0)


def test_different_seed_gives_different_vectors(mobilenet: object) -> None:
    batch = random_batch(2, mobilenet.input_size)
    other = load_extractor(ModelSpec.parse("mobilenet_v2", "none"), seed=1)
    assert not np.allclose(other.embed(batch), mobilenet.embed(batch), rtol=1e-2, atol=0)


def test_seeded_weights_are_the_same_in_another_process(mobilenet: object, tmp_path: Path) -> None:
    batch = random_batch(2, mobilenet.input_size, seed=7)
    np.save(tmp_path / "batch.npy", batch)
    script = (
        "import sys, numpy as np\n"
        "from recommender.backbones import load_extractor\n"
        "from recommender.model_spec import ModelSpec\n"
        "batch = np.load(sys.argv[1])\n"
        "np.save(sys.argv[2], load_extractor(ModelSpec.parse('mobilenet_v2', 'none'), seed=0).embed(batch))\n"
    )
    subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "batch.npy"), str(tmp_path / "out.npy")],
        cwd=ROOT, check=True, capture_output=True, timeout=300,
    )
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), mobilenet.embed(batch), rtol=1e-5, atol=0)


def test_embed_handles_empty_and_rejects_wrong_batches(mobilenet: object) -> None:
    assert mobilenet.embed(np.zeros((0, 224, 224, 3), np.uint8)).shape == (0, 1280)
    with pytest.raises(ValueError):
        mobilenet.embed(np.zeros((1, 100, 100, 3), np.uint8))
    with pytest.raises(ValueError):
        mobilenet.embed(np.zeros((1, 224, 224, 3), np.float32))


def test_embed_is_thread_safe(mobilenet: object) -> None:
    batches = [random_batch(2, mobilenet.input_size, seed=s) for s in range(4)]
    expected = [mobilenet.embed(b) for b in batches]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(mobilenet.embed, batches))
    for got, want in zip(results, expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=0)


def test_every_listed_backbone_has_its_own_spec() -> None:
    assert list(KERAS_BACKBONES)[0] == "resnet50"
    assert KERAS_BACKBONES["inception_v3"].size == 299
    assert {name: spec.dim for name, spec in KERAS_BACKBONES.items()} == {
        "resnet50": 2048, "resnet101": 2048, "densenet121": 1024,
        "inception_v3": 2048, "mobilenet_v2": 1280, "efficientnet_b0": 1280,
    }


# --- weights that cannot be had -------------------------------------------------------------------------


def test_imagenet_download_failure_is_one_sentence(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture
) -> None:
    from keras.src.utils import file_utils

    def offline(fname: str, origin: str, *args: object, **kwargs: object) -> str:
        raise Exception(f"URL fetch failure on {origin}: None -- [Errno -2] Name or service not known")

    monkeypatch.setattr(file_utils, "get_file", offline)  # as keras fails here, cache or not
    with pytest.raises(WeightsUnavailable) as caught:
        load_extractor(ModelSpec.parse("mobilenet_v2", "imagenet"))
    message = str(caught.value)
    assert "ImageNet weights for mobilenet_v2 could not be downloaded" in message
    assert "--weights" in message and ".tflite" in message and "\n" not in message
    assert capfd.readouterr().out == ""


def save_legacy_h5(model: object, path: Path) -> None:
    """Write weights in the legacy HDF5 layout of Keras' downloadable *_notop.h5 files."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    with h5py.File(path, "w") as file:
        legacy_h5_format.save_weights_to_hdf5_group(file, model)


@pytest.mark.parametrize("file_name", ["mobilenet.weights.h5", "mobilenet_notop.h5"])
def test_local_weights_file_is_loaded(mobilenet: object, tmp_path: Path, file_name: str) -> None:
    path = tmp_path / file_name
    if file_name.endswith(".weights.h5"):
        mobilenet.model.save_weights(str(path))
    else:
        save_legacy_h5(mobilenet.model, path)
    loaded = load_extractor(ModelSpec.parse("mobilenet_v2", str(path)), seed=99)  # the file, not the seed, decides
    assert loaded.spec == ModelSpec("mobilenet_v2", str(path))
    batch = random_batch(2, mobilenet.input_size)
    np.testing.assert_allclose(loaded.embed(batch), mobilenet.embed(batch), rtol=1e-5, atol=0)


def test_missing_weights_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.h5"
    with pytest.raises(WeightsUnavailable, match="nope.h5 does not exist"):
        load_extractor(ModelSpec.parse("resnet50", str(missing)))


def test_weights_file_of_another_model(mobilenet: object, tmp_path: Path) -> None:
    path = tmp_path / "mobilenet.weights.h5"
    mobilenet.model.save_weights(str(path))
    legacy = tmp_path / "mobilenet_notop.h5"
    save_legacy_h5(mobilenet.model, legacy)
    junk = tmp_path / "junk.h5"
    junk.write_text("not weights")
    for bad in (path, legacy, junk):
        with pytest.raises(WeightsUnavailable, match="cannot be loaded into the efficientnet_b0 backbone"):
            load_extractor(ModelSpec.parse("efficientnet_b0", str(bad)))


def test_unknown_backbone_lists_the_valid_names() -> None:
    with pytest.raises(RecommenderError) as caught:
        load_extractor(ModelSpec.parse("vgg16", "none"))
    assert not isinstance(caught.value, WeightsUnavailable)
    for name in KERAS_BACKBONES:
        assert name in str(caught.value)


def test_tflite_file_missing_or_invalid(tmp_path: Path) -> None:
    with pytest.raises(WeightsUnavailable, match="does not exist"):
        load_extractor(ModelSpec.parse(str(tmp_path / "model.tflite")))
    fake = tmp_path / "fake.tflite"
    fake.write_bytes(b"definitely not a flatbuffer" * 10)
    with pytest.raises(WeightsUnavailable, match="not a TensorFlow Lite model"):
        load_extractor(ModelSpec.parse(str(fake)))


# --- TFLite extractors from tiny converted models (tests/tflite_models.py) --------------------------------


def open_tiny(model: TinyTFLite) -> object:
    """The extractor of a tiny model, loaded as the CLI loads a .tflite backbone."""
    return load_extractor(ModelSpec.parse(str(model.path)))


def tflite_details(model: TinyTFLite) -> tuple[dict, dict]:
    """The file's own input and output tensors, read without the extractor."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(model.path))
    return interpreter.get_input_details()[0], interpreter.get_output_details()[0]


@pytest.mark.parametrize("name, input_type", [("float", np.float32), ("int8", np.int8), ("uint8", np.uint8)])
def test_tflite_input_encodings_and_dequantisation(tiny_tflite: dict, name: str, input_type: type) -> None:
    model = tiny_tflite[name]
    assert tflite_details(model)[0]["dtype"] == input_type  # the file takes what this case is about
    extractor = open_tiny(model)
    assert (extractor.spec, extractor.input_size, extractor.dim) == (
        ModelSpec(str(model.path.resolve()), str(model.path.resolve())), SIZE, CHANNELS,
    )
    pixels = random_batch(5, SIZE)
    vectors = extractor.embed(pixels)
    assert vectors.shape == (5, CHANNELS) and vectors.dtype == np.float32
    reference = model.reference(pixels)  # the float Keras model on [-1, 1] pixels
    if input_type == np.float32:
        np.testing.assert_allclose(vectors, reference, rtol=1e-5, atol=1e-6)
    else:  # 8-bit in and out: equal within the quantisation error, a few steps of the output's scale
        np.testing.assert_allclose(vectors, reference, rtol=0, atol=0.05 * reference.max())


@pytest.mark.parametrize("name", ["float", "int8", "uint8", "classifier", "classifier-uint8", "one-image"])
def test_tflite_batch_equals_single_images(tiny_tflite: dict, name: str) -> None:
    extractor = open_tiny(tiny_tflite[name])
    pixels = random_batch(5, SIZE, seed=2)
    one_by_one = np.concatenate([extractor.embed(pixels[i : i + 1]) for i in range(5)])
    for n in (5, 2):  # the batch size changes between calls
        np.testing.assert_allclose(extractor.embed(pixels[:n]), one_by_one[:n], rtol=1e-6, atol=1e-7)
    assert extractor.embed(np.zeros((0, *SIZE, 3), np.uint8)).shape == (0, CHANNELS)


@pytest.mark.parametrize("name", ["classifier", "classifier-uint8"])
def test_tflite_classifier_gives_the_pooled_last_feature_map(tiny_tflite: dict, name: str) -> None:
    """As with MobileNetV2: the file's output is class scores, the embedding the map before the pooling."""
    model = tiny_tflite[name]
    assert list(tflite_details(model)[1]["shape"]) == [1, CLASSES]
    extractor = open_tiny(model)
    assert extractor.dim == CHANNELS
    pixels = random_batch(3, SIZE, seed=3)
    reference = model.reference(pixels)  # the Keras model's pooled map
    atol = 1e-6 if name == "classifier" else 0.05 * reference.max()
    np.testing.assert_allclose(extractor.embed(pixels), reference, rtol=1e-5 if name == "classifier" else 0, atol=atol)


def test_tflite_model_fixed_to_one_image_runs_image_by_image(tiny_tflite: dict) -> None:
    model = tiny_tflite["one-image"]
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(model.path))  # the graph keeps one image whatever the input holds
    interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], [3, *SIZE, 3])
    interpreter.allocate_tensors()
    assert interpreter.get_output_details()[0]["shape"][0] == 1

    extractor = open_tiny(model)
    pixels = random_batch(3, SIZE, seed=4)
    np.testing.assert_allclose(extractor.embed(pixels), model.reference(pixels), rtol=1e-5, atol=1e-6)


# --- TFLite extractors from ../shared/models --------------------------------------------------------------


def real_photos(size: tuple[int, int], n: int = 4) -> np.ndarray:
    """A few of the demo's shipped photos (real garments), so real models are tested without ../shared."""
    paths = sorted(DEMO_PHOTOS.glob("*.jpg"))[:: 37][:n]
    return np.stack([load_for_model(path, size) for path in paths])


def test_the_shipped_model_is_what_the_tests_of_mobilenet_v2_use() -> None:
    assert TFLITE_V2.is_relative_to(REPO) and TFLITE_V2.is_file() and DEMO_PHOTOS.is_relative_to(REPO)


@pytest.mark.parametrize("model, dim", [(TFLITE_V1, 1024), (TFLITE_V2, 1280)])
def test_tflite_extractor(model: Path, dim: int) -> None:
    extractor = load_extractor(ModelSpec.parse(str(require(model))))
    assert (extractor.spec, extractor.input_size, extractor.dim) == (
        ModelSpec(str(model.resolve()), str(model.resolve())), (224, 224), dim,
    )
    photos = real_photos(extractor.input_size)
    vectors = extractor.embed(photos)
    assert vectors.shape == (len(photos), dim) and vectors.dtype == np.float32
    assert np.isfinite(vectors).all() and (vectors >= 0).all()  # ReLU features, dequantized
    assert np.array_equal(extractor.embed(photos), vectors)
    one_by_one = np.concatenate([extractor.embed(photos[i : i + 1]) for i in range(len(photos))])
    np.testing.assert_allclose(one_by_one, vectors, rtol=1e-6, atol=1e-6)
    distances = np.linalg.norm(vectors[:, None] - vectors[None], axis=-1)
    assert (distances[np.triu_indices(len(photos), 1)] > 0.1).all()  # different photos, different vectors
    # An index manifest stores (name, path): that pair reloads the same model from any directory.
    reloaded = load_extractor(ModelSpec.from_json(extractor.spec.to_json()))
    assert np.array_equal(reloaded.embed(photos), vectors)


def test_tflite_classifier_gives_pooled_features_not_class_scores() -> None:
    extractor = load_extractor(ModelSpec.parse(str(require(TFLITE_V2))))
    vectors = extractor.embed(real_photos(extractor.input_size, n=2))
    # 1001 softmax scores would sum to 1; the pooled 1280-d ReLU6 map is larger and bounded by 6.
    assert vectors.shape[1] == 1280
    assert (vectors.sum(axis=1) > 10).all() and vectors.max() <= 6.0 + 1e-3


@pytest.mark.parametrize("model", [TFLITE_V1, TFLITE_V2])
def test_tflite_extractor_is_thread_safe(model: Path) -> None:
    extractor = load_extractor(ModelSpec.parse(str(require(model))))
    photos = real_photos(extractor.input_size)
    batches = [photos[: n % 4 + 1] for n in range(12)]  # batch sizes change from call to call
    expected = [extractor.embed(batch) for batch in batches]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(extractor.embed, batches))
    for got, want in zip(results, expected):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
