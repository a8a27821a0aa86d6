"""Raster stacks opened lazily as chunked arrays: xarray + dask through rioxarray (GeoTIFF/COG, a NetCDF or HDF5
variable by its GDAL name, anything else GDAL reads). Nothing is read until a chunk is computed, where the chunk
is computed (a worker of a dask cluster reads its own chunks).

Values are those of :func:`backend.data.raster_io.read_block`: float32, no data → NaN. The band times, CRS and
transform stay with :mod:`backend.data.raster_io` (``band_times_from_metadata``, ``grid_of``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rasterio.windows import Window

from backend.data.gdal_names import absolute_name
from backend.data.raster_io import grid_of, open_raster, read_block
from backend.data.raster_stack import GridSpec


@dataclass
class LazyStack:
    """``data``: dask float32[T, H, W] in chunks of all T × ``side`` × ``side`` cells; ``grid`` its raster grid."""

    path: str
    data: object  # dask.array.Array
    grid: GridSpec
    side: int

    def windows(self) -> list[Window]:
        """The chunks as raster windows, row by row (the order of :meth:`chunk`'s indices)."""
        rows, cols = self.data.chunks[1], self.data.chunks[2]
        row_offsets, col_offsets = np.cumsum((0, *rows[:-1])), np.cumsum((0, *cols[:-1]))
        return [
            Window(int(c0), int(r0), int(w), int(h))
            for r0, h in zip(row_offsets, rows)
            for c0, w in zip(col_offsets, cols)
        ]

    def chunk(self, index: int):
        """Chunk ``index`` (of :meth:`windows`) as a dask array float32[T, h, w]."""
        n_cols = len(self.data.chunks[2])
        return self.data.blocks[:, index // n_cols, index % n_cols]

    def chunk_with_halo(self, index: int, halo: int) -> HaloChunk:
        """Chunk ``index`` widened by ``halo`` cells on every side (as far as the grid goes), read in one window
        where it is computed: for neighbourhood statistics that must equal those of the whole grid."""
        import dask

        window = self.windows()[index]
        row0, col0 = max(0, window.row_off - halo), max(0, window.col_off - halo)
        row1 = min(self.grid.height, window.row_off + window.height + halo)
        col1 = min(self.grid.width, window.col_off + window.width + halo)
        wide = Window(col0, row0, col1 - col0, row1 - row0)
        values = dask.delayed(read_window, pure=True)(self.path, wide)
        top, left = window.row_off - row0, window.col_off - col0
        return HaloChunk(values, (top, top + window.height), (left, left + window.width))


@dataclass(frozen=True)
class HaloChunk:
    """``values``: a Delayed float32[T, h + halos, w + halos]; the chunk itself is ``values[:, rows[0]:rows[1],
    cols[0]:cols[1]]``."""

    values: object
    rows: tuple[int, int]
    cols: tuple[int, int]


def read_window(path: str, window: Window) -> np.ndarray:
    """float32[T, h, w] of all bands in ``window`` (no data → NaN)."""
    with open_raster(path) as src:
        return read_block(src, window)


def file_block_shape(path: str) -> tuple[int, int] | None:
    """(rows, cols) of the file's internal blocks (tiles or strips) of its first band."""
    with open_raster(path) as src:
        shape = src.block_shapes[0] if src.count else None
    return tuple(int(v) for v in shape) if shape else None


def open_lazy_stack(path: str, side: int) -> LazyStack:
    """The stack at ``path`` in chunks of ``side`` × ``side`` cells (all bands in each chunk). The path is made
    absolute: the chunks may be read by workers in other folders (or on other machines sharing the storage)."""
    import rioxarray

    path = absolute_name(path)
    with open_raster(path) as src:
        grid = grid_of(src)
    # chunks by position: the first dimension is "band", or "time" for a NetCDF variable
    array = rioxarray.open_rasterio(
        path, chunks=(-1, side, side), masked=True, lock=False, cache=False, parse_coordinates=False
    )
    return LazyStack(path, array.data.astype(np.float32), grid, side)
