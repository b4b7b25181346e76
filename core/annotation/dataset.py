"""A dataset: a folder of photos with labelme JSON files beside them.

``annotations/<name>/`` holds the project's own datasets in this layout (see ``core.paths.annotations_dir``).
Subfolders are allowed; folders whose name starts with ``.`` (``.fvw`` holds the lock) are skipped.

Every path a JSON file names is resolved under the dataset root: ``imagePath`` values such as
``../../etc/passwd`` or ``/home/x.jpg`` raise :class:`~core.errors.PathEscapeError`, so nothing outside
a dataset's root is ever served.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from core.annotation.schema import LabelFile, load_label_file
from core.errors import DatasetError, PathEscapeError

__all__ = ["IMAGE_SUFFIXES", "Dataset", "DatasetItem", "resolve_under_root"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def resolve_under_root(root: str | Path, base: str | Path, relative: str) -> Path:
    """Resolve ``relative`` (from a JSON in folder ``base``) and require it to stay inside ``root``.

    Symlinks are followed before the check, so a link pointing out of the dataset is refused too.

    Raises:
        PathEscapeError: the path is absolute, has a drive, or leaves ``root``.
    """
    root_r = Path(root).resolve()
    rel = PureWindowsPath(relative).as_posix() if "\\" in relative else relative
    if PurePosixPath(rel).is_absolute() or PureWindowsPath(relative).drive:
        raise PathEscapeError(
            f"absolute path {relative!r} is not allowed; store the photo in the dataset and use a relative path",
            path=base,
            field="imagePath",
        )
    target = (Path(base) / rel).resolve()
    if not target.is_relative_to(root_r):
        raise PathEscapeError(
            f"path {relative!r} points outside the dataset folder {root_r}; move the photo into the dataset",
            path=base,
            field="imagePath",
        )
    return target


@dataclass(frozen=True)
class DatasetItem:
    """One labelled photo.

    Attributes:
        json_path: the labelme file.
        label_file: its parsed content.
        image_path: the photo on disk, or None when the image exists only as embedded ``imageData``.
    """

    json_path: Path
    label_file: LabelFile
    image_path: Path | None

    def image_bytes(self) -> bytes:
        """The encoded photo (file bytes, or the decoded embedded ``imageData``)."""
        if self.image_path is not None:
            return self.image_path.read_bytes()
        assert self.label_file.image_data is not None  # guaranteed by Dataset.item
        return base64.b64decode(self.label_file.image_data)


class Dataset:
    """A folder of photos and labelme JSON files.

    Args:
        root: the dataset folder.

    Raises:
        DatasetError: ``root`` is not an existing folder.
    """

    def __init__(self, root: str | Path):
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise DatasetError("dataset folder does not exist; create it or pick another", path=root)

    def _walk(self, suffixes: tuple[str, ...]) -> list[Path]:
        out = []
        for p in self.root.rglob("*"):
            rel = p.relative_to(self.root)
            if any(part.startswith(".") for part in rel.parts) or not p.is_file():
                continue
            if p.suffix.lower() in suffixes:
                out.append(p)
        return sorted(out)

    def json_files(self) -> list[Path]:
        """Every ``.json`` file in the dataset, sorted."""
        return self._walk((".json",))

    def photos(self) -> list[Path]:
        """Every photo (by suffix, see :data:`IMAGE_SUFFIXES`), sorted."""
        return self._walk(IMAGE_SUFFIXES)

    def resolve(self, json_path: str | Path, relative: str) -> Path:
        """A path named inside ``json_path``, resolved under the root (PathEscapeError otherwise)."""
        return resolve_under_root(self.root, Path(json_path).parent, relative)

    def image_path_for(self, json_path: str | Path, label_file: LabelFile) -> Path | None:
        """The photo a label file annotates.

        Returns:
            The file, or None when it is missing but the JSON embeds the image (``imageData``).

        Raises:
            PathEscapeError: ``imagePath`` leaves the dataset.
            DatasetError: the photo is missing and nothing is embedded.
        """
        target = self.resolve(json_path, label_file.image_path)
        if target.is_file() and target.suffix.lower() in IMAGE_SUFFIXES:
            return target
        if label_file.image_data:
            try:
                base64.b64decode(label_file.image_data, validate=True)
            except (binascii.Error, ValueError) as e:
                raise DatasetError("imageData is not valid base64", path=json_path, field="imageData") from e
            return None
        raise DatasetError(
            f"photo {label_file.image_path!r} named by imagePath does not exist; put it beside the JSON "
            "or correct imagePath",
            path=json_path,
            field="imagePath",
        )

    def item(self, json_path: str | Path) -> DatasetItem:
        """Load one JSON (which must be inside the dataset) and locate its photo."""
        p = Path(json_path).resolve()
        if not p.is_relative_to(self.root):
            raise PathEscapeError(f"{json_path} is not inside the dataset {self.root}", path=json_path)
        lf = load_label_file(p)
        return DatasetItem(json_path=p, label_file=lf, image_path=self.image_path_for(p, lf))

    def items(self) -> Iterator[DatasetItem]:
        """Every labelled photo; raises on the first bad file (use :meth:`json_files` + :meth:`item` to collect)."""
        for p in self.json_files():
            yield self.item(p)

    def unlabelled(self) -> list[Path]:
        """Photos that no JSON beside them annotates (no ``<stem>.json`` in the same folder)."""
        return [p for p in self.photos() if not p.with_suffix(".json").is_file()]

    def __repr__(self) -> str:
        return f"Dataset({str(self.root)!r})"
