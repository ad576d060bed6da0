"""Data: object catalogs, the virtual depth camera, synthetic partial views, cached view sets.

  catalog   user mesh folders and the shared catalog -> `Catalog` of `CatalogEntry(name, mesh_path, label,
            symmetry)`; `ycbv` holds the default symmetries of the 21 YCB-Video objects
  camera    `PinholeCamera`, `DepthNoise`, `render_depth` (ray casting), `posed`
  views     `ViewConfig`, `render_view`: one labelled partial view (points, object -> camera rotation)
  dataset   `make_view_set` (cached .npz, resumable, multiprocess), `ViewDataset` (torch, augmentation)
  paths     the shared data folder and the view cache
"""
