"""Train a head (recommender.head) on frozen backbone vectors, with Keras on the CPU.

Targets are the catalogue's own labels (one cosine classifier per attribute, a missing label
masked out) and, when given, shoppers' photos whose category a label map ties to a *set* of
catalogue values: their loss is -log of the probability mass on that set, so a photo of a
"longsleeve" may be a T-shirt or a sweatshirt but must not be a shoe. Photos are few, so they
weigh more. Only arrays come in: no image is decoded again. Deterministic for a seed.

Hubness is measured here too: a product close to many training photos shows up in many results
whatever the query; the Ranker penalises it (recommender.ranking).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from recommender.head import Head
from recommender.model_spec import ModelSpec
from recommender.vectors import unit_rows

__all__ = ["TrainSettings", "Labels", "PhotoTargets", "Trained", "encode", "train_head", "hubness", "accuracy"]

HUB_NEIGHBOURS = 10


@dataclass(frozen=True)
class TrainSettings:
    epochs: int = 20
    batch_size: int = 512
    learning_rate: float = 3e-3  # peak of a cosine decay to 0
    weight_decay: float = 1e-4
    hidden: int = 1024
    dim: int = 256
    dropout: float = 0.2
    logit_scale: float = 16.0  # cosine classifiers: logits = scale * cos
    colour_scale: float = 1.0  # the colour part's length against the unit backbone vector
    photo_weight: float = 4.0  # a photo row's loss against a catalogue row's
    view_weight: float = 1.0  # a street-like view's loss against its product's (recommender.street_views)
    min_count: int = 5  # rarer values are not learnt (merged into "no label")
    class_balance: float = 0.0  # the category's rarer classes weigh more (Labels.balance); 0: every row alike
    photo_balance: float = 0.0  # the shopper photos' rarer kinds weigh more (as class_balance); 0: every photo alike
    seed: int = 0


@dataclass(frozen=True)
class Labels:
    """One attribute's targets: per row a class (-1: no label), its vocabulary and its loss weight."""

    codes: np.ndarray  # (n,) int64
    vocabulary: list[str]
    weight: float = 1.0
    balance: float = 0.0  # a row of class c weighs (rows of c) ** -balance, scaled to a mean of 1: a class with
    # 19 rows beside classes of 50 (the demo's skirts) is not drowned by its neighbours; 0: every row alike

    def class_weights(self) -> np.ndarray:
        """Per row, its class's weight in the loss (1 for every row when balance is 0; rows without a label: 1)."""
        labelled = self.codes >= 0
        if not self.balance or not labelled.any():
            return np.ones(len(self.codes), np.float32)
        counts = np.bincount(self.codes[labelled], minlength=len(self.vocabulary)).astype(np.float64)
        per_class = np.where(counts > 0, np.maximum(counts, 1.0) ** -self.balance, 0.0)
        per_row = per_class[self.codes[labelled]]
        weights = np.ones(len(self.codes), np.float32)
        weights[labelled] = per_row / per_row.mean()
        return weights


@dataclass(frozen=True)
class PhotoTargets:
    """Shoppers' photos: their unit backbone vectors, colours, and per photo the allowed values of `attribute`."""

    vectors: np.ndarray  # (m, input_dim)
    colours: np.ndarray | None  # (m, C)
    attribute: str  # a catalogue attribute among the targets (the label map's index attribute)
    allowed: Sequence[frozenset[str]]  # per photo; empty: no target
    weights: np.ndarray | None = None  # (m,) per photo, times TrainSettings.photo_weight (a street-like view of a
    # photo weighs TrainSettings.view_weight); None: every photo 1
    known: Mapping[str, str] | None = None  # other attributes' value every photo has (the demo's: age "Adults")
    known_weight: float = 1.0  # a known value's loss against the photo's kind: below 1 where `known` is only
    # mostly true (most shoppers' photos show adults' garments, not all)


@dataclass(frozen=True)
class Trained:
    """The numpy head and the Keras model it was exported from (outputs: "embedding" and logits per attribute)."""

    head: Head
    model: Any


def encode(values: Sequence[str | None], min_count: int, weight: float = 1.0, balance: float = 0.0) -> Labels:
    """Class codes of one attribute's values; values with fewer than `min_count` rows get no label."""
    counts = Counter(v for v in values if v)
    vocabulary = sorted(v for v, c in counts.items() if c >= min_count)
    lookup = {v: i for i, v in enumerate(vocabulary)}
    codes = np.fromiter((lookup.get(v or "", -1) for v in values), dtype=np.int64, count=len(values))
    return Labels(codes, vocabulary, weight, balance)


def _inputs(vectors: np.ndarray, colours: np.ndarray | None, scale: float) -> np.ndarray:
    x = unit_rows(vectors)
    if colours is None:
        return x
    return np.concatenate([x, scale * np.sqrt(np.clip(np.asarray(colours, np.float32), 0.0, None))], axis=1)


def _model(keras, input_dim: int, labels: Mapping[str, Labels], s: TrainSettings):
    """The head's architecture in Keras (dropout only while training); outputs logits per attribute."""

    class CosineClassifier(keras.layers.Layer):
        def __init__(self, classes: int, scale: float, **kwargs) -> None:
            super().__init__(**kwargs)
            self.classes, self.scale = classes, scale

        def build(self, input_shape) -> None:
            self.kernel = self.add_weight(shape=(self.classes, input_shape[-1]), initializer="glorot_uniform",
                                          name="prototypes")

        def call(self, embeddings):
            prototypes = keras.ops.normalize(self.kernel, axis=1)
            return self.scale * keras.ops.matmul(embeddings, keras.ops.transpose(prototypes))

    inputs = keras.Input((input_dim,))
    x = keras.layers.Dropout(s.dropout)(inputs)
    x = keras.layers.Dense(s.hidden, activation="relu", name="hidden")(x)
    x = keras.layers.Dropout(s.dropout)(x)
    x = keras.layers.Dense(s.dim, name="embed")(x)
    embedding = keras.layers.UnitNormalization(name="unit")(x)
    outputs = {a: CosineClassifier(len(lab.vocabulary), s.logit_scale, name=f"classifier_{i}")(embedding)
               for i, (a, lab) in enumerate(labels.items())}
    return keras.Model(inputs, {"embedding": embedding, **outputs})


def train_head(vectors: np.ndarray, colours: np.ndarray | None, labels: Mapping[str, Labels],
               backbone: ModelSpec, catalog_fingerprint: str, photos: PhotoTargets | None = None,
               settings: TrainSettings = TrainSettings(), progress: bool = False,
               row_weights: np.ndarray | None = None) -> Trained:
    """A head trained on catalogue rows (vectors + colours, labels per attribute) and optional photos.

    Rows to hold out must already be left out by the caller. `colours` None trains a head that
    takes no colours (photos then must have none either).
    """
    from tqdm import tqdm

    from recommender.tf_import import import_keras, import_tensorflow

    tf, keras = import_tensorflow(), import_keras()  # quietly: TensorFlow's native notices hidden
    s = settings
    labels = {a: lab for a, lab in labels.items() if lab.vocabulary}
    if not labels:
        raise ValueError("no attribute has a value to learn")
    keras.utils.set_random_seed(s.seed)
    tf.config.experimental.enable_op_determinism()
    x = _inputs(vectors, colours, s.colour_scale)
    codes = np.stack([lab.codes for lab in labels.values()], axis=1)
    balanced = np.stack([lab.class_weights() for lab in labels.values()], axis=1)
    weights = np.ones(len(x), np.float32) if row_weights is None else np.asarray(row_weights, np.float32)
    photo_attribute = photos.attribute if photos is not None else next(iter(labels))
    if photo_attribute not in labels:
        raise ValueError(f"the photos' attribute {photo_attribute} is not among the targets")
    vocabulary = labels[photo_attribute].vocabulary
    allowed = np.zeros((len(x), len(vocabulary)), np.float32)
    if photos is not None:
        lookup = {v: i for i, v in enumerate(vocabulary)}
        photo_allowed = np.zeros((len(photos.vectors), len(vocabulary)), np.float32)
        for row, values in enumerate(photos.allowed):
            photo_allowed[row, [lookup[v] for v in values if v in lookup]] = 1.0
        x = np.concatenate([x, _inputs(photos.vectors, photos.colours, s.colour_scale)])
        known = photos.known or {}
        photo_codes = [labels[a].vocabulary.index(known[a]) if known.get(a) in labels[a].vocabulary else -1
                       for a in labels]
        codes = np.concatenate([codes, np.tile(np.array(photo_codes, np.int64), (len(photos.vectors), 1))])
        balanced = np.concatenate([balanced, np.full((len(photos.vectors), len(labels)), photos.known_weight,
                                                     np.float32)])
        own = np.ones(len(photos.vectors), np.float32) if photos.weights is None else photos.weights
        weights = np.concatenate([weights, s.photo_weight * np.asarray(own, np.float32)])
        allowed = np.concatenate([allowed, photo_allowed])

    model = _model(keras, x.shape[1], labels, s)
    steps = s.epochs * -(-len(x) // s.batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(s.learning_rate, decay_steps=max(1, steps))
    optimizer = keras.optimizers.AdamW(learning_rate=schedule, weight_decay=s.weight_decay)
    optimizer.build(model.trainable_variables)
    names = list(labels)
    loss_weights = tf.constant([labels[a].weight for a in names], tf.float32)
    photo_index = names.index(photo_attribute)

    @tf.function(reduce_retracing=True)
    def step(xb, cb, wb, bb, ab):
        with tf.GradientTape() as tape:
            out = model(xb, training=True)
            batch = tf.cast(tf.shape(xb)[0], tf.float32)
            loss = 0.0
            for j, name in enumerate(names):
                log_p = tf.nn.log_softmax(out[name])
                target = cb[:, j]
                nll = -tf.gather(log_p, tf.maximum(target, 0), batch_dims=1)
                loss += loss_weights[j] * tf.reduce_sum(tf.where(target >= 0, wb * bb[:, j] * nll, 0.0)) / batch
            log_p = tf.nn.log_softmax(out[names[photo_index]])
            on_set = tf.reduce_logsumexp(tf.where(ab > 0, log_p, -np.inf), axis=1)
            has_set = tf.reduce_any(ab > 0, axis=1)
            loss += tf.reduce_sum(tf.where(has_set, -wb * on_set, 0.0)) / batch
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    order_rng = np.random.default_rng(s.seed)
    for epoch in range(s.epochs):
        order = order_rng.permutation(len(x))
        batches = range(0, len(x), s.batch_size)
        bar = tqdm(batches, desc=f"epoch {epoch + 1}/{s.epochs}", unit="batch", disable=not progress, leave=False)
        total = 0.0
        for n, start in enumerate(bar, start=1):
            rows = order[start : start + s.batch_size]
            total += float(step(x[rows], codes[rows], weights[rows], balanced[rows], allowed[rows]))
            bar.set_postfix(loss=f"{total / n:.3f}")
        bar.close()

    hidden, embed = model.get_layer("hidden"), model.get_layer("embed")
    head = Head(
        hidden_kernel=np.asarray(hidden.kernel), hidden_bias=np.asarray(hidden.bias),
        embed_kernel=np.asarray(embed.kernel), embed_bias=np.asarray(embed.bias),
        prototypes={a: np.asarray(model.get_layer(f"classifier_{i}").kernel) for i, a in enumerate(names)},
        attributes={a: list(labels[a].vocabulary) for a in names},
        input_dim=int(vectors.shape[1]), colour_dim=0 if colours is None else int(colours.shape[1]),
        backbone=backbone.without_head(), catalog_fingerprint=catalog_fingerprint,
        colour_scale=s.colour_scale, logit_scale=s.logit_scale,
    )
    return Trained(head, model)


def hubness(embeddings: np.ndarray, reference: np.ndarray | None = None, k: int = HUB_NEIGHBOURS) -> np.ndarray:
    """Per row, the mean cosine to its k nearest `reference` rows (its k nearest other rows when None).

    A row near many photos (or many products) is a hub: it turns up in results whatever the query.
    """
    import faiss

    queries = np.ascontiguousarray(unit_rows(embeddings))
    own = reference is None
    base = queries if own else np.ascontiguousarray(unit_rows(reference))
    k = min(k, len(base) - own)
    if k < 1 or len(queries) == 0:
        return np.zeros(len(queries), np.float32)
    index = faiss.IndexFlatIP(base.shape[1])
    index.add(base)
    similarities, _ = index.search(queries, k + own)
    return similarities[:, int(own):].mean(axis=1).astype(np.float32)  # own: the row itself comes first


def accuracy(head: Head, embeddings: np.ndarray, labels: Mapping[str, Labels]) -> dict[str, float]:
    """Per attribute, the share of labelled rows whose most probable class is their label."""
    probabilities = head.classify(embeddings)
    scores = {}
    for attribute, lab in labels.items():
        if attribute not in probabilities:
            continue
        lookup = {v: i for i, v in enumerate(head.attributes[attribute])}
        truth = np.array([lookup.get(lab.vocabulary[c], -1) if c >= 0 else -1 for c in lab.codes])
        known = truth >= 0
        if known.any():
            scores[attribute] = float((probabilities[attribute][known].argmax(axis=1) == truth[known]).mean())
    return scores
