"""Domain vocabulary shared by every layer: point kinds, service tags, region
levels, grid kinds and coordinate systems, each with its one Simplified Chinese
label, and the words (Chinese names, aliases, English spellings) planners' files
and requests use for them.

API field values are English slugs; every slug carries its Chinese label for
user interfaces (:data:`POINT_KIND_ZH`, :data:`SERVICE_ZH`, :data:`LEVEL_ZH`,
:data:`GRID_KIND_ZH`, :data:`CRS_ZH`).  The lookups (:data:`KIND_LOOKUP` ...)
map a word normalised with :func:`normalize_label` to its slug; the field rules
(:mod:`geo.rules`) use them to accept ``党群服务站`` as well as ``station``.
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum


class PointKind(StrEnum):
    """Kind of a service position (党群服务阵地)."""

    TOWN_CENTER = "town_center"  # 镇街党群服务中心
    VILLAGE_CENTER = "village_center"  # 村居党群服务中心
    STATION = "station"  # 党群服务站
    ADMIN_SERVICE = "admin_service"  # 行政服务中心
    CIVILIZATION = "civilization"  # 新时代文明实践所/站
    RED_EDUCATION = "red_education"  # 红色教育基地
    OTHER = "other"  # 其他阵地


POINT_KIND_ZH: dict[PointKind, str] = {
    PointKind.TOWN_CENTER: "镇街党群服务中心",
    PointKind.VILLAGE_CENTER: "村居党群服务中心",
    PointKind.STATION: "党群服务站",
    PointKind.ADMIN_SERVICE: "行政服务中心",
    PointKind.CIVILIZATION: "新时代文明实践所",
    PointKind.RED_EDUCATION: "红色教育基地",
    PointKind.OTHER: "其他服务阵地",
}


class Service(StrEnum):
    """Services offered at a position (the seven one-stop functions and others)."""

    PARTY = "party"  # 党务
    GOVERNMENT = "government"  # 政务
    ELDERLY_CARE = "elderly_care"  # 居家养老
    MIGRANTS = "migrants"  # 来穗人员 / 新市民
    MASS_ORGS = "mass_orgs"  # 群团
    CULTURE = "culture"  # 文化
    THINK_TANK = "think_tank"  # 智库
    CHILDREN = "children"  # 儿童/四点半课堂
    VOLUNTEER = "volunteer"  # 志愿服务
    MEDICAL = "medical"  # 卫生健康
    LEGAL = "legal"  # 法律服务
    EMPLOYMENT = "employment"  # 就业


SERVICE_ZH: dict[Service, str] = {
    Service.PARTY: "党务",
    Service.GOVERNMENT: "政务",
    Service.ELDERLY_CARE: "居家养老",
    Service.MIGRANTS: "来穗人员",
    Service.MASS_ORGS: "群团",
    Service.CULTURE: "文化",
    Service.THINK_TANK: "智库",
    Service.CHILDREN: "儿童托管",
    Service.VOLUNTEER: "志愿服务",
    Service.MEDICAL: "卫生健康",
    Service.LEGAL: "法律服务",
    Service.EMPLOYMENT: "就业服务",
}


class RegionLevel(StrEnum):
    COUNTY = "county"
    TOWN = "town"
    VILLAGE = "village"


class GridKind(StrEnum):
    GOVERNANCE = "governance"  # 治理网格 / 基础网格
    PARTY = "party"  # 党建网格


class CircleMethod(StrEnum):
    NETWORK = "network"
    STRAIGHT_LINE = "straight_line"


#: Coordinate systems an input may declare.
INPUT_CRS = ("wgs84", "gcj02", "bd09", "cgcs2000")


LEVEL_ZH: dict[str, str] = {RegionLevel.COUNTY.value: "区县", RegionLevel.TOWN.value: "镇街",
                            RegionLevel.VILLAGE.value: "村居"}
GRID_KIND_ZH: dict[str, str] = {GridKind.GOVERNANCE.value: "治理网格",
                                GridKind.PARTY.value: "党建网格"}
#: Chinese names of the input coordinate systems (reports, messages).
CRS_ZH: dict[str, str] = {"wgs84": "WGS-84", "gcj02": "GCJ-02（高德/腾讯）",
                          "bd09": "BD-09（百度）", "cgcs2000": "CGCS2000"}


def normalize_label(label: str) -> str:
    """Normalise a label for alias matching (headers and vocabulary words).

    NFKC (full-width to ASCII), lower case, bracketed remarks removed
    (``经度（GCJ-02）`` -> ``经度``), whitespace, ``*``, ``_``, ``-``, dots,
    slashes and colons removed.
    """
    s = unicodedata.normalize("NFKC", str(label)).lower()
    s = re.sub(r"[(\[【{<《][^)\]】}>》]*[)\]】}>》]", "", s)
    s = re.sub(r"[\s*:：_\-—./\\]+", "", s)
    return s


def _lookup(pairs: dict[str, tuple[str, ...]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for value, words in pairs.items():
        for w in (value, *words):
            out[normalize_label(w)] = value
    return out


_KIND_WORDS: dict[str, tuple[str, ...]] = {
    PointKind.TOWN_CENTER.value: (
        POINT_KIND_ZH[PointKind.TOWN_CENTER], "镇党群服务中心", "街道党群服务中心",
        "镇街道党群服务中心", "乡镇党群服务中心", "镇级党群服务中心", "镇街党群中心",
        "town center", "towncenter"),
    PointKind.VILLAGE_CENTER.value: (
        POINT_KIND_ZH[PointKind.VILLAGE_CENTER], "村党群服务中心", "社区党群服务中心",
        "村社区党群服务中心", "村级党群服务中心", "村居党群中心", "village center"),
    PointKind.STATION.value: (
        POINT_KIND_ZH[PointKind.STATION], "小区党群服务站", "党群服务点", "服务站", "党群驿站",
        "红色驿站"),
    PointKind.ADMIN_SERVICE.value: (
        POINT_KIND_ZH[PointKind.ADMIN_SERVICE], "政务服务中心", "行政服务站", "便民服务中心",
        "政务服务站", "admin service"),
    PointKind.CIVILIZATION.value: (
        POINT_KIND_ZH[PointKind.CIVILIZATION], "新时代文明实践站", "新时代文明实践中心",
        "文明实践所", "文明实践站"),
    PointKind.RED_EDUCATION.value: (
        POINT_KIND_ZH[PointKind.RED_EDUCATION], "党员教育基地", "爱国主义教育基地", "红色基地",
        "red education"),
    PointKind.OTHER.value: (POINT_KIND_ZH[PointKind.OTHER], "其他", "其它", "其他阵地"),
}
#: normalised word -> point kind slug
KIND_LOOKUP = _lookup(_KIND_WORDS)

_SERVICE_WORDS: dict[str, tuple[str, ...]] = {
    Service.PARTY.value: (SERVICE_ZH[Service.PARTY], "党建", "党员服务"),
    Service.GOVERNMENT.value: (SERVICE_ZH[Service.GOVERNMENT], "行政审批", "办事"),
    Service.ELDERLY_CARE.value: (SERVICE_ZH[Service.ELDERLY_CARE], "养老", "长者", "为老"),
    Service.MIGRANTS.value: (SERVICE_ZH[Service.MIGRANTS], "新市民", "流动人口", "来穗"),
    Service.MASS_ORGS.value: (SERVICE_ZH[Service.MASS_ORGS], "工青妇"),
    Service.CULTURE.value: (SERVICE_ZH[Service.CULTURE], "文化活动", "文体", "文体活动"),
    Service.THINK_TANK.value: (SERVICE_ZH[Service.THINK_TANK],),
    Service.CHILDREN.value: (SERVICE_ZH[Service.CHILDREN], "儿童", "四点半课堂", "托管", "青少年"),
    Service.VOLUNTEER.value: (SERVICE_ZH[Service.VOLUNTEER], "志愿", "志愿者"),
    Service.MEDICAL.value: (SERVICE_ZH[Service.MEDICAL], "医疗", "卫生", "健康", "义诊"),
    Service.LEGAL.value: (SERVICE_ZH[Service.LEGAL], "法律", "法律咨询", "普法"),
    Service.EMPLOYMENT.value: (SERVICE_ZH[Service.EMPLOYMENT], "就业", "招聘", "就业创业"),
}
#: normalised word -> service tag
SERVICE_LOOKUP = _lookup(_SERVICE_WORDS)

#: normalised word -> grid kind slug
GRID_KIND_LOOKUP = _lookup({
    GridKind.GOVERNANCE.value: ("治理网格", "基础网格", "综合网格", "社会治理网格", "综治网格"),
    GridKind.PARTY.value: ("党建网格", "党建"),
})
#: normalised word -> region level (files of regions)
LEVEL_LOOKUP = _lookup({
    RegionLevel.COUNTY.value: ("县", "区", "县级", "区县", "县区", "district"),
    RegionLevel.TOWN.value: ("镇", "街道", "乡", "镇街", "乡镇", "镇级", "street"),
    RegionLevel.VILLAGE.value: ("村", "社区", "村居", "居委会", "村委会", "村级", "community"),
})
#: normalised word -> yes/no
BOOL_LOOKUP: dict[str, bool] = {
    **{normalize_label(w): True for w in ("是", "有", "√", "✓", "✔", "y", "yes", "true", "1",
                                            "已建", "已建立", "t")},
    **{normalize_label(w): False for w in ("否", "无", "×", "✗", "n", "no", "false", "0", "未建",
                                             "未建立", "f")},
}
KIND_EXPECTED = "、".join(POINT_KIND_ZH.values()) + "（或英文 " + "、".join(
    k.value for k in PointKind) + "）"
SERVICE_EXPECTED = "、".join(SERVICE_ZH.values()) + "（多项用“、”分隔）"
GRID_KIND_EXPECTED = "治理网格（基础网格）或 党建网格（或英文 governance、party）"


def lookup_service(word: str) -> str | None:
    """The service tag of one word (``party``, ``党务``, ``法律服务`` ...), else None."""
    key = normalize_label(word)
    hit = SERVICE_LOOKUP.get(key)
    if hit is None and key.endswith("服务") and len(key) > 2:
        hit = SERVICE_LOOKUP.get(key[:-2])
    return hit


_SERVICE_SPLIT = re.compile(r"[、,，;；/|\s+]+")


def split_services(text: str) -> list[str]:
    """The words of a services cell (``党务、政务；养老``)."""
    return [w for w in _SERVICE_SPLIT.split(unicodedata.normalize("NFKC", text)) if w]
