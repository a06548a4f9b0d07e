"""The residents' side of the sample towns: party organisations, members,
micro-wishes and micro-projects with their claims, activities, ratings.

Each generator draws from its own random stream (``seed`` and the town), so
the towns' other frames are exactly what they were without it.

Real (FACTS.md)
    梅花村街道 (``003_*.txt``): 271 micro-wishes (微心愿), all 271 claimed, by 447
    party members; 25 micro-projects (微项目) worth 97,150.6 yuan, claimed by 19
    party organisations, all completed. The channels the article lists (the
    "双报到" system, WeChat groups, social workers, grid workers, home visits).
    龙腾街道 (``001_*.txt``): its 6 centers (the street center and 5 community
    centers) held 51 activities "this year" (counted here from 1 January to 31
    August 2026), serving over 6,900 person-times, each at least one a month;
    the themes come from the article (党史学习 at 能量湾, 英歌 performance,
    优里节, 重阳金邻家宴, 暖心卡, 向日葵亲子小屋, 银龄护河, 东海岸大道, 积分兑换).

Synthetic (no published figure)
    Everything else: the names of the organisations other than the samples'
    branches ("某局机关党委" style), every person (names and phones, 139…
    style; addresses from the sample's compounds), which wish is where and
    when, the split of the 447 members over the organisations and of the
    97,150.6 yuan over the projects, the activities' days, attendances and the
    planned program (one activity per center and month from September 2026 to
    December 2028, attendance unknown from December 2026), and 里水镇's ratings
    (2026Q3 and 2026Q4, one per phone, position and period).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from decimal import Decimal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from data.sample import (
    ACTIVITY_COLUMNS,
    CLAIM_COLUMNS,
    MEMBER_COLUMNS,
    ORG_COLUMNS,
    RATING_COLUMNS,
    WISH_COLUMNS,
    WISH_TIMES,
    Sample,
)
from data.synth import short_name
from geo.vocab import Channel, OrgKind, PointKind, WishCategory, WishKind, WishState

__all__ = ["ASOF", "MEIHUACUN", "LONGTENG", "events", "with_residents"]

TZ = "Asia/Shanghai"
#: the samples' "now": every instant before it
ASOF = pd.Timestamp("2026-11-30 18:00", tz=TZ)
YEAR_START = pd.Timestamp("2026-01-01", tz=TZ)

#: 梅花村街道 (003_*.txt)
MEIHUACUN = {"wishes": 271, "claimants": 447, "projects": 25, "budget_tenths": 971_506,
             "project_orgs": 19}
#: 龙腾街道 (001_*.txt): activities of the 6 centers, January–August 2026
LONGTENG = {"activities": 51, "months": 8, "attendance_over": 6900}

_STREAM = {"lishui": 1, "longteng": 2, "meihuacun": 3}
POINTS_PER_WISH = 10  # geo.settings wish_points


def _rng(name: str, seed: int) -> np.random.Generator:
    return np.random.default_rng([seed, 0x5245, _STREAM[name]])


def with_residents(sample: Sample, seed: int) -> Sample:
    """``sample`` with its residents' frames (towns without any are returned as is)."""
    build = {"meihuacun": _meihuacun, "longteng": _longteng, "lishui": _lishui}.get(sample.name)
    if build is None:
        return sample
    return dataclasses.replace(sample, **build(sample, _rng(sample.name, seed)))


# -- people ----------------------------------------------------------------------------------

_SURNAMES = ("李王张刘陈杨黄赵吴周徐孙马朱胡郭何林罗梁郑谢宋唐许邓冯韩曹曾彭萧蔡潘田董袁于余叶蒋杜"
             "苏魏程吕丁沈任姚卢钟姜崔谭廖范汪陆金石戴贾韦夏邱方侯邹熊孟秦白江薛尹段雷黎龙陶贺"
             "顾毛郝龚邵万钱严赖覃洪武莫孔区麦欧关")
_GIVEN = ("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红梅琳建国志文辉斌宇浩凯健俊"
          "婷雪慧颖佳嘉欣怡晓燕海波荣桂珍凤丹宏锦坤炜彬瑜淑惠莹妍卓贤达")
_MOBILE_PREFIXES = ("139", "138", "137", "136", "135", "159", "158", "188", "186", "177")


def _name(rng: np.random.Generator) -> str:
    n = 1 + int(rng.random() < 0.7)
    return str(rng.choice(list(_SURNAMES))) + "".join(rng.choice(list(_GIVEN), n))


def _phones(rng: np.random.Generator, n: int, used: set[str]) -> list[str]:
    out: list[str] = []
    while len(out) < n:
        p = str(rng.choice(_MOBILE_PREFIXES)) + f"{int(rng.integers(0, 10**8)):08d}"
        if p not in used:
            used.add(p)
            out.append(p)
    return out


# -- time --------------------------------------------------------------------------------------

def _day_time(rng: np.random.Generator, day: pd.Timestamp) -> pd.Timestamp:
    """A daytime instant (08:30–20:30 Beijing time, whole minutes) of ``day``."""
    return day.normalize() + pd.Timedelta(minutes=int(rng.integers(8 * 60 + 30, 20 * 60 + 30)))


def _later(rng: np.random.Generator, t: pd.Timestamp, lo: int, hi: int) -> pd.Timestamp:
    """A daytime instant ``lo``–``hi`` days after ``t`` (always after it)."""
    out = _day_time(rng, t + pd.Timedelta(days=int(rng.integers(lo, hi + 1))))
    if out <= t + pd.Timedelta(minutes=10):
        out = t + pd.Timedelta(minutes=int(rng.integers(20, 180)))
    return out


def _between(rng: np.random.Generator, a: pd.Timestamp, b: pd.Timestamp, lo: float,
             hi: float) -> pd.Timestamp:
    """A whole minute between fractions ``lo`` and ``hi`` of the span from ``a`` to ``b``."""
    span = (b - a).total_seconds() / 60
    m = math.floor(span * (lo + (hi - lo) * rng.random()))
    return a + pd.Timedelta(minutes=max(1, m))


def _times(values: Sequence) -> pd.Series:
    return pd.Series(pd.to_datetime(list(values), utc=True).tz_convert(TZ).as_unit("ns"))


def _largest_remainder(total: int, weights: np.ndarray, minimum: int = 0) -> list[int]:
    """Integers proportional to ``weights`` adding up to ``total`` (each ≥ ``minimum``)."""
    w = np.asarray(weights, dtype=float)
    rest = total - minimum * len(w)
    raw = rest * w / w.sum()
    out = np.floor(raw).astype(int)
    for i in np.argsort(-(raw - out), kind="stable")[:rest - int(out.sum())]:
        out[i] += 1
    return [int(x) + minimum for x in out]


# -- places ------------------------------------------------------------------------------------

def _covering(points: np.ndarray, frame: gpd.GeoDataFrame) -> list[str | None]:
    """The smallest code of the polygon of ``frame`` covering each point (else None)."""
    if frame.empty:
        return [None] * len(points)
    codes = np.asarray(frame["code"], dtype=object)
    tree = shapely.STRtree(np.asarray(frame.geometry.values, dtype=object))
    src, dst = tree.query(points, predicate="covered_by")
    out: list[str | None] = [None] * len(points)
    for i, j in zip(src.tolist(), dst.tolist(), strict=True):
        c = codes[j]
        if out[i] is None or c < out[i]:
            out[i] = c
    return out


def _homes(sample: Sample) -> pd.DataFrame:
    """The residential buildings as homes: a point inside each, and the village,
    grid cell and compound covering it (as the store locates a wish)."""
    b = sample.buildings[sample.buildings["households"] > 0]
    pts = np.asarray(b.geometry.representative_point().values, dtype=object)
    villages = sample.regions[sample.regions["level"] == "village"]
    homes = pd.DataFrame({
        "building": list(b["code"]), "households": list(b["households"]), "point": list(pts),
        "region_code": _covering(pts, villages), "grid_code": _covering(pts, sample.grids),
        "compound_code": _covering(pts, sample.compounds)})
    homes["compound_code"] = homes["compound_code"].astype(object).where(
        homes["compound_code"].notna(), None)
    return homes[homes["region_code"].notna() & homes["grid_code"].notna()].reset_index(drop=True)


def _center_of(sample: Sample) -> dict[str, str]:
    """Village code → its community center (the street center where it has none)."""
    p = sample.points
    out: dict[str, str] = {}
    for kind in (PointKind.TOWN_CENTER.value, PointKind.VILLAGE_CENTER.value):
        for code, region in zip(p.loc[p["kind"] == kind, "code"],
                                p.loc[p["kind"] == kind, "region_code"], strict=True):
            out[str(region)] = str(code)
    return out


def _address(sample: Sample, rng: np.random.Generator, home) -> str:
    town = sample.regions.loc[sample.regions["level"] == "town", "name"].iloc[0]
    village = sample.regions.set_index("code").loc[home.region_code, "name"]
    room = f"{int(rng.integers(1, 12))}{int(rng.integers(1, 8)):02d}"
    number = int(rng.integers(1, 40))
    if home.compound_code:
        cname = sample.compounds.set_index("code").loc[home.compound_code, "name"]
        return f"{town}{short_name(village)}{cname}{number}栋{room}房"
    return f"{town}{short_name(village)}第{number}号楼{room}房"


# -- 梅花村街道: wishes and projects ---------------------------------------------------------------

C = WishCategory
#: (category, title, public_text, the resident's own words): no personal data
_WISHES: tuple[tuple[str, str, str, str], ...] = (
    (C.ELDERLY, "想要一台助听器",
     "社区一位独居长者听力下降，希望得到一台助听器，方便与家人邻居交流。",
     "我耳朵越来越不好，听不清电话，想要一台助听器。"),
    (C.ELDERLY, "希望有人教我用智能手机",
     "长者希望有党员志愿者上门教用智能手机，学会视频通话和扫码。",
     "孩子不在身边，想学会用手机视频和扫码买菜。"),
    (C.ELDERLY, "想要一根带凳子的助行拐杖",
     "行动不便的长者希望有一根带座凳的助行拐杖，出门走累了可以歇一歇。",
     "腿脚不好，出门想有根能坐的拐杖。"),
    (C.ELDERLY, "希望有人陪我去医院复诊", "独居长者每月需要到医院复诊，希望有志愿者陪同挂号取药。",
     "每个月都要去医院复诊，一个人排队吃不消。"),
    (C.ELDERLY, "想要一台电暖器过冬", "高龄长者家中没有取暖设备，希望得到一台电暖器。",
     "冬天屋里冷，想要一台电暖器。"),
    (C.ELDERLY, "希望定期有人上门理发", "卧床长者出门不便，希望有志愿者定期上门理发。",
     "老伴卧床出不了门，头发很久没剪了。"),
    (C.ELDERLY, "想要一副老花镜和放大镜", "长者视力下降，希望得到一副老花镜和一个放大镜方便看报。",
     "眼睛花了，看报纸看药盒上的字都吃力。"),
    (C.CHILDREN, "孩子想要一套课外书", "社区一名小学生喜欢阅读，希望得到一套适合三年级的课外读物。",
     "孩子很喜欢看书，家里书太少了。"),
    (C.CHILDREN, "孩子想要一个新书包", "困难家庭的孩子书包已经破旧，希望得到一个新书包。",
     "孩子的书包用了好几年，拉链都坏了。"),
    (C.CHILDREN, "孩子想学画画，想要一套画具", "社区一名儿童喜欢画画，希望得到一套水彩画具。",
     "孩子喜欢画画，想给他买套颜料和画本。"),
    (C.CHILDREN, "孩子想要一个篮球", "社区少年喜欢打篮球，希望得到一个篮球。",
     "儿子放学想去打球，没有自己的篮球。"),
    (C.CHILDREN, "希望暑假有人带孩子参观博物馆", "双职工家庭希望暑假有志愿者带孩子参观博物馆。",
     "暑假我们上班，孩子一个人在家。"),
    (C.STUDY, "希望有人辅导孩子功课", "困难家庭希望有党员志愿者每周辅导孩子数学和语文。",
     "孩子功课跟不上，我们辅导不了。"),
    (C.STUDY, "想要一盏护眼台灯", "学生家中照明不好，希望得到一盏护眼台灯。",
     "家里灯太暗，孩子写作业伤眼睛。"),
    (C.STUDY, "想要一台学习用的电脑", "备考学生希望得到一台可以上网课的旧电脑。",
     "孩子要上网课，家里只有一部旧手机。"),
    (C.STUDY, "希望得到一本字典和学习用品", "小学生希望得到一本新华字典和一套文具。",
     "孩子要用字典，想要一本新的。"),
    (C.HARDSHIP, "希望得到一袋米和一桶油", "困难家庭希望得到米、油等生活物资。",
     "这个月手头紧，想要些米和油。"),
    (C.HARDSHIP, "想要一套过冬的棉被", "困难长者家中被褥单薄，希望得到一套冬被。",
     "被子太薄了，冬天晚上睡不暖。"),
    (C.HARDSHIP, "想要一台二手洗衣机", "困难家庭洗衣机坏了，希望得到一台可用的洗衣机。",
     "洗衣机坏了，一家人的衣服都靠手洗。"),
    (C.HARDSHIP, "家里需要一个小冰箱", "困难家庭没有冰箱，夏天饭菜容易变质，希望得到一台小冰箱。",
     "天热饭菜放不住，想要一个小冰箱。"),
    (C.HEALTH, "希望有人上门测血压", "高血压长者希望有医护志愿者定期上门测量血压。",
     "血压老是不稳，想有人定期来量一量。"),
    (C.HEALTH, "想要一台电子血压计", "患高血压的长者希望得到一台电子血压计，在家自测。",
     "想在家自己量血压。"),
    (C.HEALTH, "想要一辆轮椅", "行动不便的居民希望得到一辆轮椅，方便外出。",
     "腿做了手术，出门需要轮椅。"),
    (C.HEALTH, "希望有医生讲讲糖尿病饮食", "居民希望社区请医生讲解糖尿病饮食和用药。",
     "刚查出糖尿病，不知道该怎么吃。"),
    (C.HOME_REPAIR, "家里水龙头漏水想请人修", "独居长者家中水龙头漏水，希望有人上门维修。",
     "厨房水龙头一直滴水，自己修不好。"),
    (C.HOME_REPAIR, "厨房的灯坏了希望有人帮忙换",
     "长者家中厨房灯损坏，登高不便，希望有人帮忙更换。",
     "灯坏了，我年纪大爬不了梯子。"),
    (C.HOME_REPAIR, "希望帮忙修一下卫生间门锁", "长者家中卫生间门锁损坏，希望有人上门维修。",
     "卫生间的门锁坏了，关不上。"),
    (C.HOME_REPAIR, "想把家里的蹲厕改成坐厕", "独居长者如厕不便，希望将家中蹲厕改为坐厕。",
     "蹲厕太不方便，之前还摔过一跤。"),
    (C.HOME_REPAIR, "希望检查一下家里老化的电线", "长者家中电线老化外露，希望有电工上门检查更换。",
     "家里电线很旧，有的露在外面，怕出事。"),
    (C.ENVIRONMENT, "希望清理楼道里堆放的杂物", "居民希望清理楼道杂物，消除消防隐患。",
     "楼道堆满了杂物，走路都不方便。"),
    (C.ENVIRONMENT, "楼下绿化带希望补种花草", "居民希望在楼下空地补种花草，美化环境。",
     "楼下那块地光秃秃的，想种点花。"),
    (C.CULTURE, "想要一副象棋和棋盘", "长者希望得到一副象棋，和邻居在楼下对弈。",
     "想和楼下的老伙计下下棋。"),
    (C.CULTURE, "希望社区组织粤剧欣赏活动", "长者希望社区组织一场粤剧欣赏活动。",
     "好久没听大戏了。"),
    (C.CULTURE, "想要几本大字版的书报", "视力不好的长者希望得到大字版报纸和书籍。",
     "字太小看不清，想要大字的书。"),
    (C.CONVENIENCE, "希望有人帮忙把旧家具搬下楼", "住在无电梯楼的长者希望有人帮忙搬运旧家具。",
     "旧衣柜太重，我搬不动。"),
    (C.CONVENIENCE, "希望有人帮忙网上预约挂号", "长者不会网上预约，希望有志愿者帮忙预约挂号。",
     "医院要网上预约，我不会弄。"),
    (C.CONVENIENCE, "想要一辆买菜用的小推车", "长者希望得到一辆买菜小推车，减轻提重物的负担。",
     "买菜提不动，想要个小推车。"),
    (C.OTHER, "希望有人帮忙给外地的孩子寄年货",
     "长者希望有人帮忙打包并寄送年货给在外地工作的子女。",
     "想给在外地的孩子寄点腊味，不会弄快递。"),
)

#: (category, title) of the 25 micro-projects
_PROJECTS: tuple[tuple[str, str], ...] = (
    (C.ELDERLY, "独居长者家居适老化改造"), (C.HOME_REPAIR, "老旧楼道照明灯更换"),
    (C.CONVENIENCE, "小区休闲座椅更新"), (C.ELDERLY, "无电梯楼梯扶手加装"),
    (C.ELDERLY, "长者饭堂餐具添置"), (C.CHILDREN, "“四点半课堂”图书添置"),
    (C.HOME_REPAIR, "小区消防器材更新"), (C.ENVIRONMENT, "楼道墙面翻新"),
    (C.CULTURE, "社区健身器材维修"), (C.HOME_REPAIR, "小区雨棚修缮"),
    (C.CONVENIENCE, "党群服务站空调维修"), (C.CONVENIENCE, "户外劳动者爱心驿站物资添置"),
    (C.ENVIRONMENT, "垃圾分类投放点改造"), (C.ELDERLY, "长者智能手机培训班"),
    (C.ENVIRONMENT, "社区口袋花园建设"), (C.HARDSHIP, "困难家庭新春慰问包"),
    (C.CONVENIENCE, "电动自行车集中充电点加装"), (C.ELDERLY, "长者家庭防跌倒扶手与防滑垫安装"),
    (C.HEALTH, "社区义诊设备添置"), (C.HOME_REPAIR, "小区门禁维修"),
    (C.HOME_REPAIR, "楼顶防水补漏"), (C.CULTURE, "社区宣传栏更新"),
    (C.CHILDREN, "暑期青少年托管班"), (C.ENVIRONMENT, "小区排水沟清疏"),
    (C.HARDSHIP, "困难长者电线及卫生间改造"),
)

#: synthetic organisations that are not the sample's compound branches:
#: "双报到" units (dual_report) and 两新 organisations (branch without a branch code)
_OTHER_ORGS: tuple[tuple[str, str], ...] = (
    ("广州市某局机关党委", OrgKind.DUAL_REPORT), ("广州市某委机关第二党支部", OrgKind.DUAL_REPORT),
    ("越秀区某局机关党支部", OrgKind.DUAL_REPORT), ("越秀区某办机关党支部", OrgKind.DUAL_REPORT),
    ("某国有银行越秀支行党支部", OrgKind.DUAL_REPORT),
    ("某三甲医院第一党支部", OrgKind.DUAL_REPORT),
    ("某三甲医院行政党支部", OrgKind.DUAL_REPORT), ("某中学教工党支部", OrgKind.DUAL_REPORT),
    ("某小学教工党支部", OrgKind.DUAL_REPORT), ("某供电局党支部", OrgKind.DUAL_REPORT),
    ("某通信公司越秀分公司党支部", OrgKind.DUAL_REPORT), ("某燃气公司党支部", OrgKind.DUAL_REPORT),
    ("某设计研究院党委", OrgKind.DUAL_REPORT), ("某高校学院党委", OrgKind.DUAL_REPORT),
    ("某实业集团有限公司党支部", OrgKind.BRANCH), ("某物业服务公司党支部", OrgKind.BRANCH),
    ("某律师事务所党支部", OrgKind.BRANCH), ("某社会工作服务中心党支部", OrgKind.BRANCH),
    ("某科技有限公司党支部", OrgKind.BRANCH), ("某商务楼宇联合党支部", OrgKind.BRANCH),
)

#: how the wishes reached the street (the article's channels) and how often
_CHANNELS = ((Channel.ONLINE, 0.24), (Channel.DUAL_REPORT, 0.14), (Channel.WECHAT_GROUP, 0.2),
             (Channel.SOCIAL_WORKER, 0.13), (Channel.GRID_WORKER, 0.16),
             (Channel.HOME_VISIT, 0.13))


def _prefix(sample: Sample) -> str:
    return str(sample.points["code"].iloc[0]).split("-", 1)[0]


def _orgs(sample: Sample, rng: np.random.Generator) -> pd.DataFrame:
    pre = _prefix(sample)
    rows = [(str(b.code), str(b.name), OrgKind.BRANCH.value, str(b.region_code), str(b.code))
            for b in sample.branches.itertuples(index=False)]
    villages = sorted(sample.regions.loc[sample.regions["level"] == "village", "code"])
    # every community has a reporting organisation; a few have two
    seat = [villages[i] for i in rng.permutation(len(villages))]
    seat += [villages[i] for i in rng.choice(len(villages), len(_OTHER_ORGS) - len(seat),
                                             replace=False)]
    rows += [(None, name, kind.value, region, None)
             for (name, kind), region in zip(_OTHER_ORGS, seat, strict=True)]
    out = pd.DataFrame(rows, columns=["branch", "name", "kind", "region_code", "branch_code"])
    out.insert(0, "code", [f"{pre}-PO{i + 1:02d}" for i in range(len(out))])
    out["synthetic"] = True
    return out[list(ORG_COLUMNS)]


def _claim_counts(rng: np.random.Generator, n: int) -> np.ndarray:
    """How many members claim each wish (several: 1–4, two most often)."""
    return rng.choice([1, 2, 3, 4], n, p=[0.3, 0.42, 0.2, 0.08])


def _meihuacun(sample: Sample, rng: np.random.Generator) -> dict:
    pre = _prefix(sample)
    homes = _homes(sample)
    centers = _center_of(sample)
    orgs = _orgs(sample, rng)
    villages = sorted(sample.regions.loc[sample.regions["level"] == "village", "code"])
    households = homes.groupby("region_code")["households"].sum().reindex(villages, fill_value=0)
    n_wishes = _largest_remainder(MEIHUACUN["wishes"], households.to_numpy(), minimum=4)
    counts = [_claim_counts(rng, n) for n in n_wishes]
    n_members = _largest_remainder(MEIHUACUN["claimants"], np.asarray(n_wishes))
    for r, k in enumerate(counts):  # enough claims in each community for its members
        while k.sum() < n_members[r] or k.max() > n_members[r]:
            i = int(rng.integers(len(k)))
            if k.sum() < n_members[r] and k[i] < 5:
                k[i] += 1
            elif k.sum() >= n_members[r] and k[i] > n_members[r]:
                k[i] -= 1
    used_phones: set[str] = set()

    # -- members: in the community's branches (社区党员) and reporting units (在职党员)
    members = []
    for r, village in enumerate(villages):
        here = orgs[orgs["region_code"] == village]
        branch = list(here.loc[here["branch_code"].notna(), "code"])
        other = list(here.loc[here["branch_code"].isna(), "code"])
        phones = _phones(rng, n_members[r], used_phones)
        for j in range(n_members[r]):
            pool = branch if (branch and (not other or rng.random() < 0.45)) else other
            members.append((f"{pre}-M{len(members) + 1:04d}", village, str(rng.choice(pool)),
                            {"name": _name(rng), "phone": phones[j]}, True))
    members_df = pd.DataFrame(members, columns=list(MEMBER_COLUMNS))
    org_of = dict(zip(members_df["code"], members_df["org_code"], strict=True))

    # -- wishes, each with its claimants ---------------------------------------------------
    ch_values = [c.value for c, _ in _CHANNELS]
    ch_p = np.array([p for _, p in _CHANNELS])
    ch_p /= ch_p.sum()
    start, last_post = pd.Timestamp("2026-01-05", tz=TZ), pd.Timestamp("2026-11-20", tz=TZ)
    days = (last_post - start).days
    drafts = []
    for r, village in enumerate(villages):
        mine = homes[homes["region_code"] == village]
        w = mine["households"].to_numpy(dtype=float)
        codes = list(members_df.loc[members_df["region_code"] == village, "code"])
        queue = [codes[i] for i in rng.permutation(len(codes))]  # each member claims once first
        for k in counts[r]:
            home = mine.iloc[int(rng.choice(len(mine), p=w / w.sum()))]
            cat, title, public, words = _WISHES[int(rng.integers(len(_WISHES)))]
            claimants: list[str] = []
            while len(claimants) < k:
                m = queue.pop() if queue else str(rng.choice(codes))
                if m not in claimants:
                    claimants.append(m)
            drafts.append({
                "home": home, "category": cat.value, "title": title, "public_text": public,
                "text": words, "channel": str(rng.choice(ch_values, p=ch_p)),
                "posted_at": _day_time(rng, start + pd.Timedelta(days=int(rng.integers(days)))),
                "claimants": claimants})
    drafts.sort(key=lambda d: (d["posted_at"], d["home"].building))
    wishes, claims = [], []
    for n, d in enumerate(drafts):
        code = f"{pre}-W{n + 1:04d}"
        home = d["home"]
        posted = d["posted_at"]
        published = _later(rng, posted, 0, 2)
        claimed = _later(rng, published, 0, 5)
        fulfilled = _later(rng, claimed, 2, 25)
        confirmed = _later(rng, fulfilled, 0, 5) if rng.random() > 0.05 else None
        if fulfilled >= ASOF - pd.Timedelta(hours=2):
            state, fulfilled, confirmed = WishState.CLAIMED.value, None, None
        elif confirmed is None or confirmed >= ASOF:
            state, confirmed = WishState.FULFILLED.value, None
        else:
            state = WishState.CONFIRMED.value
        end = fulfilled if fulfilled is not None else ASOF
        k = len(d["claimants"])
        at = sorted([claimed] + [_between(rng, claimed, end, 0.02, 0.4) for _ in range(k - 1)])
        done = fulfilled is not None
        for j, (m, t) in enumerate(zip(d["claimants"], at, strict=True)):
            accepted = (_between(rng, claimed, end, 0.45, 0.7)
                        if done or (j == 0 and rng.random() < 0.5) else None)
            claims.append((code, m, org_of[m], t, accepted, fulfilled, None,
                           math.ceil(POINTS_PER_WISH / k) if done else 0, True))
        phone = _phones(rng, 1, used_phones)[0]
        wishes.append({
            "code": code, "kind": WishKind.WISH.value, "title": d["title"], "text": d["text"],
            "public_text": d["public_text"], "category": d["category"],
            "region_code": home.region_code, "point_code": centers.get(home.region_code),
            "grid_code": home.grid_code, "compound_code": home.compound_code,
            "budget_yuan": None, "channel": d["channel"], "state": state,
            "resident_score": (int(rng.choice([5, 4, 3], p=[0.78, 0.18, 0.04]))
                               if state == WishState.CONFIRMED.value else None),
            "private": {"name": _name(rng), "phone": phone,
                        "address": _address(sample, rng, home)},
            "entered_by": None if d["channel"] == Channel.ONLINE.value else "sample",
            "posted_at": posted, "published_at": published, "claimed_at": claimed,
            "fulfilled_at": fulfilled, "confirmed_at": confirmed, "closed_at": None,
            "synthetic": True, "geometry": home.point})

    # -- micro-projects, claimed by 19 organisations -----------------------------------------
    n_proj, n_orgs = MEIHUACUN["projects"], MEIHUACUN["project_orgs"]
    chosen = [str(c) for c in orgs["code"].iloc[rng.choice(len(orgs), n_orgs, replace=False)]]
    first = chosen + [chosen[i] for i in rng.choice(n_orgs, n_proj - n_orgs)]
    first = [first[i] for i in rng.permutation(n_proj)]
    joint = set(rng.choice(n_proj, 3, replace=False).tolist())  # three claimed by two
    raw = rng.lognormal(0.0, 0.6, n_proj)
    tenths = _largest_remainder(MEIHUACUN["budget_tenths"] - n_proj * 3000, raw)
    tenths = [t + 3000 for t in tenths]  # each at least 300.0 yuan
    region_of = dict(zip(orgs["code"], orgs["region_code"], strict=True))
    titles = [_PROJECTS[i] for i in rng.permutation(n_proj)]
    for i in range(n_proj):
        code = f"{pre}-P{i + 1:02d}"
        village = region_of[first[i]]
        mine = homes[homes["region_code"] == village]
        inside = mine[mine["compound_code"].notna()]
        home = (inside if len(inside) else mine).iloc[int(rng.integers(len(inside) or len(mine)))]
        posted = _day_time(rng, pd.Timestamp("2026-01-10", tz=TZ)
                           + pd.Timedelta(days=int(rng.integers(0, 240))))
        published = _later(rng, posted, 1, 7)
        claimed = _later(rng, published, 1, 10)
        fulfilled = _later(rng, claimed, 10, 45)
        confirmed = _later(rng, fulfilled, 1, 7)
        by = [first[i]]
        if i in joint:
            by.append(str(rng.choice([c for c in chosen if c != first[i]])))
        for j, org in enumerate(by):
            t = claimed if j == 0 else _between(rng, claimed, fulfilled, 0.02, 0.3)
            claims.append((code, None, org, t, _between(rng, claimed, fulfilled, 0.35, 0.6),
                           fulfilled, None, math.ceil(POINTS_PER_WISH / len(by)), True))
        cat, title = titles[i]
        wishes.append({
            "code": code, "kind": WishKind.PROJECT.value, "title": title, "text": None,
            "public_text": f"{short_name(sample.regions.set_index('code').loc[village, 'name'])}"
                           f"微项目：{title}", "category": cat.value,
            "region_code": village, "point_code": centers.get(village),
            "grid_code": home.grid_code, "compound_code": home.compound_code,
            "budget_yuan": Decimal(tenths[i]) / 10,
            "channel": str(rng.choice([Channel.DUAL_REPORT.value, Channel.GRID_WORKER.value,
                                       Channel.SOCIAL_WORKER.value, Channel.HOME_VISIT.value])),
            "state": WishState.CONFIRMED.value, "resident_score": None, "private": {},
            "entered_by": "sample", "posted_at": posted, "published_at": published,
            "claimed_at": claimed, "fulfilled_at": fulfilled, "confirmed_at": confirmed,
            "closed_at": None, "synthetic": True, "geometry": home.point})

    wf = pd.DataFrame(wishes)
    for c in WISH_TIMES:
        wf[c] = _times(wf[c])
    wf["resident_score"] = wf["resident_score"].astype("Int64")
    wf["budget_yuan"] = wf["budget_yuan"].astype(object).where(wf["budget_yuan"].notna(), None)
    wishes_gdf = gpd.GeoDataFrame(wf[[*WISH_COLUMNS, "geometry"]], geometry="geometry",
                                  crs=4326)
    cf = pd.DataFrame(claims, columns=list(CLAIM_COLUMNS))
    for c in ("claimed_at", "accepted_at", "fulfilled_at", "withdrawn_at"):
        cf[c] = _times(cf[c])
    cf["points"] = cf["points"].astype(int)
    return {"orgs": orgs, "members": members_df, "wishes": wishes_gdf, "claims": cf}


def events(wishes: pd.DataFrame, claims: pd.DataFrame, *, actor: str = "sample",
           role: str = "sample") -> pd.DataFrame:
    """The workflow steps the wishes went through, one row per step:
    wish_code, at, action, from_state, to_state, actor, actor_role (in order of time)."""
    S = WishState
    by_wish: dict[str, list] = {}
    for c in claims.itertuples(index=False):
        by_wish.setdefault(c.wish_code, []).append(c)
    rows = []
    for w in wishes.itertuples(index=False):
        steps = [(w.posted_at, "post", None, S.POSTED.value)]
        if pd.notna(w.published_at):
            steps.append((w.published_at, "publish", S.POSTED.value, S.PUBLISHED.value))
        mine = sorted(by_wish.get(w.code, []), key=lambda c: c.claimed_at)
        for j, c in enumerate(mine):
            steps.append((c.claimed_at, "claim", S.PUBLISHED.value if j == 0 else S.CLAIMED.value,
                          S.CLAIMED.value))
        for c in sorted((c for c in mine if pd.notna(c.accepted_at)),
                        key=lambda c: c.accepted_at):
            steps.append((c.accepted_at, "accept", S.CLAIMED.value, S.CLAIMED.value))
        if pd.notna(w.fulfilled_at):
            steps.append((w.fulfilled_at, "fulfil", S.CLAIMED.value, S.FULFILLED.value))
        if pd.notna(w.confirmed_at):
            steps.append((w.confirmed_at, "confirm", S.FULFILLED.value, S.CONFIRMED.value))
        rows += [(w.code, at, a, f, t, actor, role) for at, a, f, t in steps]
    out = pd.DataFrame(rows, columns=["wish_code", "at", "action", "from_state", "to_state",
                                      "actor", "actor_role"])
    out["at"] = _times(out["at"])
    return out


# -- 龙腾街道: activities --------------------------------------------------------------------------

#: month → (theme, title) options (001_*.txt and the calendar)
_ACTIVITIES: dict[int, tuple[tuple[str, str], ...]] = {
    1: (("文明实践", "迎新春 写春联 送福字"), ("长者关爱", "寒冬送暖·“暖心卡”慰问长者"),
        ("党史学习", "新年第一课：党员冬训专题学习"), ("志愿服务", "迎春大扫除志愿服务")),
    2: (("文化惠民", "元宵猜灯谜 邻里闹元宵"), ("亲子活动", "“向日葵亲子小屋”寒假手工课"),
        ("文化惠民", "英歌潮起 乐动龙腾 民俗展演"), ("长者关爱", "新春探访困难长者")),
    3: (("志愿服务", "学雷锋志愿服务日"), ("健康义诊", "义医义诊进社区"),
        ("文明实践", "“三八”妇女节插花沙龙"), ("志愿服务", "银龄护河 巡河护绿")),
    4: (("党史学习", "清明缅怀先烈 “能量湾”党史学习"), ("法治宣传", "全民国家安全教育日宣传"),
        ("志愿服务", "街心公园环境整治志愿行动"), ("党史学习", "红色故事分享会")),
    5: (("志愿服务", "“五一”关爱劳动者 爱心驿站送清凉"), ("亲子活动", "母亲节亲子手工"),
        ("健康义诊", "口腔健康义诊"), ("文明实践", "文明家庭评选分享会")),
    6: (("文化惠民", "端午包粽子 邻里共欢"), ("亲子活动", "“六一”亲子游园会"),
        ("法治宣传", "防范电信诈骗知识讲座"), ("党史学习", "“七一”前夕党课")),
    7: (("党史学习", "“七一”主题党日 重温入党誓词"), ("亲子活动", "暑期“四点半课堂”"),
        ("长者关爱", "夏日送清凉 慰问独居长者"), ("志愿服务", "东海岸大道净滩志愿行动")),
    8: (("退役军人服务", "“八一”退役军人座谈会"), ("亲子活动", "暑期亲子阅读会"),
        ("志愿服务", "妈屿岛海岸清洁志愿行动"), ("文明实践", "邻里议事协商会")),
    9: (("文化惠民", "中秋博饼 邻里团圆"), ("志愿服务", "“双报到”党员亮身份 办实事"),
        ("亲子活动", "开学季亲子安全课")),
    10: (("长者关爱", "重阳圆桌宴 温馨邻里情"), ("文明实践", "国庆主题升旗仪式"),
         ("健康义诊", "长者免费体检")),
    11: (("法治宣传", "消防安全知识讲座与演练"), ("邻里互助", "邻里守望心连心 优里节晚会"),
         ("志愿服务", "党群服务超市积分兑换日")),
    12: (("文明实践", "冬至包汤圆 邻里一家亲"), ("法治宣传", "宪法宣传日 法律咨询"),
         ("党史学习", "年终党员大会")),
}
_STARTS = ("09:00", "09:30", "10:00", "14:30", "15:00", "15:30")
_PROGRAM_DAYS = (1, 6, 11, 16, 21, 26)


def _month_days(year: int, month: int) -> int:
    return pd.Period(f"{year}-{month:02d}").days_in_month


def _longteng(sample: Sample, rng: np.random.Generator) -> dict:
    pre = _prefix(sample)
    p = sample.points
    kinds = (PointKind.TOWN_CENTER.value, PointKind.VILLAGE_CENTER.value)
    centers = list(p.loc[p["kind"].isin(kinds), "code"])
    town = str(p.loc[p["kind"] == PointKind.TOWN_CENTER.value, "code"].iloc[0])
    stations = list(p.loc[p["kind"] == PointKind.STATION.value, "code"])
    n, months = LONGTENG["activities"], LONGTENG["months"]
    slots: list[tuple[str, int, int, int | None]] = [
        (c, 2026, m, None) for m in range(1, months + 1) for c in centers]
    extra = rng.choice(len(slots), n - len(slots), replace=False)
    slots += [slots[i] for i in sorted(extra.tolist())]
    # the program: the six centers take the days 1, 6, …, 26 of each month in a
    # new order, so that any seven days from September 2026 to 2028 hold one
    for y, m in [(y, m) for y in (2026, 2027, 2028) for m in range(1, 13)
                 if (y, m) >= (2026, months + 1)]:
        order = rng.permutation(len(centers))
        slots += [(centers[j], y, m, _PROGRAM_DAYS[k]) for k, j in enumerate(order.tolist())]
    slots += [(str(rng.choice(stations)), 2026, int(m), None) for m in rng.integers(1, 12, 12)]
    rows = []
    taken: set[tuple[str, int, int, int]] = set()
    for point, y, m, fixed in slots:
        while True:
            day = fixed or int(rng.integers(1, _month_days(y, m) + 1))
            if (point, y, m, day) not in taken:
                taken.add((point, y, m, day))
                break
        theme, title = _ACTIVITIES[m][int(rng.integers(len(_ACTIVITIES[m])))]
        start = pd.Timestamp(f"{y}-{m:02d}-{day:02d} {rng.choice(_STARTS)}", tz=TZ)
        big = point == town
        capacity = int(rng.integers(16, 30) * 10) if big else int(rng.integers(6, 16) * 10)
        rows.append({"point_code": point, "title": title, "theme": theme, "starts_at": start,
                     "ends_at": start + pd.Timedelta(minutes=int(rng.choice([90, 120, 150,
                                                                             180]))),
                     "capacity": capacity, "big": big})
    df = pd.DataFrame(rows)
    held = df["ends_at"] < ASOF
    year = (df["starts_at"] >= YEAR_START) & (df["starts_at"] < pd.Timestamp("2026-09-01",
                                                                               tz=TZ))
    counted = year & df["point_code"].isin(centers)
    fill = rng.uniform(0.6, 0.95, len(df))
    raw = np.where(df["big"], 1.9, 1.0) * fill * df["capacity"].to_numpy() / 1.6
    attendance = np.round(raw).astype(int)
    # the article's figure: the 51 activities of January–August served 6,9xx person-times
    target = LONGTENG["attendance_over"] + int(rng.integers(10, 100))
    idx = np.flatnonzero(counted.to_numpy())
    attendance[idx] = _largest_remainder(target, raw[idx])
    df["capacity"] = np.maximum(df["capacity"].to_numpy(),
                                (np.ceil(attendance * 1.1 / 10) * 10).astype(int))
    signups = np.minimum(df["capacity"].to_numpy(),
                         np.round(attendance * rng.uniform(0.85, 1.0, len(df))).astype(int))
    soon = ~held & (df["starts_at"] < pd.Timestamp("2027-01-01", tz=TZ))
    signups = np.where(held, signups, np.where(
        soon, np.round(df["capacity"].to_numpy() * rng.uniform(0.1, 0.6, len(df))), 0))
    # attendance is known for what was held (to November 2026), not from December on
    known = df["starts_at"] < pd.Timestamp("2026-12-01", tz=TZ)
    df["attendance"] = pd.array([int(a) if k else None for a, k in zip(attendance, known,
                                                                       strict=True)],
                                dtype="Int64")
    df["signups"] = signups.astype(int)
    df = df.sort_values(["starts_at", "point_code"], kind="stable").reset_index(drop=True)
    df.insert(0, "code", [f"{pre}-A{i + 1:04d}" for i in range(len(df))])
    df["synthetic"] = True
    return {"activities": df[list(ACTIVITY_COLUMNS)]}


# -- 里水镇: ratings ---------------------------------------------------------------------------

_COMMENTS = {5: ("工作人员热情周到", "环境整洁，活动丰富", "办事很方便", "长者饭堂很好"),
             4: ("总体不错", "希望周末也多开放", "活动可以再多一些"),
             3: ("一般", "开放时间太短"), 2: ("经常没开门", "找不到工作人员"),
             1: ("去了几次都关门",)}
_PERIODS = (("2026Q3", "2026-07-01", 92), ("2026Q4", "2026-10-01", 61))


def _lishui(sample: Sample, rng: np.random.Generator) -> dict:
    p = sample.points
    phones = _phones(rng, 700, set())
    rows = []
    for period, first, days in _PERIODS:
        t0 = pd.Timestamp(first, tz=TZ)
        for code, kind in zip(p["code"], p["kind"], strict=True):
            if rng.random() > (0.95 if kind in ("town_center", "village_center") else 0.45):
                continue
            n = int(rng.integers(8, 20)) if kind == "town_center" else int(rng.geometric(0.4))
            for i in rng.choice(len(phones), min(n, 12 if kind != "town_center" else n),
                                replace=False):
                score = int(rng.choice([5, 4, 3, 2, 1], p=[0.52, 0.32, 0.09, 0.04, 0.03]))
                comment = (str(rng.choice(_COMMENTS[score])) if rng.random() < 0.3 else None)
                rows.append((code, period, score, comment, phones[int(i)],
                             _day_time(rng, t0 + pd.Timedelta(days=int(rng.integers(days)))),
                             True))
    df = pd.DataFrame(rows, columns=list(RATING_COLUMNS))
    df["created_at"] = _times(df["created_at"])
    return {"ratings": df}
