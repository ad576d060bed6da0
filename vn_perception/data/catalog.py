"""Object catalogs: which meshes to learn, their class labels and shape symmetries.

Two layouts are read:

* a user folder of meshes (PLY / OBJ / STL, anything trimesh loads) with an optional labels file,
  `labels.yaml` (or `.yml`) or `labels.csv`. YAML maps a file name to a class name or to a mapping::

      mug.ply: mug
      soup.obj: {class: can, symmetry: "continuous:z"}

  CSV has a header with the columns `file,class` and an optional `symmetry`. Meshes the labels file does not
  name are ignored; without a labels file every mesh is its own class, named after the file stem;

* the shared catalog (`catalog.csv` + `meshes/`, see `shared/data/README.md`), filtered by `source`
  (e.g. `ycbv`), with instance-level (`name`) or category-level (`category`) labels; pairs listed in
  `near_duplicates.csv` (and `dup_of`) are merged into one class for instance-level work.

Symmetries are strings parsed by `vn_perception.models.symmetry.Symmetry`; the 21 YCB-Video objects get the
table in `data/ycbv.py`, everything else "none" unless its labels file says otherwise.
"""
import csv
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import trimesh
import yaml

from vn_perception.data.ycbv import YCBV_SYMMETRIES

MESH_SUFFIXES = (".ply", ".obj", ".stl", ".off", ".glb")
LABEL_FILES = ("labels.yaml", "labels.yml", "labels.csv")
NO_SYMMETRY = "none"


class CatalogError(ValueError):
    """A catalog that cannot be read (missing folder, unknown file, bad labels file)."""


@dataclass(frozen=True)
class CatalogEntry:
    """One mesh: its `name`, the `mesh_path` (metres, object frame), its class `label`, its `symmetry` string."""

    name: str
    mesh_path: Path
    label: str
    symmetry: str = NO_SYMMETRY

    def load_mesh(self):
        """The mesh as one `trimesh.Trimesh` (scenes are concatenated)."""
        try:
            return trimesh.load(self.mesh_path, force="mesh")
        except Exception as e:  # trimesh raises many types for broken files
            raise CatalogError(f"cannot read mesh {self.mesh_path}: {e}") from e


@dataclass
class Catalog:
    """An ordered list of entries; classes are the distinct labels in order of first appearance."""

    entries: list
    source: str = "folder"
    licence: str = "unknown"
    classes: list = field(init=False)

    def __post_init__(self):
        if not self.entries:
            raise CatalogError(f"catalog {self.source!r} has no objects")
        self.classes = list(dict.fromkeys(e.label for e in self.entries))

    def __len__(self):
        return len(self.entries)

    def label_index(self, entry):
        """Class index of `entry` (int)."""
        return self.classes.index(entry.label)

    @property
    def class_symmetries(self):
        """One symmetry string per class: the instances' common symmetry, "none" where instances disagree
        (category-level classes: each instance keeps its own mesh frame, so no shared symmetry is assumed)."""
        out = []
        for label in self.classes:
            found = {e.symmetry for e in self.entries if e.label == label}
            out.append(found.pop() if len(found) == 1 else NO_SYMMETRY)
        return out

    def fingerprint(self):
        """A short hash of names, labels and mesh file contents (data-set cache keys; symmetries do not change
        rendered views, so they are left out)."""
        h = hashlib.sha1()
        for e in self.entries:
            h.update(json.dumps([e.name, e.label]).encode())
            h.update(Path(e.mesh_path).read_bytes())
        return h.hexdigest()[:16]

    def describe(self):
        """JSON-able provenance (checkpoint metadata)."""
        return {"source": self.source, "licence": self.licence, "objects": [e.name for e in self.entries],
                "fingerprint": self.fingerprint()}


def load_catalog(path, source=None, level="instance", merge_duplicates=True):
    """Read the shared catalog (a folder holding `catalog.csv`) or a user folder of meshes (see module doc)."""
    path = Path(path).expanduser()
    if not path.is_dir():
        raise CatalogError(f"catalog folder not found: {path}")
    if (path / "catalog.csv").is_file():
        return load_shared_catalog(path, source=source, level=level, merge_duplicates=merge_duplicates)
    return load_folder_catalog(path)


def load_folder_catalog(folder):
    """A user folder of meshes plus an optional labels file -> `Catalog`."""
    folder = Path(folder)
    meshes = sorted(p for p in folder.iterdir() if p.suffix.lower() in MESH_SUFFIXES)
    labels_file = next((folder / n for n in LABEL_FILES if (folder / n).is_file()), None)
    if labels_file is None:
        entries = [CatalogEntry(p.stem, p, p.stem) for p in meshes]
    else:
        entries = [CatalogEntry(Path(f).stem, folder / f, label, sym)
                   for f, (label, sym) in _read_labels(labels_file).items()]
        missing = [str(e.mesh_path) for e in entries if not e.mesh_path.is_file()]
        if missing:
            raise CatalogError(f"{labels_file} names meshes that do not exist: {', '.join(missing)}")
    return Catalog(entries, source=str(folder))


def _read_labels(labels_file):
    """labels file -> {file name: (class, symmetry)}."""
    try:
        if labels_file.suffix == ".csv":
            with open(labels_file, newline="") as f:
                rows = list(csv.DictReader(f))
            return {r["file"].strip(): (r["class"].strip(), (r.get("symmetry") or NO_SYMMETRY).strip())
                    for r in rows}
        raw = yaml.safe_load(labels_file.read_text()) or {}
        out = {}
        for name, value in raw.items():
            if isinstance(value, dict):
                out[str(name)] = (str(value["class"]), str(value.get("symmetry", NO_SYMMETRY)))
            else:
                out[str(name)] = (str(value), NO_SYMMETRY)
        return out
    except (KeyError, AttributeError, yaml.YAMLError, csv.Error) as e:
        raise CatalogError(f"cannot parse labels file {labels_file}: {e!r}") from e


def load_shared_catalog(root, source=None, level="instance", merge_duplicates=True):
    """The shared catalog `root/catalog.csv`, rows of `source` (all when None), labels by `level`
    (`instance`: object name, near duplicates merged under the first name; `category`: the category column)."""
    root = Path(root)
    if level not in ("instance", "category"):
        raise CatalogError(f"unknown level {level!r}: expected instance or category")
    with open(root / "catalog.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if source is None or r["source"] == source]
    if not rows:
        raise CatalogError(f"no objects of source {source!r} in {root / 'catalog.csv'}")
    names = [r["name"] for r in rows]
    merged = _duplicate_groups(root, names) if merge_duplicates else {}
    entries = []
    for r in rows:
        label = r["category"] if level == "category" else merged.get(r["name"], r["name"])
        symmetry = YCBV_SYMMETRIES.get(r["name"], NO_SYMMETRY) if r["source"] == "ycbv" else NO_SYMMETRY
        entries.append(CatalogEntry(r["name"], root / r["mesh"], label, symmetry))
    licences = sorted({r["licence"] for r in rows})
    return Catalog(entries, source=f"shared:{source or 'all'}:{level}", licence="; ".join(licences))


def _duplicate_groups(root, names):
    """{name: representative name} for names joined by `near_duplicates.csv` (and `dup_of`) within `names`."""
    parent = {n: n for n in names}

    def find(n):
        while parent[n] != n:
            n = parent[n]
        return n

    pairs = []
    dup_file = root / "near_duplicates.csv"
    if dup_file.is_file():
        with open(dup_file, newline="") as f:
            pairs += [(r["name_a"], r["name_b"]) for r in csv.DictReader(f)]
    with open(root / "catalog.csv", newline="") as f:
        pairs += [(r["dup_of"], r["name"]) for r in csv.DictReader(f) if r.get("dup_of")]
    order = {n: i for i, n in enumerate(names)}
    for a, b in pairs:
        if a in parent and b in parent:
            ra, rb = find(a), find(b)
            if ra != rb:
                first, second = sorted((ra, rb), key=order.get)
                parent[second] = first
    return {n: find(n) for n in names}
