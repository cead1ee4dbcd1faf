"""lossybench's built-in learned codec: a small CompressAI mean-scale hyperprior.

Why it exists: the CompressAI zoo's weights cannot be downloaded offline, and the
study this tool reproduces compares classic and neural codecs. These weights were
trained by ``scripts/train_learned_codec.py`` on photos shipped inside scikit-image,
scikit-learn and matplotlib (never on the foolbox evaluation photos) and ship in
``plugins/codecs/weights/`` with their training config and sha256 sums.

Rate points: each trained model (one λ each) is a level, and between them levels
re-use a model with a *latent gain* g: the encoder codes ``g·y`` with the Gaussian
conditional's means and scales multiplied by g (an exactly consistent model for the
scaled latent), and the decoder divides by g. g > 1 spends more bits, g < 1 fewer.
This gives a finer knob than the λ points alone, which matters for bit-rate targets
(the best level not above a target is further from it on a coarse knob).
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

from lossybench import hookimpl
from lossybench.codec import Backend, QualityRange, log_interp
from lossybench.errors import CodecError
from lossybench.kits.neural_codec import NeuralCodec

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
STEM = "lossybench-hyperprior"
CONFIG = WEIGHTS_DIR / f"{STEM}.json"

#: Level → (trained model, latent gain), lowest rate first. Each trained model appears
#: at gain 1; gains below 1 under the first model reach ~0.1 bpp, gains above 1 fill the
#: gaps between models and extend the last one (with little quality gain: see
#: docs/neural-codecs.md). The bpp of consecutive levels grows by ~1.1-1.25x.
LEVELS: tuple[tuple[int, float], ...] = (
    (1, 0.4), (1, 0.5), (1, 0.6), (1, 0.7), (1, 0.85), (1, 1.0), (1, 1.2), (1, 1.45),
    (2, 1.0), (2, 1.2), (2, 1.45),
    (3, 1.0), (3, 1.2),
    (4, 1.0),
    (5, 1.0), (5, 1.3), (5, 1.7), (5, 2.2), (5, 3.0), (5, 4.0),
)

#: Geometric-mean bpp of each level over the 9 package photos
#: (scripts/fit_rate_priors.py lossybench-hyperprior; 180 encodes, compressai 1.2.8):
#: fixed data that seeds rate control's first trial and shapes the next ones.
RATE_PRIOR: tuple[tuple[float, float], ...] = (
    (1.0, 0.0689), (2.0, 0.0892), (3.0, 0.11), (4.0, 0.1309), (5.0, 0.1612), (6.0, 0.19),
    (7.0, 0.2251), (8.0, 0.2647), (9.0, 0.3121), (10.0, 0.355), (11.0, 0.4034),
    (12.0, 0.4428), (13.0, 0.4951), (14.0, 0.5501), (15.0, 0.6422), (16.0, 0.7277),
    (17.0, 0.8192), (18.0, 0.9095), (19.0, 1.0191), (20.0, 1.1206),
)

_verified: set[str] = set()
_verify_lock = threading.Lock()


@cache
def training_config() -> dict[str, Any]:
    """The JSON written by the training script (architecture, λ, sha256 of each file)."""
    try:
        return json.loads(CONFIG.read_text())
    except FileNotFoundError:
        raise CodecError(
            f"{STEM}: {CONFIG} is missing; reinstall lossybench or run "
            "scripts/train_learned_codec.py --out plugins/codecs/weights"
        ) from None
    except (OSError, ValueError) as exc:
        raise CodecError(f"{STEM}: cannot read {CONFIG}: {exc}") from exc


def weight_file(model: int) -> tuple[Path, str]:
    """(path, expected sha256) of trained model ``model`` (1-based)."""
    files = {f["rate_point"]: f for f in training_config()["files"]}
    if model not in files:
        raise CodecError(f"{STEM}: {CONFIG} lists no weights for rate point {model}")
    entry = files[model]
    return WEIGHTS_DIR / entry["file"], entry["sha256"]


def load_shipped_state(model: int) -> dict[str, Any]:
    """The float16 state dict of a trained model, sha256-checked, as float32 tensors."""
    import torch

    path, expected = weight_file(model)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CodecError(f"{STEM}: cannot read {path} ({exc}); reinstall lossybench") from exc
    with _verify_lock:
        if str(path) not in _verified:
            got = hashlib.sha256(data).hexdigest()
            if got != expected:
                raise CodecError(
                    f"{STEM}: {path} is corrupt (sha256 {got[:12]}…, expected {expected[:12]}…); "
                    "reinstall lossybench"
                )
            _verified.add(str(path))
    state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    return {k: (v.float() if v.is_floating_point() else v) for k, v in state.items()}


def build_network(model: int) -> Any:
    """A MeanScaleHyperprior with shipped weights (entropy tables built by the caller)."""
    import torch
    from compressai.models import MeanScaleHyperprior

    cfg = training_config()
    net = MeanScaleHyperprior(int(cfg["N"]), int(cfg["M"]))
    state = load_shipped_state(model)
    # nn.Module's loader: CompressAI's own insists on the CDF tables we do not ship.
    missing, unexpected = torch.nn.Module.load_state_dict(net, state, strict=False)
    rebuilt = ("_quantized_cdf", "_offset", "_cdf_length", "scale_table")
    bad = [k for k in missing if not k.endswith(rebuilt)] + list(unexpected)
    if bad:
        raise CodecError(f"{STEM}: weights of rate point {model} do not fit the network: {bad[:5]}")
    return net


class LearnedHyperprior(NeuralCodec):
    name = "lossybench-hyperprior"
    description = (
        "built-in learned codec: small CompressAI mean-scale hyperprior trained offline on "
        "package photos (weights ship with lossybench)"
    )
    quality = QualityRange(1, len(LEVELS), kind="discrete", step=1,
                           default=(len(LEVELS) + 1) // 2)
    pad_multiple: ClassVar[int] = 64
    latent_stride: ClassVar[int] = 64
    string_groups: ClassVar[int] = 2

    @classmethod
    def check_available(cls) -> None:
        super().check_available()  # compressai itself
        models = sorted({m for m, _ in LEVELS})
        for m in models:
            path, _ = weight_file(m)
            if not path.is_file():
                raise CodecError(f"{cls.name}: weights {path} are missing; reinstall lossybench")

    @classmethod
    def backend(cls) -> Backend:
        base = NeuralCodec.backend()
        try:
            digest = hashlib.sha256(CONFIG.read_bytes()).hexdigest()[:12]
        except OSError:
            digest = "missing"
        return Backend(base.library, base.version, f"{base.binding}; weights {digest}")

    def rate_prior(self, quality: float) -> float:
        return log_interp(RATE_PRIOR, quality)

    def model_key(self, level: int) -> tuple[Any, ...]:
        model, _ = LEVELS[level - 1]
        return (STEM, model, str(WEIGHTS_DIR))

    def load_model(self, level: int, device: str) -> Any:
        return build_network(LEVELS[level - 1][0])

    # -- the latent-gain coding path -------------------------------------------------------
    @staticmethod
    def _params(net: Any, z_hat: Any, gain: float) -> tuple[Any, Any, Any]:
        scales, means = net.h_s(z_hat).chunk(2, 1)
        if gain != 1.0:
            scales, means = scales * gain, means * gain
        return net.gaussian_conditional.build_indexes(scales), scales, means

    def compress_tensor(
        self, net: Any, x: Any, level: int
    ) -> tuple[list[bytes], tuple[int, int]]:
        gain = LEVELS[level - 1][1]
        y = net.g_a(x)
        z = net.h_a(y)
        z_strings = net.entropy_bottleneck.compress(z)
        z_hat = net.entropy_bottleneck.decompress(z_strings, z.size()[-2:])
        indexes, _, means = self._params(net, z_hat, gain)
        y_scaled = y * gain if gain != 1.0 else y
        y_strings = net.gaussian_conditional.compress(y_scaled, indexes, means=means)
        return [y_strings[0], z_strings[0]], (int(z.shape[-2]), int(z.shape[-1]))

    def decompress_tensor(self, net: Any, strings: list[bytes], shape: tuple[int, int],
                          level: int) -> Any:
        gain = LEVELS[level - 1][1]
        z_hat = net.entropy_bottleneck.decompress([strings[1]], list(shape))
        indexes, _, means = self._params(net, z_hat, gain)
        y_hat = net.gaussian_conditional.decompress([strings[0]], indexes, z_hat.dtype, means=means)
        if gain != 1.0:
            y_hat = y_hat / gain
        return net.g_s(y_hat).clamp_(0, 1)

    def forward_tensor(self, net: Any, x: Any, level: int) -> Any:
        gain = LEVELS[level - 1][1]
        y = net.g_a(x)
        z_hat, _ = net.entropy_bottleneck(net.h_a(y))  # eval mode: rounded around the medians
        _, _, means = self._params(net, z_hat, gain)
        y_hat = (y * gain - means).round() + means
        return net.g_s(y_hat / gain).clamp_(0, 1)


@hookimpl
def lossybench_codecs() -> list[type[NeuralCodec]]:
    return [LearnedHyperprior]
