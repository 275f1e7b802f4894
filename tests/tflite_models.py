"""Tiny TensorFlow Lite models converted from small Keras models, so the TFLite extractor is tested
without ../shared: float and full-integer (int8, uint8) embedding models, classifiers whose
embedding is an intermediate feature map, and a model that takes one image per run.

Each comes with its float reference: what the extractor must return for uint8 pixels, computed by
the Keras model the file was converted from.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

SIZE = (16, 16)
CHANNELS = 12  # of the last feature map: the embedding's dimension
CLASSES = 5


@dataclass(frozen=True)
class TinyTFLite:
    path: Path
    reference: Callable[[np.ndarray], np.ndarray]  # uint8 (n, 16, 16, 3) -> float32 (n, CHANNELS)


def model_input(pixels: np.ndarray) -> np.ndarray:
    """Pixels as float models take them: MobileNet's [-1, 1], the extractor's convention."""
    return pixels.astype(np.float32) / 127.5 - 1.0


def _feature_map(keras, inputs):
    """Two ReLU convolutions: (16, 16, 3) -> (6, 6, CHANNELS), seeded so every run converts the same model."""
    seeded = keras.initializers.GlorotUniform
    x = keras.layers.Conv2D(8, 3, activation="relu", kernel_initializer=seeded(seed=1))(inputs)
    return keras.layers.Conv2D(CHANNELS, 3, strides=2, activation="relu", kernel_initializer=seeded(seed=2))(x)


def _representative_data() -> Iterator[list[np.ndarray]]:
    """Calibration inputs spanning exactly [-1, 1], so the 8-bit input encodes the pixel range."""
    rng = np.random.default_rng(0)
    for _ in range(16):
        x = rng.uniform(-1, 1, (1, *SIZE, 3)).astype(np.float32)
        x.flat[:2] = (-1.0, 1.0)
        yield [x]


def _convert(tf, model, path: Path, integer_type=None) -> Path:
    """Write `model` as a .tflite file; with integer_type (tf.int8 or tf.uint8), fully quantized."""
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if integer_type is not None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = _representative_data
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = converter.inference_output_type = integer_type
    with warnings.catch_warnings():  # "Statistics for quantized inputs were expected": the calibration gives them
        warnings.simplefilter("ignore", UserWarning)
        path.write_bytes(converter.convert())
    return path


@pytest.fixture(scope="session")
def tiny_tflite(tmp_path_factory: pytest.TempPathFactory) -> dict[str, TinyTFLite]:
    """The models by name; a few seconds in all, once per session."""
    import keras
    import tensorflow as tf

    folder = tmp_path_factory.mktemp("tflite")

    inputs = keras.Input((*SIZE, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(_feature_map(keras, inputs))
    embedding = keras.Model(inputs, pooled)  # a 2-D output made by pooling: the embedding itself
    classifier = keras.Model(inputs, keras.layers.Dense(CLASSES, activation="softmax")(pooled))

    one = keras.Input((*SIZE, 3), batch_size=1)
    grid = _feature_map(keras, one)
    # A reshape with a hard-coded batch of 1, as in graphs exported for one image: a batch of n comes out as one.
    one_image = keras.Model(one, keras.layers.Lambda(lambda x: keras.ops.reshape(x, (1, -1, CHANNELS)))(grid))
    one_image_pooled = keras.Model(one, keras.layers.GlobalAveragePooling2D()(grid))

    def reference_of(model) -> Callable[[np.ndarray], np.ndarray]:
        return lambda pixels: np.asarray(model(model_input(pixels)), dtype=np.float32)

    def one_at_a_time(pixels: np.ndarray) -> np.ndarray:
        return np.concatenate([reference_of(one_image_pooled)(pixels[i : i + 1]) for i in range(len(pixels))])

    return {
        "float": TinyTFLite(_convert(tf, embedding, folder / "float.tflite"), reference_of(embedding)),
        "int8": TinyTFLite(_convert(tf, embedding, folder / "int8.tflite", tf.int8), reference_of(embedding)),
        "uint8": TinyTFLite(_convert(tf, embedding, folder / "uint8.tflite", tf.uint8), reference_of(embedding)),
        "classifier": TinyTFLite(_convert(tf, classifier, folder / "classifier.tflite"), reference_of(embedding)),
        "classifier-uint8": TinyTFLite(
            _convert(tf, classifier, folder / "classifier-uint8.tflite", tf.uint8), reference_of(embedding)
        ),
        "one-image": TinyTFLite(_convert(tf, one_image, folder / "one-image.tflite"), one_at_a_time),
    }
