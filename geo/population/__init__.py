"""Population from village census totals (dasymetric mapping).

A town office has the census population of every village or community (七普
常住人口, one number each). ``census`` reads such a table (CSV or XLSX with
Chinese headers), matches its rows to the village-level regions and stores the
totals in ``village_population``; ``spread`` distributes each total over the
village's residential buildings in proportion to floor area (footprint ×
storeys), as whole people by the largest remainder method, so that every
village adds up to its census total. Buildings so filled record
``population_source = 'census'``; every coverage result says which source its
people came from (:func:`geo.coverage.population_source`).

``servicemap import population FILE`` and ``servicemap population spread`` are
the commands; ``POST /api/v1/imports/population`` the planners' upload.
"""

from geo.population.census import (
    TABLE,
    PopulationImport,
    Village,
    import_village_population,
    match_village,
    name_key,
)
from geo.population.spread import (
    DEFAULT_LEVELS,
    HOUSEHOLD_SIZE,
    NON_RESIDENTIAL,
    STOREY_HEIGHT_M,
    UNKNOWN_LEVELS,
    WEIGHT_UNIT_M2,
    SpreadReport,
    VillageSpread,
    floor_weights,
    households_of,
    is_residential,
    largest_remainder,
    spread_population,
    storeys,
)

__all__ = [
    "DEFAULT_LEVELS",
    "HOUSEHOLD_SIZE",
    "NON_RESIDENTIAL",
    "STOREY_HEIGHT_M",
    "TABLE",
    "UNKNOWN_LEVELS",
    "WEIGHT_UNIT_M2",
    "PopulationImport",
    "SpreadReport",
    "Village",
    "VillageSpread",
    "floor_weights",
    "households_of",
    "import_village_population",
    "is_residential",
    "largest_remainder",
    "match_village",
    "name_key",
    "spread_population",
    "storeys",
]
