"""Tabletop scene simulation: stable object placement on a table, virtual depth-camera viewpoints, rendering."""
from vn_perception.sim.placement import ObjectModel, PlacedObject, PlacementConfig, Table, place_objects
from vn_perception.sim.scene import (Scene, SimulatedFrame, SimulationConfig, compose_scene, ground_truth,
                                     render_frame, render_poses, simulate)
from vn_perception.sim.viewpoint import ViewSampling, look_at, sample_viewpoints

__all__ = [
    "ObjectModel", "PlacedObject", "PlacementConfig", "Table", "place_objects", "Scene", "SimulatedFrame",
    "SimulationConfig", "compose_scene", "ground_truth", "render_frame", "render_poses", "simulate",
    "ViewSampling", "look_at", "sample_viewpoints",
]
