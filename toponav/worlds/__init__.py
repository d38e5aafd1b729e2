"""World data (obstacles, terrain, start, goal), procedural families and the BARN set. numpy only."""

from toponav.worlds.model import Terrain, World, WorldError

__all__ = ["Terrain", "World", "WorldError"]
