"""The string rules of a result file, and the strict base of its pydantic models.

No string a result carries may hold a control, bidi, zero-width or other invisible
formatting character (:data:`UNSAFE_CHARS`), every string has a length cap, and what
names something (a task, model, dataset, codec, plugin, distribution, metric, version) is
a plain identifier matching a strict pattern (:data:`PATTERNS` says which, in words).
Free text (descriptions, paths, the command line) may hold anything else. Why a module of
its own: the result's models (:mod:`lossybench.engine.results`) and its provenance
(:mod:`lossybench.engine.result_provenance`) share these rules.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError
from typing_extensions import TypeAliasType

# -- string rules ---------------------------------------------------------------------------
#: Code points no string of a result may hold: C0 and C1 controls (Cc), soft hyphen, bidi
#: marks, embeddings, overrides and isolates, zero-width and other invisible format
#: characters (Cf, as of Unicode 15), line and paragraph separators (Zl, Zp), the BOM,
#: private use (Co) and the tag characters. Lone surrogates are refused by the parser.
_UNSAFE_RANGES: tuple[tuple[int, int], ...] = (
    (0x0000, 0x001F), (0x007F, 0x009F), (0x00AD, 0x00AD), (0x0600, 0x0605),
    (0x061C, 0x061C), (0x06DD, 0x06DD), (0x070F, 0x070F), (0x0890, 0x0891),
    (0x08E2, 0x08E2), (0x180E, 0x180E), (0x200B, 0x200F), (0x2028, 0x202E),
    (0x2060, 0x206F), (0xE000, 0xF8FF), (0xFEFF, 0xFEFF), (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD), (0x110CD, 0x110CD), (0x13430, 0x1343F), (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A), (0xE0001, 0xE0001), (0xE0020, 0xE007F), (0xF0000, 0x10FFFF),
)


def _class_char(cp: int) -> str:
    # BMP as a \uXXXX escape (Python, Rust and ECMA-262 regexes all read it); beyond the
    # BMP the character itself, which every engine reads as one code point
    return f"\\u{cp:04x}" if cp <= 0xFFFF else chr(cp)


#: A regex (a character class) that finds an unsafe character anywhere in a string.
UNSAFE_CHARS = "[" + "".join(
    _class_char(a) if a == b else f"{_class_char(a)}-{_class_char(b)}" for a, b in _UNSAFE_RANGES
) + "]"
#: A name segment that could walk a path: ``.`` or ``..`` between slashes or at an end.
TRAVERSAL = r"(?:^|/)\.{1,2}(?:/|$)"
_UNSAFE_RE = re.compile(UNSAFE_CHARS)
_TRAVERSAL_RE = re.compile(TRAVERSAL)

SHA256 = r"^[0-9a-f]{64}$"
#: task, model family and name, dataset, codec name and label: ``hf-hub:timm/vit_b.a1``,
#: ``jpeg:subsampling=4:4:4,optimize=True``
NAME = r"^[A-Za-z0-9][A-Za-z0-9._:+=,/@-]{0,199}$"
PLUGIN = r"^[A-Za-z0-9_][A-Za-z0-9._+-]{0,99}$"
DISTRIBUTION = r"^(?:\?|[A-Za-z0-9][A-Za-z0-9._+-]{0,199})$"
VERSION = r"^[A-Za-z0-9][A-Za-z0-9._+!-]{0,99}$"
VERSION_OR_UNKNOWN = r"^(?:\?|[A-Za-z0-9][A-Za-z0-9._+!-]{0,99})$"
METRIC = r"^[A-Za-z][A-Za-z0-9_.:@+-]{0,63}$"
DEVICE = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$"
CREATED = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?(?:Z|\+00:00)$"
RECORDS_FILE = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}\.jsonl$"
GIT_COMMIT = r"^[0-9a-f]{40}(?:[0-9a-f]{24})?$"
#: where a plugin failed: ``import``, ``register``, ``lossybench_codecs``, ``conflict``, ...
STAGE = r"^[a-z][a-z0-9_]{0,63}$"

#: What each pattern asks for, in words: messages say this instead of the regex.
PATTERNS: dict[str, str] = {
    SHA256: "must be a sha256: 64 lower-case hex digits",
    NAME: "is not a valid name: names are 1-200 characters from letters, digits and "
          "._:+=,/@- starting with a letter or digit (no spaces, quotes, brackets or HTML)",
    PLUGIN: "is not a valid plugin name: plugin (entry-point) names are 1-100 letters, "
            "digits and ._+- (no spaces, slashes or other characters)",
    DISTRIBUTION: "is not a valid distribution name: 1-200 letters, digits and ._+- "
                  "(or '?' when unknown)",
    VERSION: "is not a valid version: 1-100 letters, digits and ._+!- such as 2.4.1+cu121",
    VERSION_OR_UNKNOWN: "is not a valid version: 1-100 letters, digits and ._+!- such as "
                        "2.4.1+cu121 (or '?' when unknown)",
    METRIC: "is not a valid metric name: 1-64 letters, digits and _.:@+- starting with a "
            "letter",
    DEVICE: "is not a valid device: letters, digits and ._:- such as cpu or cuda:0",
    CREATED: "must be an ISO 8601 UTC time such as 2024-05-01T12:00:00Z",
    RECORDS_FILE: "must be the plain file name of the JSONL (letters, digits and ._-, "
                  "ending in .jsonl; no folders)",
    GIT_COMMIT: "must be a git commit: 40 (or 64) lower-case hex digits",
    STAGE: "is not a valid stage: 1-64 lower-case letters, digits and _ such as import or "
           "lossybench_codecs",
}


def unsafe_char(text: str) -> str | None:
    """``U+202E RIGHT-TO-LEFT OVERRIDE`` for the first unsafe character of ``text``."""
    m = _UNSAFE_RE.search(text)
    if m is None:
        return None
    c = m.group()
    name = unicodedata.name(c, "") or {"Cc": "control character", "Co": "private use"}.get(
        unicodedata.category(c), "format character")
    return f"U+{ord(c):04X} {name}"


def string_problem(text: str, name: bool = False) -> str | None:
    """Why ``text`` breaks the rule every string keeps (and, for a name, no traversal)."""
    bad = unsafe_char(text)
    if bad is not None:
        return (f"contains {bad} at character {_UNSAFE_RE.search(text).start() + 1}"  # type: ignore[union-attr]
                ": a control, bidi or invisible formatting character, which can hide or "
                "reorder what a reader sees; remove it")
    if name and _TRAVERSAL_RE.search(text):
        return ("contains a path traversal (a '.' or '..' segment); names must be plain "
                "identifiers")
    return None


def _safe(text: str) -> str:
    why = string_problem(text)
    if why is not None:
        raise PydanticCustomError("unsafe_string", why)
    return text


def _safe_name(text: str) -> str:
    why = string_problem(text, name=True)
    if why is not None:
        raise PydanticCustomError("unsafe_name", why)
    return text


def _ident(alias: str, pattern: str, traversal: bool = False) -> Any:
    """An identifier type: ``pattern``, no unsafe character, optionally no traversal."""
    unsafe = f"{UNSAFE_CHARS}|{TRAVERSAL}" if traversal else UNSAFE_CHARS
    return TypeAliasType(alias, Annotated[  # type: ignore[misc]
        str, Field(pattern=pattern, json_schema_extra={"not": {"pattern": unsafe}}),
        AfterValidator(_safe_name if traversal else _safe)])


#: Free text (a description, a path, an argument): anything but unsafe characters; each
#: field caps its length.
Text = TypeAliasType(  # type: ignore[misc]
    "Text", Annotated[str, Field(json_schema_extra={"not": {"pattern": UNSAFE_CHARS}}),
                      AfterValidator(_safe)])
Name = _ident("Name", NAME, traversal=True)
PluginName = _ident("PluginName", PLUGIN)
Distribution = _ident("Distribution", DISTRIBUTION)
Version = _ident("Version", VERSION)
VersionOrUnknown = _ident("VersionOrUnknown", VERSION_OR_UNKNOWN)
MetricName = _ident("MetricName", METRIC)
Device = _ident("Device", DEVICE)
Sha256 = _ident("Sha256", SHA256)
Timestamp = _ident("Timestamp", CREATED)
RecordsFile = _ident("RecordsFile", RECORDS_FILE)
GitCommit = _ident("GitCommit", GIT_COMMIT)
Stage = _ident("Stage", STAGE)

JsonKey = Annotated[Text, Field(min_length=1, max_length=200)]
#: Plugin-defined facts (task details, preprocessing, codec settings, the configuration):
#: any JSON whose keys and strings keep the text rule.
JsonValue = TypeAliasType(  # type: ignore[misc]
    "JsonValue",
    bool | int | float | Annotated[Text, Field(max_length=10_000)]
    | Annotated[list["JsonValue"], Field(max_length=10_000)]  # type: ignore[misc]
    | dict[JsonKey, "JsonValue"]  # type: ignore[misc]
    | None,
)
JsonObject = dict[JsonKey, JsonValue]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=False)

