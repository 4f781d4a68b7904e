"""Keras weight files are data too: HDF5 and `.keras` archives checked before any weight is read.

HDF5 can make a read reach other files: external links (`h5py.ExternalLink`), datasets whose
bytes live in external raw files (`dset.external`), virtual datasets assembled from other
files (`dset.is_virtual`), and filters served by plugins. Every object of the file is walked
(iteratively, links inspected with `getlink=True`, never followed) and any of those is refused,
naming its path. Soft links stay inside the file (external links are refused, so a soft link
can only name an object of this file), and they are not followed by the walk.

A `.keras` archive is a zip: `model.weights.h5` is read only if its declared size fits a
budget set by the model it loads into, then streamed with that cap (a member that expands
past its declared size, or past the cap, is refused before the memory is taken).
"""

from __future__ import annotations

import io
import zipfile

from onnxgraph.saving._limits import FileLimitError, get_file_limits, limit_hint

__all__ = ["check_h5_file", "read_archive_member"]

# gzip, shuffle, fletcher32, szip, nbit, scaleoffset (HDF5 built-ins) and lzf (built into h5py).
_BUILTIN_FILTERS = {"gzip", "shuffle", "fletcher32", "szip", "nbit", "scaleoffset", "lzf",
                    1, 2, 3, 4, 5, 6, 32000}
_NUMERIC = "fiub"


def _refuse(source: str, path: str, what: str) -> None:
    raise ValueError(f"{source}: '{path}' is {what}; reading it would open files outside this one (or run a "
                     "plugin), so Keras weight files may not contain it. Nothing was read. Re-save the weights "
                     "with Keras (model.save_weights) to get a self-contained file.")


def _check_dataset(dataset, path: str, source: str) -> None:
    if dataset.is_virtual:
        _refuse(source, path, "a virtual dataset (its data is assembled from other files)")
    if dataset.external:
        files = sorted({str(entry[0]) for entry in dataset.external})
        _refuse(source, path, f"a dataset stored in external raw files {files}")
    filters = set(dataset._filters) if hasattr(dataset, "_filters") else set()
    unknown = sorted(map(str, filters - _BUILTIN_FILTERS))
    if unknown:
        _refuse(source, path, f"a dataset compressed with filter(s) {unknown}, which need HDF5 plugins")
    if dataset.dtype.kind not in _NUMERIC or dataset.dtype.fields is not None:
        raise ValueError(f"{source}: '{path}' holds {dataset.dtype} values; Keras weights are numbers "
                         "(float, int or bool). The file is damaged or crafted.")


def check_h5_file(handle, source: str) -> None:
    """Walk every object of an open h5py File; refuse anything that reads beyond it."""
    import h5py

    limit = get_file_limits().max_nodes
    seen, stack, count = set(), [("", handle)], 0
    while stack:
        prefix, group = stack.pop()
        for name in group.keys():
            path = f"{prefix}/{name}"
            count += 1
            if count > limit:
                raise FileLimitError(f"{source} holds more than {limit:,} HDF5 objects; Keras weight files hold "
                                     "one group per layer. " + limit_hint("max_nodes", limit))
            link = group.get(name, getlink=True)
            if isinstance(link, h5py.ExternalLink):
                _refuse(source, path, f"an external link to {link.filename!r}:{link.path!r}")
            if isinstance(link, h5py.SoftLink):
                continue  # names an object of this file; the walk reaches it through its hard link
            obj = group[name]
            if isinstance(obj, h5py.Dataset):
                _check_dataset(obj, path, source)
            elif isinstance(obj, h5py.Group):
                info = h5py.h5o.get_info(obj.id)
                if (info.fileno, info.addr) not in seen:  # hard links can make a group its own ancestor
                    seen.add((info.fileno, info.addr))
                    stack.append((path, obj))


def read_archive_member(archive: zipfile.ZipFile, name: str, model_bytes: int, source: str) -> io.BytesIO:
    """Read one member of a zip archive, refusing sizes the model cannot need (zip bombs)."""
    limits = get_file_limits()
    cap = int(model_bytes * limits.archive_ratio) + limits.archive_slack_bytes
    info = archive.getinfo(name)
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size > cap:
        raise FileLimitError(
            f"{source}: archive member {name!r} declares {info.file_size:,} bytes uncompressed ({info.compress_size:,} "
            f"compressed, ratio {ratio:.0f}:1), but the model it loads into has only {model_bytes:,} bytes of "
            f"weights (at most {cap:,} bytes are read, optimizer state included). Nothing was expanded. "
            + limit_hint("archive_slack_bytes", limits.archive_slack_bytes))
    buffer = io.BytesIO()
    with archive.open(info) as member:
        while True:
            chunk = member.read(1 << 20)
            if not chunk:
                break
            buffer.write(chunk)
            if buffer.tell() > min(cap, info.file_size):
                raise FileLimitError(f"{source}: archive member {name!r} expands past its declared size "
                                     f"({info.file_size:,} bytes); the archive is crafted or damaged.")
    buffer.seek(0)
    return buffer
