"""Domain vocabulary shared by every layer: point kinds, service tags, grid kinds.

API field values are English slugs; every slug carries its Simplified Chinese
label for user interfaces.
"""

from __future__ import annotations

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
