"""The sample rates the audio modality accepts, and the error it raises for audio it refuses.

Shared by decoding (:mod:`playground.modalities.audio.decode`) and resampling
(:mod:`playground.modalities.audio.resample`): a file's rate, a resampling target and the rate of a
WAV written for playback must all lie in [:data:`MIN_RATE_HZ`, :data:`MAX_RATE_HZ`] = [1000, 384000] Hz.
"""

from __future__ import annotations

import numpy as np

MIN_RATE_HZ = 1000  # samples per second
MAX_RATE_HZ = 384000


class AudioDecodeError(ValueError):
    """The bytes are not audio the playground can use; the message names the file and says why."""


def check_rate(rate: object, what: str) -> int:
    """``rate`` as an int in [MIN_RATE_HZ, MAX_RATE_HZ], or :class:`AudioDecodeError`.

    Args:
        rate: the rate to check (an int or numpy integer; a bool is refused).
        what: what the rate is, for the message (``"the target sample rate"``).

    Raises:
        AudioDecodeError: ``rate`` is not a whole number of Hz, or is outside the range.
    """
    if isinstance(rate, bool) or not isinstance(rate, int | np.integer):
        raise AudioDecodeError(f"{what} must be a whole number of Hz, got {rate!r}")
    if not MIN_RATE_HZ <= int(rate) <= MAX_RATE_HZ:
        raise AudioDecodeError(
            f"{what} is {int(rate)} Hz; sample rates from {MIN_RATE_HZ} Hz to {MAX_RATE_HZ} Hz are supported"
        )
    return int(rate)
