"""Shared machinery of learned (neural) codecs: padding, devices, caching, batching.

Lives in the kits so that the CompressAI-zoo plugin and the built-in learned codec can
share it without importing each other. A subclass says how to build the network for a
quality level (:meth:`NeuralCodec.load_model`); everything else is here:

* **Real bitstreams.** ``encode`` runs the network's ``compress`` (CompressAI's rANS
  entropy coder) and packs the result in the container format of
  :mod:`lossybench.kits.neural_bitstream` (re-exported here), whose header and CRC
  ``decode`` checks before the C++ decoder sees a byte.
* **Padding.** Inputs are padded (centred, like CompressAI's ``eval_model``) to the
  network's required multiple and cropped back after decoding.
* **Throughput.** :meth:`NeuralCodec.encode_batch` runs the analysis transform on
  several same-size images at once; entropy-coding parameters are still computed per
  image exactly as the decoder will, so batched bitstreams always decode.
* **Cheap listing.** Nothing here imports torch or compressai at module level, and
  ``check_available``/``backend`` only look them up: ``bench list`` stays light.
"""

from __future__ import annotations

import importlib.util
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from lossybench.codec import Backend, Codec, CodecOption
from lossybench.errors import CodecError, LossybenchError

# Re-exported (``X as X``): the container format moved to its own module, and these
# names stay importable from here for plugins and lossybench.neural_codec's alias.
from lossybench.image import MAX_PIXELS as MAX_PIXELS
from lossybench.kits.device import resolve_device
from lossybench.kits.neural_bitstream import FIXED_HEADER as FIXED_HEADER
from lossybench.kits.neural_bitstream import FORMAT_VERSION as FORMAT_VERSION
from lossybench.kits.neural_bitstream import MAGIC as MAGIC
from lossybench.kits.neural_bitstream import MAX_GROUPS as MAX_GROUPS
from lossybench.kits.neural_bitstream import Bitstream as Bitstream
from lossybench.kits.neural_bitstream import _Reader as _Reader
from lossybench.kits.neural_bitstream import _varint as _varint
from lossybench.kits.neural_bitstream import codec_tag as codec_tag
from lossybench.kits.neural_bitstream import pack_bitstream as pack_bitstream
from lossybench.kits.neural_bitstream import unpack_bitstream as unpack_bitstream
from lossybench.kits.neural_tensors import padding_for as padding_for
from lossybench.kits.neural_tensors import to_image, to_tensor
from lossybench.kits.versions import distribution_version, torch_version

if TYPE_CHECKING:
    import torch

#: How entropy-coder inputs are computed (prepare_network): in results and cache keys.
CODING_PATH = "float64 transforms, CPU-built CDFs"

#: Networks kept in memory per process (zoo models at high quality are ~30 MB each).
MODEL_CACHE_SIZE = 12


# -- model cache --------------------------------------------------------------------------
_cache: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_cache_lock = threading.Lock()
#: ``encode_batch`` briefly swaps a network's ``g_a``; networks are shared per process.
_net_lock = threading.RLock()


def cached_model(key: tuple[Any, ...], build: Callable[[], Any]) -> Any:
    """Per-process LRU cache of networks, so a sweep loads each level once."""
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    net = build()
    with _cache_lock:
        _cache[key] = net
        while len(_cache) > MODEL_CACHE_SIZE:
            _cache.popitem(last=False)
    return net


def clear_model_cache() -> None:
    with _cache_lock:
        _cache.clear()


def prepare_network(net: Any, device: str) -> Any:
    """eval mode, float64, on ``device``, with the entropy coder's CDF tables rebuilt.

    Why float64 and CPU-built tables: an encoder and a decoder must agree *exactly* on
    the entropy coder's inputs — the quantised latents and the indexes/means that select
    each symbol's CDF — or the bitstream decodes to garbage. In float32 these depend on
    the device and the thread count (CompressAI's known cross-platform problem: 0 of 40
    CUDA bitstreams equalled the CPU ones). The CDF tables are built once on the CPU in
    float32 from the weights (``update``), before the network moves; every transform
    then runs in float64, whose rounding differences (~1e-16) practically never move a
    latent across a rounding boundary or a scale across a table step. The price: encodes
    about 4x slower on CPU for the shipped codec (docs/neural-codecs.md).
    """
    net = net.float().eval().to("cpu")
    net.update(force=True)
    net = net.double().to(device)
    for p in net.parameters():
        p.requires_grad_(False)
    return net


@contextmanager
def _swapped_analysis(net: Any, y: torch.Tensor) -> Iterator[None]:
    """Make ``net.g_a`` return a precomputed latent, so ``compress`` skips re-analysis."""
    import torch

    class _Given(torch.nn.Module):
        def forward(self, _x: torch.Tensor) -> torch.Tensor:
            return y

    original = net.g_a
    net.g_a = _Given()
    try:
        yield
    finally:
        net.g_a = original


@contextmanager
def _coding() -> Iterator[None]:
    """No autograd, one network user at a time, and float64 as the default dtype: some
    CompressAI models allocate their latent buffers with ``torch.zeros`` (mbt2018's
    autoregressive decoder), which must be float64 like the network."""
    import torch

    with torch.inference_mode(), _net_lock:
        before = torch.get_default_dtype()
        torch.set_default_dtype(torch.float64)
        try:
            yield
        finally:
            torch.set_default_dtype(before)


# -- the base class ------------------------------------------------------------------------
class NeuralCodec(Codec):
    """A CompressAI-style network as a codec; subclasses say how to load it.

    Class attributes a subclass sets:

    * ``pad_multiple``: inputs are padded to a multiple of this (64 for hyperpriors);
    * ``latent_stride``: the stride of the ``shape`` that ``compress`` returns (64 for
      models that return the hyper-latent shape, 16 for factorized priors);
    * ``string_groups``: how many string lists ``compress`` returns.
    """

    pad_multiple: ClassVar[int] = 64
    latent_stride: ClassVar[int] = 64
    string_groups: ClassVar[int] = 2
    suffix = ".lbnc"
    batches = True  # the analysis transform runs on a batch of same-size images
    options: ClassVar[tuple[CodecOption, ...]] = (
        CodecOption("device", "cpu", "where the network runs: cpu, cuda or cuda:N (the bits do "
                    "not depend on it; follows bench run --device unless set)", placement=True),
        CodecOption("padding", "replicate",
                    "padding up to the network's multiple (zeros = CompressAI's eval_model)",
                    ("replicate", "zeros")),
    )

    # -- what a subclass provides ---------------------------------------------------------
    def load_model(self, level: int, device: str) -> Any:
        """Build the network for ``level`` with weights loaded (not yet prepared)."""
        raise NotImplementedError

    def model_key(self, level: int) -> tuple[Any, ...]:
        """What identifies the network for ``level`` in the per-process cache."""
        return (type(self).__module__, type(self).__qualname__, level)

    def compress_tensor(
        self, net: Any, x: torch.Tensor, level: int
    ) -> tuple[list[bytes], tuple[int, int]]:
        """Entropy-code one padded image (batch of 1): the strings and the latent shape."""
        out = net.compress(x)
        return [s[0] for s in out["strings"]], tuple(int(v) for v in out["shape"])  # type: ignore[return-value]

    def decompress_tensor(self, net: Any, strings: list[bytes], shape: tuple[int, int],
                          level: int) -> torch.Tensor:
        """Decode strings into the padded reconstruction (1, 3, H', W')."""
        return net.decompress([[s] for s in strings], list(shape))["x_hat"]

    def forward_tensor(self, net: Any, x: torch.Tensor, level: int) -> torch.Tensor:
        """The network's own reconstruction without entropy coding (for checks)."""
        return net(x)["x_hat"]

    @classmethod
    def check_available(cls) -> None:
        """Every neural codec needs compressai; subclasses add their weights' checks.

        Found, not imported: listing codecs must not load torch (``bench list``)."""
        if importlib.util.find_spec("compressai") is None:
            raise CodecError(f"{cls.name}: compressai is not installed (pip install compressai)")

    @classmethod
    def backend(cls) -> Backend:
        compressai, torch = distribution_version("compressai"), torch_version()
        if compressai is None or torch is None:
            return Backend("compressai", "not installed")
        # the coding path is part of what makes the bits (and so of the cache key)
        return Backend("compressai", compressai, f"torch {torch}; {CODING_PATH}")

    # -- shared machinery ------------------------------------------------------------------
    @property
    def device(self) -> str:
        dev = str(self.settings.get("device", "cpu"))
        if dev != "cpu":
            import torch

            try:
                kind = resolve_device(dev).type
            except LossybenchError as exc:
                raise CodecError(f"{self.name}: {exc}") from None
            if kind == "cuda":  # pin cuDNN's choices: the same float64 path every time
                torch.backends.cudnn.deterministic = True
                torch.backends.cudnn.benchmark = False
        return dev

    def level_of(self, quality: float) -> int:
        return round(self.quality.validate(quality))

    def model(self, level: int) -> Any:
        device = self.device
        return cached_model((*self.model_key(level), device),
                            lambda: prepare_network(self.load_model(level, device), device))

    def expected_shape(self, height: int, width: int) -> tuple[int, int]:
        """The latent shape ``compress`` returns for an image of this size."""
        m = self.pad_multiple
        ph, pw = -(-height // m) * m, -(-width // m) * m
        return -(-ph // self.latent_stride), -(-pw // self.latent_stride)

    def _padded(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        mode = self.settings.get("padding", "replicate")
        return to_tensor(images, self.pad_multiple, mode, self.device)

    @staticmethod
    def _check_image(image: np.ndarray) -> np.ndarray:
        arr = np.asarray(image)
        if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3 or min(arr.shape[:2]) < 1:
            raise CodecError(f"expected an (H, W, 3) uint8 RGB image, got {arr.dtype} {arr.shape}")
        return arr

    def _pack(
        self, level: int, h: int, w: int, strings: list[bytes], shape: tuple[int, int]
    ) -> bytes:
        if len(strings) != self.string_groups or tuple(shape) != self.expected_shape(h, w):
            raise CodecError(
                f"{self.name}: the network returned {len(strings)} string groups and latent shape "
                f"{tuple(shape)}; expected {self.string_groups} and {self.expected_shape(h, w)}"
            )
        return pack_bitstream(self.name, Bitstream(level, h, w, tuple(shape), tuple(strings)))

    def encode(self, image: np.ndarray, quality: float) -> bytes:
        return self.encode_batch([image], quality)[0]

    def encode_batch(
        self, images: Sequence[np.ndarray], quality: float, batch_size: int = 8
    ) -> list[bytes]:
        """Encode several images at one level; same-size images share network passes.

        Images are grouped into buckets of equal size (hence equal padding). The analysis
        transform runs on up to ``batch_size`` images at once; the rest of ``compress``
        (hyperprior, entropy parameters, rANS) runs per image, exactly as the decoder
        recomputes it, so every bitstream decodes on its own.
        """

        level = self.level_of(quality)
        arrays = [self._check_image(im) for im in images]
        net = self.model(level)
        out: list[bytes | None] = [None] * len(arrays)
        buckets: dict[tuple[int, int], list[int]] = {}
        for i, im in enumerate(arrays):
            buckets.setdefault(im.shape[:2], []).append(i)
        with _coding():
            for (h, w), idx in buckets.items():
                for start in range(0, len(idx), max(1, batch_size)):
                    chunk = idx[start : start + max(1, batch_size)]
                    x = self._padded([arrays[i] for i in chunk])
                    if len(chunk) == 1:
                        strings, shape = self.compress_tensor(net, x, level)
                        out[chunk[0]] = self._pack(level, h, w, strings, shape)
                        continue
                    y = net.g_a(x)
                    for j, i in enumerate(chunk):
                        with _swapped_analysis(net, y[j : j + 1]):
                            strings, shape = self.compress_tensor(net, x[j : j + 1], level)
                        out[i] = self._pack(level, h, w, strings, shape)
        assert all(b is not None for b in out)
        return out  # type: ignore[return-value]

    def parse(self, bitstream: bytes) -> Bitstream:
        """Validate a bitstream against this codec (header, CRC, level, sizes)."""
        bs = unpack_bitstream(self.name, bitstream)
        levels = self.quality.levels or []
        if bs.level not in {int(v) for v in levels}:
            raise CodecError(f"{self.name}: corrupt bitstream (level {bs.level} does not exist)")
        if bs.shape != self.expected_shape(bs.height, bs.width):
            raise CodecError(
                f"{self.name}: corrupt bitstream (latent shape {bs.shape} does not fit a "
                f"{bs.width}x{bs.height} image)"
            )
        if len(bs.strings) != self.string_groups:
            raise CodecError(
                f"{self.name}: corrupt bitstream ({len(bs.strings)} string groups, expected "
                f"{self.string_groups})"
            )
        return bs

    def decode(self, bitstream: bytes) -> np.ndarray:

        bs = self.parse(bitstream)
        net = self.model(bs.level)
        try:
            with _coding():
                x_hat = self.decompress_tensor(net, list(bs.strings), bs.shape, bs.level)
        except CodecError:
            raise
        except Exception as exc:
            raise CodecError(
                f"{self.name}: cannot decode the bitstream ({type(exc).__name__}: {exc})"
            ) from exc
        return to_image(x_hat, bs.height, bs.width, self.pad_multiple)

    def reconstruct(self, image: np.ndarray, quality: float) -> np.ndarray:
        """The network's forward-pass reconstruction (no entropy coding), as uint8.

        What the decoded bitstream should equal: a check that the entropy coder and the
        serialisation lose nothing.
        """

        level = self.level_of(quality)
        arr = self._check_image(image)
        with _coding():
            x_hat = self.forward_tensor(self.model(level), self._padded([arr]), level)
        return to_image(x_hat, arr.shape[0], arr.shape[1], self.pad_multiple)


def encode_levels(
    codec: NeuralCodec,
    images: Sequence[np.ndarray],
    levels: Sequence[float] | None = None,
    batch_size: int = 8,
) -> list[dict[float, bytes]]:
    """Every image at every level (all levels by default), through the batched path.

    Returns one ``{level: bitstream}`` per image: the whole table a floor-policy rate
    search needs, computed with one network load per level and batched analysis.
    """
    chosen = list(levels) if levels is not None else list(codec.quality.levels or [])
    table: list[dict[float, bytes]] = [{} for _ in images]
    for q in chosen:
        for i, bits in enumerate(codec.encode_batch(images, q, batch_size=batch_size)):
            table[i][q] = bits
    return table


def floor_level(table: dict[float, bytes], target_bpp: float, height: int, width: int,
                higher_is_better: bool = True) -> tuple[float, bytes, str]:
    """From an encoded table, the best level whose bpp is not above ``target_bpp``.

    Returns (level, bitstream, status) with status ``ok``, or ``too_low`` (even the
    lowest level spends more: the lowest is returned) — the rate-control policy.
    """
    order = sorted(table, reverse=higher_is_better)  # best first
    for q in order:
        if 8.0 * len(table[q]) / (height * width) <= target_bpp:
            return q, table[q], "ok"
    worst = order[-1]
    return worst, table[worst], "too_low"

