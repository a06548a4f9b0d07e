"""OpenStreetMap extracts: the walking network (:mod:`.network`), buildings and
facilities (:mod:`.features`), the streaming cut of a town out of a large extract
(:mod:`.cut`) and the import of all three (:mod:`.importing`)."""
from geo.io.osm.cut import cut_extract
from geo.io.osm.features import FACILITY_KINDS_ZH, FACILITY_TAGS, features_from_pbf
from geo.io.osm.importing import import_osm
from geo.io.osm.network import WALKABLE_HIGHWAYS, network_from_pbf

__all__ = ["FACILITY_KINDS_ZH", "FACILITY_TAGS", "WALKABLE_HIGHWAYS", "cut_extract",
           "features_from_pbf", "import_osm", "network_from_pbf"]
