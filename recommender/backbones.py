"""Feature extractors: a CNN that turns a batch of product photos into embedding vectors.

Two kinds share one small interface (`Extractor`):
  * Keras applications (ResNet50 by default, as in the paper this product follows), headless with
    global average pooling, weights from ImageNet (Keras' own download), a local file, or random
    ("none", identical in every process for the same seed, for tests and offline demos);
  * a TensorFlow Lite file: 8-bit MobileNets run fast on CPUs and are the only pretrained
    extractors on machines without network access.
TensorFlow is imported only when a Keras backbone is loaded, so TFLite users never pay for it.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import random
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from recommender.errors import RecommenderError, WeightsUnavailable
from recommender.model_spec import ModelSpec
from recommender.tf_import import import_keras, import_tensorflow, quiet_native_stderr

__all__ = [
    "DEFAULT_BACKBONE",
    "KERAS_BACKBONES",
    "Extractor",
    "KerasBackbone",
    "KerasExtractor",
    "TFLiteExtractor",
    "load_extractor",
]


class Extractor(Protocol):
    """What the index builder and the query side need from a model."""

    spec: ModelSpec  # which model this is: what an index records and a query must match
    input_size: tuple[int, int]  # (height, width)
    dim: int

    def embed(self, batch: np.ndarray) -> np.ndarray:
        """uint8 RGB (n, height, width, 3) -> float32 (n, dim); safe to call from several threads."""
        ...


@dataclass(frozen=True)
class KerasBackbone:
    constructor: str  # attribute of keras.applications, e.g. "ResNet50"
    family: str  # keras.applications submodule whose preprocess_input the model was trained with
    size: int  # square input side in pixels
    dim: int  # length of the pooled feature vector


KERAS_BACKBONES: dict[str, KerasBackbone] = {
    "resnet50": KerasBackbone("ResNet50", "resnet", 224, 2048),
    "resnet101": KerasBackbone("ResNet101", "resnet", 224, 2048),
    "densenet121": KerasBackbone("DenseNet121", "densenet", 224, 1024),
    "inception_v3": KerasBackbone("InceptionV3", "inception_v3", 299, 2048),
    "mobilenet_v2": KerasBackbone("MobileNetV2", "mobilenet_v2", 224, 1280),
    "efficientnet_b0": KerasBackbone("EfficientNetB0", "efficientnet", 224, 1280),
}
DEFAULT_BACKBONE = "resnet50"

# Keras draws initial weights from one process-wide seed generator: build one model at a time,
# so that no other build takes numbers from a seeded one.
_BUILD_LOCK = threading.Lock()


def _check_batch(batch: np.ndarray, input_size: tuple[int, int]) -> np.ndarray:
    batch = np.asarray(batch)
    if batch.dtype != np.uint8 or batch.ndim != 4 or batch.shape[1:] != (*input_size, 3):
        raise ValueError(f"expected a uint8 batch of shape (n, {input_size[0]}, {input_size[1]}, 3), got "
                         f"{batch.dtype} {batch.shape}")
    return batch


def _forward(model: Any, preprocess: Any, batch: Any) -> Any:
    import tensorflow as tf

    return model(preprocess(tf.cast(batch, tf.float32)), training=False)


class KerasExtractor:
    """A headless keras.applications model with global average pooling and its own preprocessing."""

    def __init__(self, model_spec: ModelSpec, spec: KerasBackbone, model: Any, keras: Any) -> None:
        import tensorflow as tf

        self.spec = model_spec
        self.input_size = (spec.size, spec.size)
        self.dim = spec.dim
        self.model = model
        preprocess = getattr(keras.applications, spec.family).preprocess_input
        # One traced graph (cast + preprocess + forward) for any batch size: about twice as fast
        # as model.predict or an eager call on small CPU batches. A partial, not a lambda: TF counts
        # traces per code object and would warn of "retracing" once a process builds 6 extractors.
        self._forward = tf.function(
            functools.partial(_forward, model, preprocess),
            input_signature=[tf.TensorSpec((None, spec.size, spec.size, 3), tf.uint8)],
        )
        self._lock = threading.Lock()

    def embed(self, batch: np.ndarray) -> np.ndarray:
        batch = _check_batch(batch, self.input_size)
        if len(batch) == 0:
            return np.zeros((0, self.dim), np.float32)
        with self._lock:
            vectors = self._forward(batch).numpy()
        return vectors.astype(np.float32, copy=False)


def _build_keras(model_spec: ModelSpec, seed: int) -> KerasExtractor:
    """Weights "imagenet", "none" or a file (checked before the slow model build)."""
    name, weights, path = model_spec.backbone, model_spec.weights, model_spec.weights_file
    spec = KERAS_BACKBONES[name]
    if path is not None and not path.is_file():
        raise WeightsUnavailable(f"The weights file {weights} does not exist.")
    keras = import_keras()
    constructor = getattr(keras.applications, spec.constructor)
    shape = dict(include_top=False, pooling="avg", input_shape=(spec.size, spec.size, 3))

    if weights == "imagenet":
        try:
            # Keras prints "Downloading data from ..." to stdout; keep the user's terminal clean.
            with contextlib.redirect_stdout(io.StringIO()):
                model = constructor(weights="imagenet", **shape)
        except Exception as exc:  # get_file raises a bare Exception for URL errors, ValueError for bad hashes
            raise WeightsUnavailable(
                f"The ImageNet weights for {name} could not be downloaded (no network?): pass a local weights "
                f"file with --weights PATH.h5 (e.g. downloaded elsewhere into ~/.keras/models) or use a "
                f"TFLite extractor with --backbone PATH.tflite."
            ) from exc
        return KerasExtractor(model_spec, spec, model, keras)

    if path is not None:
        model = constructor(weights=None, **shape)
        try:
            with warnings.catch_warnings():
                # Keras only warns when parts of a file match no layer, leaving those layers random: refuse.
                warnings.simplefilter("error", UserWarning)
                model.load_weights(str(path))
        except (ValueError, OSError, KeyError, TypeError, IndexError, UserWarning) as exc:
            raise WeightsUnavailable(
                f"The weights file {weights} cannot be loaded into the {name} backbone: it must hold Keras "
                f"weights of that architecture without its top, such as the *_notop.h5 files Keras downloads."
            ) from exc
        return KerasExtractor(model_spec, spec, model, keras)

    # Random initial weights drawn from the seed, so every process builds the same model; the
    # Python and NumPy generators are put back so callers' randomness is not disturbed.
    python_state, numpy_state = random.getstate(), np.random.get_state()
    keras.utils.set_random_seed(seed)
    try:
        model = constructor(weights=None, **shape)
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
    return KerasExtractor(model_spec, spec, model, keras)


def _open_interpreter(path: Path, *, keep_all_tensors: bool = False, num_threads: int | None = None,
                      allocate: bool = True) -> Any:
    """A TFLite interpreter, without the runtime's chatter.

    Before allocation its op graph is the model's own (allocation replaces ops by delegate
    nodes). keep_all_tensors makes intermediate tensors readable after invoke(); the runtime
    warns that this is meant for debugging, which is how we use it.
    """
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # older installs: the interpreter bundled with TensorFlow
        Interpreter = import_tensorflow().lite.Interpreter
    with warnings.catch_warnings(), quiet_native_stderr():
        warnings.filterwarnings("ignore", message=".*experimental_preserve_all_tensors", category=UserWarning)
        interpreter = Interpreter(
            model_path=str(path), num_threads=num_threads, experimental_preserve_all_tensors=keep_all_tensors
        )
        if allocate:
            interpreter.allocate_tensors()
    return interpreter


_LEARNED_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV", "BATCH_MATMUL"}


def _feature_tensor(probe: Any) -> int:
    """Index of the tensor whose values are the embedding.

    An output of rank 4 (or any output not fed by a classifier head) is the embedding itself.
    A 2-D output made by a head (a conv / dense layer over pooled 1x1 features, maybe followed by
    reshape and softmax) is class scores: then the embedding is the last spatial feature map
    before the pooling that feeds the head, read as an intermediate tensor.
    """
    shapes = {t["index"]: tuple(int(d) for d in t["shape"]) for t in probe.get_tensor_details()}
    producer = {out: op for op in probe._get_ops_details() for out in op["outputs"]}

    def back_through_reshaping(tensor: int) -> int:
        # Walk up through ops that keep the channel count and learn nothing (softmax, reshape, pooling).
        while (op := producer.get(tensor)) is not None and op["op_name"] not in _LEARNED_OPS:
            source = op["inputs"][0] if len(op["inputs"]) else -1
            if source < 0 or not shapes[source] or shapes[source][-1] != shapes[tensor][-1]:
                break
            tensor = source
        return tensor

    output = probe.get_output_details()[0]["index"]
    if len(shapes[output]) != 2:
        return output
    head = producer.get(back_through_reshaping(output))
    if head is None or head["op_name"] not in _LEARNED_OPS:
        return output
    features = head["inputs"][0]
    if int(np.prod(shapes[features][1:-1], dtype=np.int64)) != 1:  # the head sees a spatial map: no classifier
        return output
    return back_through_reshaping(features)


class TFLiteExtractor:
    """A TensorFlow Lite image model used as a feature extractor (dequantized, spatially averaged)."""

    def __init__(self, path: Path, threads: int | None = None) -> None:
        try:
            probe = _open_interpreter(path, allocate=False)
            feature = _feature_tensor(probe)
            is_output = feature in {o["index"] for o in probe.get_output_details()}
            interpreter = _open_interpreter(path, keep_all_tensors=not is_output,
                                            num_threads=threads or os.cpu_count())
        except (ValueError, RuntimeError) as exc:
            raise WeightsUnavailable(f"{path} is not a TensorFlow Lite model that can be loaded.") from exc

        self._interpreter = interpreter
        self._input = interpreter.get_input_details()[0]
        self._feature = next(t for t in interpreter.get_tensor_details() if t["index"] == feature)
        _, height, width, channels = (int(d) for d in self._input["shape"])
        if channels != 3:
            raise WeightsUnavailable(f"{path} does not take RGB images (its input has {channels} channels).")
        self.spec = ModelSpec.parse(str(path))
        self.input_size = (height, width)
        self.dim = int(self._feature["shape"][-1])
        self._batch_size = 1
        self._batching = True  # cleared when the model refuses a batch dimension other than 1
        self._lock = threading.Lock()

    def _model_input(self, batch: np.ndarray) -> np.ndarray:
        """Pixels 0-255 in the encoding the model's input tensor declares."""
        dtype = self._input["dtype"]
        if dtype == np.uint8:
            return batch  # quantized MobileNets map 0..255 through their own (scale, zero point)
        if dtype == np.int8:
            return (batch.astype(np.int16) - 128).astype(np.int8)
        return (batch.astype(np.float32) / 127.5 - 1.0).astype(dtype)  # float models: MobileNet's [-1, 1]

    def _resize(self, n: int) -> bool:
        """Make the model take batches of n; False (and back to 1) when the graph does not allow it."""
        if n == self._batch_size:
            return True
        interpreter = self._interpreter
        try:
            interpreter.resize_tensor_input(self._input["index"], [n, *self._input["shape"][1:]])
            interpreter.allocate_tensors()
            if int(interpreter.get_tensor(self._feature["index"]).shape[0]) == n:
                self._batch_size = n
                return True
        except (ValueError, RuntimeError):
            pass
        interpreter.resize_tensor_input(self._input["index"], list(self._input["shape"]))
        interpreter.allocate_tensors()
        self._batch_size = 1
        return False

    def _run(self, batch: np.ndarray) -> np.ndarray:
        interpreter = self._interpreter
        interpreter.set_tensor(self._input["index"], batch)
        interpreter.invoke()
        return interpreter.get_tensor(self._feature["index"])

    def embed(self, batch: np.ndarray) -> np.ndarray:
        batch = self._model_input(_check_batch(batch, self.input_size))
        if len(batch) == 0:
            return np.zeros((0, self.dim), np.float32)
        with self._lock:
            if self._batching and not self._resize(len(batch)):
                self._batching = False
            if self._batch_size == len(batch):
                raw = self._run(batch)
            else:  # a model fixed to one image per run
                raw = np.concatenate([self._run(batch[i : i + 1]) for i in range(len(batch))])
        scale, zero_point = self._feature["quantization"]
        values = raw.astype(np.float32)
        if scale:
            values = (values - zero_point) * np.float32(scale)
        if values.ndim > 2:
            values = values.mean(axis=tuple(range(1, values.ndim - 1)))  # average any spatial grid
        return values.astype(np.float32, copy=False)


def load_extractor(spec: ModelSpec, *, seed: int = 0, threads: int | None = None) -> Extractor:
    """The extractor a spec names: a Keras application or a TensorFlow Lite file.

    Weights "imagenet" are Keras' download (cached), "none" random from `seed` (the same in every
    process), else a weights file. Raises WeightsUnavailable (one sentence) when weights cannot be
    had, RecommenderError for an unknown backbone. A spec's head is not applied here: see
    `recommender.engine`. `threads` caps a TFLite model's threads (a Spark executor's share of a
    machine); Keras models follow TF_NUM_INTRAOP_THREADS, set before TensorFlow loads.
    """
    if spec.is_tflite:
        path = Path(spec.backbone)
        if not path.is_file():
            raise WeightsUnavailable(f"The TensorFlow Lite model {path} does not exist.")
        return TFLiteExtractor(path, threads)
    if spec.backbone not in KERAS_BACKBONES:
        raise RecommenderError(
            f"Unknown backbone {spec.backbone!r}: use one of {', '.join(KERAS_BACKBONES)} or the path of a "
            ".tflite file."
        )
    with _BUILD_LOCK:
        return _build_keras(spec.without_head(), seed)
