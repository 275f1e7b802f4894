#!/usr/bin/env bash
# The worn-garment development set: street-like views of the held-out Kaggle products (the ones
# `train --holdout 0.1 --seed 0` never trains on) of the kinds a person wears or carries, in two
# halves by hash: OUT/tune (every setting is chosen on it) and OUT/report (the figures reported).
# Each view is named in clothing-small's categories too, so it scores as a shopper's photo does.
# Usage: bash scripts/worn_dev_set.sh [KAGGLE_DIR] [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
KAGGLE=${1:-../shared/data/fashion-product-images-small}
OUT=${2:-embeddings/worn-dev}
MAP=${LABEL_MAP:-../shared/data/clothing-small/kaggle-label-map.csv}
KINDS=()
for kind in Topwear Bottomwear Dress Shoes Sandal Bags Headwear; do KINDS+=(--where "subCategory=$kind"); done
for split in tune:101 report:102; do
    .venv/bin/python -m recommender views --catalog "$KAGGLE" --out "$OUT/${split%:*}" --products held-out \
        --holdout 0.1 --holdout-seed 0 --split "${split%:*}" --seed "${split#*:}" --label-map "$MAP" "${KINDS[@]}"
done
