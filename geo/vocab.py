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


class PopulationSource(StrEnum):
    """Where a building's population came from (``buildings.population_source``)."""

    CENSUS = "census"  # a village's census total (七普) spread over its buildings
    IMPORTED = "imported"  # a planner's buildings file with a population column
    SAMPLE = "sample"  # the sample generators


#: Chinese names of the population sources, for tables and reports; ``unknown``:
#: buildings without a recorded source, ``mixed``: people of several sources
POPULATION_SOURCE_ZH: dict[str, str] = {
    PopulationSource.CENSUS.value: "普查分摊", PopulationSource.IMPORTED.value: "逐栋导入",
    PopulationSource.SAMPLE.value: "样例生成", "unknown": "未知", "mixed": "多种来源"}
#: Chinese names of the input coordinate systems (reports, messages).
CRS_ZH: dict[str, str] = {"wgs84": "WGS-84", "gcj02": "GCJ-02（高德/腾讯）",
                          "bd09": "BD-09（百度）", "cgcs2000": "CGCS2000"}

#: The one table of words that hint at a coordinate system in a file's name, sheet
#: name, title rows and coordinate headers (``阵地一览（高德坐标）``, ``经度（百度）``):
#: ``(regular expression, system)``, matched on NFKC-normalised lower-case text by
#: :func:`crs_hints`.  Latin words and numbers count only on their own (``bd`` in
#: ``BD坐标``, not in ``abdc``); bare ``84`` and ``2000`` only as a whole remark
#: (``经度（2000）``) or next to 坐标, never in ``2000年``.  天地图 delivers
#: CGCS2000, which :mod:`geo.crs` treats as identical to WGS-84.
CRS_HINT_WORDS: tuple[tuple[str, str], ...] = (
    (r"百度|(?<![a-z])(?:baidu|bd-?09(?:ll)?|bd)(?![a-z])", "bd09"),
    (r"高德|腾讯|火星|(?<![a-z])(?:gcj-?(?:02)?|amap|qq|mars)(?![a-z])", "gcj02"),
    (r"天地图|国家\s*2000|中国\s*2000|2000\s*(?:国家)?(?:大地)?坐标|(?<![0-9])国家大地坐标"
     r"|(?<![a-z])cgcs(?:-?2000)?(?![a-z])|epsg:?4490|^2000$", "cgcs2000"),
    (r"(?<![a-z])(?:wgs\s*-?\s*84|gps)(?![a-z])|(?<![0-9])84\s*坐标|epsg:?4326|^84$", "wgs84"),
)
_CRS_HINT_RES = tuple((re.compile(p), name) for p, name in CRS_HINT_WORDS)


def crs_hints(text: str) -> list[tuple[str, str]]:
    """The coordinate systems a text hints at: ``[(word as found, system), ...]``.

    Matched with :data:`CRS_HINT_WORDS` on the whole text and on each bracketed
    remark of it (so ``阵地（84）`` hints WGS-84); one entry per system, in the
    table's order.  ``crs_hints("里水镇阵地一览（高德坐标）") == [("高德", "gcj02")]``.
    """
    s = unicodedata.normalize("NFKC", str(text)).lower().strip()
    parts = [s, *(m.strip() for m in re.findall(r"[(\[【{<《]([^)\]】}>》]*)[)\]】}>》]", s))]
    out: list[tuple[str, str]] = []
    for rx, name in _CRS_HINT_RES:
        for part in parts:
            m = rx.search(part)
            if m:
                out.append((m.group(0), name))
                break
    return out


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


# --------------------------------------------------------------------------
# the residents' side: micro-wishes and micro-projects (点单-下单-接单)
# --------------------------------------------------------------------------
class WishKind(StrEnum):
    WISH = "wish"  # 微心愿: a resident's small need
    PROJECT = "project"  # 微项目: a small project with a budget


WISH_KIND_ZH: dict[str, str] = {WishKind.WISH.value: "微心愿", WishKind.PROJECT.value: "微项目"}


class WishCategory(StrEnum):
    ELDERLY = "elderly"  # 为老助老
    CHILDREN = "children"  # 关爱儿童
    HARDSHIP = "hardship"  # 困难帮扶
    HEALTH = "health"  # 医疗健康
    STUDY = "study"  # 助学圆梦
    HOME_REPAIR = "home_repair"  # 居家维修
    ENVIRONMENT = "environment"  # 环境整治
    CULTURE = "culture"  # 文体活动
    CONVENIENCE = "convenience"  # 便民服务
    OTHER = "other"  # 其他


WISH_CATEGORY_ZH: dict[str, str] = {
    WishCategory.ELDERLY.value: "为老助老",
    WishCategory.CHILDREN.value: "关爱儿童",
    WishCategory.HARDSHIP.value: "困难帮扶",
    WishCategory.HEALTH.value: "医疗健康",
    WishCategory.STUDY.value: "助学圆梦",
    WishCategory.HOME_REPAIR.value: "居家维修",
    WishCategory.ENVIRONMENT.value: "环境整治",
    WishCategory.CULTURE.value: "文体活动",
    WishCategory.CONVENIENCE.value: "便民服务",
    WishCategory.OTHER.value: "其他",
}
#: normalised word -> wish category slug
WISH_CATEGORY_LOOKUP = _lookup({
    WishCategory.ELDERLY.value: (WISH_CATEGORY_ZH["elderly"], "助老", "养老", "长者", "老人"),
    WishCategory.CHILDREN.value: (WISH_CATEGORY_ZH["children"], "儿童", "关爱青少年", "青少年"),
    WishCategory.HARDSHIP.value: (WISH_CATEGORY_ZH["hardship"], "帮扶", "困难", "扶贫", "帮困"),
    WishCategory.HEALTH.value: (WISH_CATEGORY_ZH["health"], "医疗", "健康", "义诊"),
    WishCategory.STUDY.value: (WISH_CATEGORY_ZH["study"], "助学", "学习", "教育"),
    WishCategory.HOME_REPAIR.value: (WISH_CATEGORY_ZH["home_repair"], "维修", "家电维修"),
    WishCategory.ENVIRONMENT.value: (WISH_CATEGORY_ZH["environment"], "环境", "环境卫生",
                                     "人居环境"),
    WishCategory.CULTURE.value: (WISH_CATEGORY_ZH["culture"], "文化", "文体", "文艺"),
    WishCategory.CONVENIENCE.value: (WISH_CATEGORY_ZH["convenience"], "便民", "生活服务"),
    WishCategory.OTHER.value: (WISH_CATEGORY_ZH["other"], "其它"),
})
WISH_CATEGORY_EXPECTED = "、".join(WISH_CATEGORY_ZH.values())


class Channel(StrEnum):
    """How a wish reached the village (staff enter those not posted online)."""

    ONLINE = "online"  # 居民在线提交（服务地图/小程序）
    DUAL_REPORT = "dual_report"  # 双报到系统
    WECHAT_GROUP = "wechat_group"  # 微信群
    SOCIAL_WORKER = "social_worker"  # 社工
    GRID_WORKER = "grid_worker"  # 网格员
    HOME_VISIT = "home_visit"  # 入户走访
    WALK_IN = "walk_in"  # 到阵地登记


CHANNEL_ZH: dict[str, str] = {
    Channel.ONLINE.value: "居民在线提交",
    Channel.DUAL_REPORT.value: "双报到系统",
    Channel.WECHAT_GROUP.value: "微信群",
    Channel.SOCIAL_WORKER.value: "社工收集",
    Channel.GRID_WORKER.value: "网格员收集",
    Channel.HOME_VISIT.value: "入户走访",
    Channel.WALK_IN.value: "到阵地登记",
}
CHANNEL_LOOKUP = _lookup({
    Channel.ONLINE.value: (CHANNEL_ZH["online"], "在线", "线上", "小程序", "服务地图"),
    Channel.DUAL_REPORT.value: (CHANNEL_ZH["dual_report"], "双报到"),
    Channel.WECHAT_GROUP.value: (CHANNEL_ZH["wechat_group"], "微信"),
    Channel.SOCIAL_WORKER.value: (CHANNEL_ZH["social_worker"], "社工"),
    Channel.GRID_WORKER.value: (CHANNEL_ZH["grid_worker"], "网格员"),
    Channel.HOME_VISIT.value: (CHANNEL_ZH["home_visit"], "走访", "入户"),
    Channel.WALK_IN.value: (CHANNEL_ZH["walk_in"], "现场登记", "窗口"),
})
CHANNEL_EXPECTED = "、".join(CHANNEL_ZH.values())


class WishState(StrEnum):
    """States of the 点单-下单-接单 workflow (:mod:`geo.residents.workflow`)."""

    POSTED = "posted"  # 居民点单（待审核）
    PUBLISHED = "published"  # 村居下单（待认领）
    REJECTED = "rejected"  # 未通过审核
    CLAIMED = "claimed"  # 党员接单
    FULFILLED = "fulfilled"  # 已完成（待居民确认）
    CONFIRMED = "confirmed"  # 居民已确认
    WITHDRAWN = "withdrawn"  # 居民撤回
    EXPIRED = "expired"  # 已过期


WISH_STATE_ZH: dict[str, str] = {
    WishState.POSTED.value: "待审核",
    WishState.PUBLISHED.value: "待认领",
    WishState.REJECTED.value: "未通过审核",
    WishState.CLAIMED.value: "已认领",
    WishState.FULFILLED.value: "已完成待确认",
    WishState.CONFIRMED.value: "已确认完成",
    WishState.WITHDRAWN.value: "已撤回",
    WishState.EXPIRED.value: "已过期",
}


class OrgKind(StrEnum):
    BRANCH = "branch"  # 党支部（村居、小区、两新组织）
    DUAL_REPORT = "dual_report"  # 双报到单位党组织
    COMMITTEE = "committee"  # 党委、党总支


ORG_KIND_ZH: dict[str, str] = {OrgKind.BRANCH.value: "党支部",
                               OrgKind.DUAL_REPORT.value: "双报到单位党组织",
                               OrgKind.COMMITTEE.value: "党委（党总支）"}
ORG_KIND_LOOKUP = _lookup({
    OrgKind.BRANCH.value: (ORG_KIND_ZH["branch"], "支部", "党小组"),
    OrgKind.DUAL_REPORT.value: (ORG_KIND_ZH["dual_report"], "双报到", "报到单位", "机关党组织",
                                "企业党组织"),
    OrgKind.COMMITTEE.value: (ORG_KIND_ZH["committee"], "党委", "党总支"),
})
ORG_KIND_EXPECTED = "、".join(ORG_KIND_ZH.values())


#: Kinds of the public facilities read from OpenStreetMap (``facilities.kind``;
#: the tags of each in ``geo.io.osm.features.FACILITY_TAGS``) and their labels.
FACILITY_KINDS_ZH: dict[str, str] = {
    "community": "社区中心", "elder_care": "养老服务", "social": "社会福利",
    "school": "学校幼儿园", "health": "医疗卫生", "library": "图书馆", "market": "市场超市",
}
