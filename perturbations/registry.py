"""The named perturbation families, their presets, and the ladder API the pipeline calls.

A ladder is a list of :class:`Variant` (a family at a severity). :func:`apply` runs one variant's
kernel on a uint8 batch; :func:`achieved` measures what it did. Severity 0 of any family is the
identity, bit for bit. Stochastic families (``noise``, the motion blurs, the protocols' noises,
``imagenet_c_elastic_transform``, ``medmnist_c_text_overlay``, ``hair``, ``gel_bubbles``) draw per
image from a generator seeded by (seed, family, severity, image id), never from global randomness,
so a result depends neither on the batch it was computed in nor on anything else running in the
process.

Presets are YAML files in ``configs/`` (``perturbations_<name>.yaml``): ``clinical`` (the default:
the six core names), ``imagenet-c``, and the dermatology protocols ``sam-c`` and ``medmnist-c``;
``all`` names every family.
"""
from __future__ import annotations

import difflib
import hashlib
import json
import zlib
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from typing import Sequence

import numpy as np

from harness.errors import UserError
from harness.yaml_file import read_yaml
from perturbations import (blur, brightness, contrast, defocus, dermoscopy, digital, imagenet_c, jpeg,
                           medmnist_c, motion, noise, protocol_noise, redness, skin_tone, white_balance)
from perturbations.measure import measure
from perturbations.region import check_masks
from perturbations.spec import FamilySpec, check_batch
from subgroups.lab import rgb_to_lab

SEVERITIES = (0, 1, 2, 3, 4, 5)
_CHUNK_PIXELS = 8 * 224 * 224

_MODULES = (brightness, contrast, redness, blur, skin_tone, jpeg, noise, white_balance, defocus, motion,
            imagenet_c, protocol_noise, digital, medmnist_c, dermoscopy)
FAMILIES: dict[str, FamilySpec] = {spec.name: spec for module in _MODULES for spec in module.SPECS}

_MEASURES = {
    "colour": ("dL", "da", "db", "dITA"),
    "blur": ("hf_loss",),
    "noise": ("hf_loss",),
    "compression": ("hf_loss",),
    "occlusion": ("area",),
}


@dataclass(frozen=True)
class Variant:
    """One rung of a ladder: a family at a severity (0 = identity, 1..5 = stronger).

    ``requested`` (the physical parameters asked for, from the family's table) and ``key()``
    follow from the two fields.
    """

    family: str
    severity: int

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"family: unknown perturbation {self.family!r}; known: {', '.join(FAMILIES)}")
        if isinstance(self.severity, bool) or not isinstance(self.severity, (int, np.integer)) \
                or self.severity not in SEVERITIES:
            raise ValueError(f"severity: expected an integer 0..5, got {self.severity!r}")
        object.__setattr__(self, "severity", int(self.severity))

    @property
    def name(self) -> str:
        """``f"{family}@{severity}"``, e.g. ``"blur@3"`` (the samples.csv column is ``p[name]``)."""
        return f"{self.family}@{self.severity}"

    @property
    def spec(self) -> FamilySpec:
        return FAMILIES[self.family]

    @property
    def requested(self) -> dict:
        """The physical parameters asked for (a fresh plain dict; empty at severity 0)."""
        if self.severity == 0:
            return {}
        return {k: _plain(v) for k, v in self.spec.table[self.severity].items()}

    @property
    def stochastic(self) -> bool:
        """True when the result depends on the seed (and on the image ids)."""
        return self.spec.stochastic and self.severity > 0

    @property
    def uses_mask(self) -> bool:
        """True when the result depends on the region masks."""
        return self.spec.uses_mask and self.severity > 0

    @property
    def kind(self) -> str:
        """``"colour"``, ``"blur"``, ``"noise"``, ``"compression"`` or ``"occlusion"``."""
        return self.spec.kind

    @property
    def measures(self) -> tuple[str, ...]:
        """The keys of :func:`achieved` that describe this family (all are always computed)."""
        return _MEASURES[self.spec.kind]

    def key(self) -> str:
        """Canonical spec string: name, kernel version and parameters, e.g.
        ``'blur@3|v1|{"sigma_px":1.5}'``; ``"clean"`` at severity 0 (its output is the clean image).

        The seed is not part of it: a cache key for a stochastic variant must add it.
        """
        if self.severity == 0:
            return "clean"
        params = json.dumps(self.requested, sort_keys=True, separators=(",", ":"))
        return f"{self.name}|v{self.spec.version}|{params}"


def _plain(value):
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    return value


# -- presets -----------------------------------------------------------------------------------

def presets() -> list[str]:
    """Names of the packaged presets (``configs/perturbations_<name>.yaml``) plus ``all``."""
    names = sorted(p.name[len("perturbations_"):-len(".yaml")].replace("_", "-")
                   for p in resources.files("configs").iterdir()
                   if p.name.startswith("perturbations_") and p.name.endswith(".yaml"))
    return names + ["all"]


def load_preset(name: str = "clinical") -> dict:
    """A preset's content: ``{"name", "description", "families", "severities"}``.

    ``name`` is a packaged preset (``clinical``, ``imagenet-c``), ``all``, or a path to a YAML file
    of the same shape.
    """
    if name.strip().lower() == "all":
        return {"name": "all", "description": "every registered family",
                "families": list(FAMILIES), "severities": [1, 2, 3, 4, 5]}
    if name.endswith((".yaml", ".yml")):
        data, where = read_yaml(name, what="perturbation preset file",
                                hint=f"give an existing YAML file or one of {', '.join(presets())}")
    else:
        stem = name.strip().lower().replace("-", "_")
        if not resources.files("configs").joinpath(f"perturbations_{stem}.yaml").is_file():
            raise UserError(f"--perturbations: unknown preset {name!r}; choose one of {', '.join(presets())}")
        data, where = read_yaml(None, packaged=f"perturbations_{stem}.yaml", what="perturbation preset")
    if not isinstance(data, dict) or not isinstance(data.get("families"), list):
        got = type(data).__name__ if not isinstance(data, dict) else f"keys {sorted(map(str, data))}"
        raise UserError(f"{where}: a perturbation preset needs a 'families:' list (got {got})")
    unknown = [str(f) for f in data["families"] if f not in FAMILIES]
    if unknown:
        raise UserError(f"{where}: unknown perturbation(s) {', '.join(map(repr, unknown))}; "
                        f"known: {', '.join(FAMILIES)}")
    severities = data.get("severities", [1, 2, 3, 4, 5])
    if not isinstance(severities, list) or any(s not in SEVERITIES for s in severities):
        raise UserError(f"{where}: 'severities:' must be a list of integers 0..5 (got {severities!r})")
    return {"name": str(data.get("name", name)), "description": str(data.get("description", "")).strip(),
            "families": [str(f) for f in data["families"]], "severities": [int(s) for s in severities]}


def similar_names(name: str) -> list[str]:
    """The families and presets an unknown ``name`` might mean: those whose name contains it as
    whole words (``brightness`` -> ``brightness_down``, ``brightness_up``; ``motion`` ->
    ``motion_blur``, ``imagenet_c_motion_blur``), else close spellings (``blurr`` -> ``blur``)."""
    known = list(FAMILIES) + presets()
    words = [w for w in name.strip().lower().replace("-", "_").split("_") if w]
    if not words:
        return []

    def contains(candidate: str) -> bool:
        parts = candidate.replace("-", "_").split("_")
        return any(parts[i:i + len(words)] == words for i in range(len(parts) - len(words) + 1))

    return [k for k in known if contains(k)] or \
        difflib.get_close_matches(name.strip().lower(), known, n=3, cutoff=0.6)


def unknown_name_message(name: str, *, option: str = "--perturbations") -> str:
    """The one line for an unknown perturbation ``name`` given by ``option``: what it might mean
    (:func:`similar_names`), or every name; and where each is described."""
    close = similar_names(name)
    if close:
        quoted = [repr(c) for c in close]
        either = quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"
        return (f"{option}: unknown perturbation {name!r}; did you mean {either}? "
                f"'harness perturbations' lists every family, its parameters at each severity, "
                f"and the presets")
    return (f"{option}: unknown perturbation {name!r}; choose from {', '.join(FAMILIES)} or a "
            f"preset ({', '.join(presets())}); 'harness perturbations' describes each")


def families(preset: str = "clinical") -> list[str]:
    """The family names of a preset (``clinical`` by default; ``imagenet-c``; ``all``; a YAML path)."""
    return load_preset(preset)["families"]


def ladder(families: Sequence[str], severities: Sequence[int], *,
           option: str = "--perturbations") -> list[Variant]:
    """Every family at every severity, family-major, duplicates dropped.

    A name in ``families`` may also be a preset (``clinical``, ``imagenet-c``, ``all``), which
    stands for its families. Raises ``UserError`` on an unknown name (naming ``option``, where the
    names came from) or a severity outside 0..5.
    """
    if isinstance(families, str) or isinstance(severities, (str, int)):
        raise TypeError("ladder: families and severities must be sequences (e.g. ['blur'], [1, 2])")
    names: list[str] = []
    known_presets = {p.replace("-", "_") for p in presets()}
    for item in families:
        item = str(item).strip()
        if item in FAMILIES:
            names.append(item)
        elif item.lower().replace("-", "_") in known_presets:
            names.extend(load_preset(item)["families"])
        else:
            raise UserError(unknown_name_message(item, option=option))
    sev: list[int] = []
    for s in severities:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or int(s) not in SEVERITIES:
            raise UserError(f"--severities: severities are whole numbers 0-5, got {s!r}")
        sev.append(int(s))
    out: list[Variant] = []
    seen: set[tuple[str, int]] = set()
    for f in names:
        for s in sev:
            if (f, s) not in seen:
                seen.add((f, s))
                out.append(Variant(f, s))
    return out


# -- applying and measuring --------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Prepared:
    """A clean batch whose CIELAB is computed once (on first use) and shared by a whole ladder.

    Pass it to :func:`apply` and :func:`achieved` in place of the array: the CIELAB families then
    skip their forward conversion and the measurement skips the clean one. Results are identical
    to passing the array.
    """

    images: np.ndarray

    @cached_property
    def lab(self) -> np.ndarray:
        lab = rgb_to_lab(self.images)
        lab.flags.writeable = False
        return lab


def prepare(images: np.ndarray) -> Prepared:
    """Wrap a clean uint8 batch (N, H, W, 3) for repeated :func:`apply` / :func:`achieved`."""
    check_batch(images)
    return Prepared(images)


def _id_int(image_id) -> int:
    if isinstance(image_id, (int, np.integer)) and not isinstance(image_id, bool):
        if image_id < 0:
            raise ValueError(f"image_ids: integers must be non-negative, got {image_id!r}")
        return int(image_id)
    if isinstance(image_id, str):
        return int.from_bytes(hashlib.sha256(image_id.encode("utf-8")).digest()[:8], "little")
    raise TypeError(f"image_ids: expected int or str items, got {type(image_id).__name__}")


def image_seeds(seed: int, family: str, severity: int, image_ids: Sequence) -> np.ndarray:
    """One uint64 seed per image from (seed, family, severity, image id): independent streams."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise UserError(f"--seed: must be a non-negative whole number (got {seed!r})")
    fam = zlib.crc32(family.encode("utf-8"))
    return np.array([np.random.SeedSequence([int(seed), fam, int(severity), _id_int(i)])
                     .generate_state(1, np.uint64)[0] for i in image_ids], dtype=np.uint64)


def apply(variant: Variant, images: np.ndarray | Prepared, *, masks: np.ndarray | None = None,
          seed: int = 0, image_ids: Sequence[int | str] | None = None) -> np.ndarray:
    """Apply one variant to a uint8 batch; pure (the input is never modified).

    Parameters
    ----------
    variant : Variant
        Family and severity; severity 0 returns an exact copy.
    images : np.ndarray or Prepared
        uint8 (N, H, W, 3) RGB, or :func:`prepare` of it.
    masks : np.ndarray, optional
        bool (N, H, W) skin/lesion region, used by the regional families (redness, skin tone);
        None = the whole image.
    seed : int
        Seed of the stochastic families (ignored by the others).
    image_ids : sequence of int or str, optional
        A stable id per image (e.g. its content hash) from which, with ``seed``, each image's
        random stream is derived; default the positions 0..N-1. Pass content ids when the result
        is cached per image, so that an image gets the same noise whatever batch it is in.

    Returns
    -------
    np.ndarray
        uint8 (N, H, W, 3).
    """
    if not isinstance(variant, Variant):
        raise TypeError(f"variant: expected a Variant, got {type(variant).__name__}")
    prepared = images if isinstance(images, Prepared) else None
    batch = prepared.images if prepared is not None else images
    check_batch(batch)
    if variant.severity == 0:
        return batch.copy()
    spec = variant.spec
    params = dict(spec.table[variant.severity])
    per_image: dict[str, np.ndarray] = {}  # kernel kwargs with one entry per image
    if spec.uses_mask:
        masks = check_masks(masks, batch)
        if masks is not None:
            per_image["masks"] = masks
        else:
            params["masks"] = None
    if spec.uses_lab and prepared is not None:
        per_image["lab"] = prepared.lab
    if spec.stochastic:
        ids = range(len(batch)) if image_ids is None else list(image_ids)
        if len(ids) != len(batch):
            raise ValueError(f"image_ids: expected {len(batch)} ids, got {len(ids)}")
        sampled = spec.sample(params, image_seeds(seed, variant.family, variant.severity, ids))
        per_image.update({k: np.asarray(v) for k, v in sampled.items()})
    out = np.empty_like(batch)
    step = chunk_size(batch.shape[1], batch.shape[2])
    for start in range(0, len(batch), step):
        part = slice(start, start + step)
        res = spec.kernel(batch[part], **params, **{k: v[part] for k, v in per_image.items()})
        if res.dtype != np.uint8 or res.shape != batch[part].shape:
            raise RuntimeError(f"{variant.name}: kernel returned {res.dtype} {res.shape}, "
                               f"expected uint8 {batch[part].shape}")
        out[part] = res
    return out


def chunk_size(height: int, width: int) -> int:
    """Images per kernel call: about eight 224 x 224 images' worth of pixels, so that a chunk's
    float32 CIELAB (~5 MB) stays in cache between the kernel's passes (measured 25% faster than
    one call on 108 images); results do not depend on it."""
    return max(1, (_CHUNK_PIXELS + height * width - 1) // (height * width))


def achieved(clean: np.ndarray | Prepared, perturbed: np.ndarray, *,
             masks: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """What a perturbation did, per image, over the mask (the whole image when None).

    Returns
    -------
    dict
        ``dL``, ``da``, ``db`` (change of mean CIELAB L*, a*, b*), ``dITA`` (degrees),
        ``hf_loss`` (share of Laplacian variance lost), ``area`` (share of the region covered):
        each a float64 (N,) array; NaN for an
        image with an empty mask. See :mod:`perturbations.measure`.
    """
    check_batch(perturbed)
    step = chunk_size(perturbed.shape[1], perturbed.shape[2])
    if isinstance(clean, Prepared):
        return measure(clean.lab, perturbed, masks, chunk=step)
    check_batch(clean)
    if clean.shape != perturbed.shape:
        raise ValueError(f"perturbed: expected shape {clean.shape}, got {perturbed.shape}")
    parts = [measure(rgb_to_lab(clean[s:s + step]), perturbed[s:s + step],
                     None if masks is None else masks[s:s + step], chunk=step)
             for s in range(0, len(clean), step)]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
