"""Audio latency: decoding plus the spectrogram of a 1 s clip, and a whole prediction on an upload,
against the bare libraries doing the same work.

    .venv/bin/python bench/bench_audio.py [--repeats 200] [--json]

* features, playground: ``decode_audio`` (header checks, mono, clipping and silence notes) then
  ``AudioPreprocessing.model_input`` (centre, peak-normalize, log-mel, standardize) of the shipped
  ``audio_cnn-fsdd``'s preprocessing, on WAV bytes of a 1 s, 8 kHz clip;
  baseline: ``soundfile.read`` then torchaudio's ``MelSpectrogram`` + ``AmplitudeToDB`` on the same bytes.
* prediction, playground: ``decode_audio`` + ``predict_audio`` (windows, softmax, top-k) with the
  shipped model, on a 1 s clip and on a 10 s clip (19 windows);
  baseline: the bare library features above + ``model(x)`` once.

Times are medians over ``--repeats`` calls after 5 warm-up calls, in milliseconds. Budgets (issue:
audio end to end): features under 20 ms, a prediction on upload under 0.5 s.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import soundfile as sf
import torch
import torchaudio

from playground.bundle import load_bundle
from playground.bundle.runs import SHIPPED_CHECKPOINTS
from playground.inspection.predict import predict_audio
from playground.modalities.audio.clips import AudioClips
from playground.modalities.audio.decode import decode_audio

RATE = 8000


def _median_ms(fn: Callable[[], object], repeats: int) -> float:
    for _ in range(5):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def _wav(seconds: float) -> bytes:
    t = torch.arange(round(seconds * RATE), dtype=torch.float64) / RATE
    x = 0.4 * torch.sin(2 * math.pi * 440 * t) * (1 + 0.5 * torch.sin(2 * math.pi * 3 * t))  # a wobbling tone
    buffer = io.BytesIO()
    sf.write(buffer, x.numpy(), RATE, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)  # one request, one core: what a server gives each user
    bundle = load_bundle(SHIPPED_CHECKPOINTS / "audio_cnn-fsdd")
    model = bundle.model.eval()
    pre = bundle.preprocessing
    one, ten = _wav(1.0), _wav(10.0)
    mel = torch.nn.Sequential(
        torchaudio.transforms.MelSpectrogram(RATE, n_fft=pre.n_fft, hop_length=pre.hop_length, n_mels=pre.n_mels),
        torchaudio.transforms.AmplitudeToDB(top_db=80.0),
    )

    def bare_features(data: bytes) -> torch.Tensor:
        x, _ = sf.read(io.BytesIO(data), dtype="float32")
        return mel(torch.from_numpy(x)[None, None])  # (1, 1, F, T)

    def ours_features(data: bytes) -> torch.Tensor:
        decoded = decode_audio(data)
        return pre.model_input(AudioClips.from_list([decoded.waveform], decoded.sample_rate))

    def ours_predict(data: bytes) -> object:
        decoded = decode_audio(data)
        return predict_audio(bundle, decoded.waveform, decoded.sample_rate)

    with torch.no_grad():
        results = {
            "features_1s_ms": {
                "playground": _median_ms(lambda: ours_features(one), args.repeats),
                "baseline": _median_ms(lambda: bare_features(one), args.repeats),
            },
            "predict_1s_ms": {
                "playground": _median_ms(lambda: ours_predict(one), args.repeats),
                "baseline": _median_ms(lambda: model(bare_features(one)), args.repeats),
            },
            "predict_10s_ms": {
                "playground": _median_ms(lambda: ours_predict(ten), max(10, args.repeats // 10)),
                "baseline": _median_ms(lambda: model(bare_features(ten)), max(10, args.repeats // 10)),
            },
        }
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for name, row in results.items():
        print(f"{name:16s} playground {row['playground']:8.2f} ms   baseline {row['baseline']:8.2f} ms")


if __name__ == "__main__":
    main()
