"""Work in chunks on Dask: where it runs (``scheduler``), how big a chunk is (``chunks``), and running one engine
function per chunk with progress, cancel and bounded memory (``blocks``)."""
