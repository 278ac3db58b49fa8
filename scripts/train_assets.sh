#!/usr/bin/env bash
# Rebuild the project's own shipped checkpoints in assets/checkpoints/ (offline, ~1 min on 2 CPU cores).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
$PY -m playground train --model lenet5 --dataset mnist --epochs 8 --seed 0 --out assets/checkpoints/lenet5-mnist --json
# An LSTM that checks bracket strings (the RNN-states page's demo: its units count nesting depth).
$PY -m playground train --model lstm --dataset brackets --seed 0 --out assets/checkpoints/lstm-brackets --json
# A tiny ViT on the same digits (the Attention page's image demo; its registry defaults: 45 epochs, ~10 min).
$PY -m playground train --model vit_tiny --dataset mnist --seed 0 --out assets/checkpoints/vit_tiny-mnist --json
# A small log-mel CNN on the spoken digits (the audio model every page offers offline; ~2 min).
$PY -m playground train --model audio_cnn --dataset fsdd --seed 0 --out assets/checkpoints/audio_cnn-fsdd --json
# An AST-style transformer on the same clips (the Attention page's audio demo; its registry defaults: 40 epochs, ~4 min).
$PY -m playground train --model audio_transformer --dataset fsdd --seed 0 --out assets/checkpoints/audio_transformer-fsdd --json
