"""The entity registry: the one description of every entity of the store of record.

Each :class:`Entity` names its table, Chinese label, geometry, how a row's
region is known, whether rows are soft-deleted and time-stamped, and its
:class:`Field` s — each with its kind (which rule of :mod:`geo.rules` checks
it), its one Chinese label (messages, export headers), the header spellings a
planner's file may use (import aliases), its default (what an empty cell or an
omitted field stands for; the column's server default says the same and a test
checks it), whether planners edit it through the API, whether it is public
(answers, tiles), and how a file import updates it.

Every other place reads this registry instead of describing an entity again:
planner edits (:mod:`geo.editing`), file imports (:mod:`geo.io.importer`,
header matching in :mod:`geo.io.columns`), exports (:mod:`geo.io.export`), the
upsert of the store (:mod:`geo.store.upsert`), tile fields
(:mod:`maps.layers`) and the API's request and record models
(:mod:`api.schemas`).  Adding a field to an entity is one edit here plus a
migration.

Entities are looked up by their name (``point``), their plural import/export
key (``points``) or their URL segment (``grid-cells``) with :func:`entity`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from geo import rules
from geo.errors import NotFound
from geo.vocab import Channel, GridKind, OrgKind, WishCategory, WishKind, WishState

__all__ = ["ENTITIES", "Entity", "Field", "entity", "importable", "tile_type"]

#: Kinds of fields and the rule that checks them (see :func:`geo.rules.check_column`;
#: ``region``, ``compound`` and ``compounds`` are references checked against the store,
#: ``lng``/``lat``/``lnglat``/``wkt`` are a file's geometry columns, ``private`` is
#: personal data as a JSON object, ``hours`` structured opening hours).
KINDS = frozenset({
    "code", "region_code", "text", "hours_text", "point_kind", "grid_kind", "level",
    "services", "number", "stars", "phone", "bool", "hours", "region", "compound",
    "compounds", "private", "lng", "lat", "lnglat", "wkt",
    "wish_kind", "wish_category", "channel", "org_kind", "wish_state", "mobile", "datetime"})

#: How a file import updates a column of an existing row: ``plain`` (set),
#: ``coalesce`` (set when the new value is not empty), ``json_merge`` (merge keys).
UPSERTS = frozenset({"plain", "coalesce", "json_merge"})


@dataclass(frozen=True)
class Field:
    """One field of an entity.

    Attributes
    ----------
    name
        The field's name in the API and (unless ``column`` says otherwise) its column.
    kind
        Which rule checks it (:data:`KINDS`).
    label
        Its one Chinese label: messages, export headers, report columns.
    aliases
        Other header spellings recognised in a planner's file (the label is one
        too), matched after :func:`geo.vocab.normalize_label`.
    column
        The table column; ``None`` for a field stored elsewhere (``compound_codes``:
        the ``branch_compounds`` table) or not stored (a file's ``lng``/``lat``).
    required
        Must be given when a row is created through the API.
    default
        What an omitted field or an empty cell stands for (also the column's
        server default).
    max_len
        Longest text, characters (text kinds).
    import_name
        The field's name in mapping files and import reports, where it differs
        from ``name`` (``region`` for ``region_code``, ``hours`` for ``hours_text``).
    editable
        Planners set it through the API.
    importable
        A file may carry it.
    public
        Shown in public answers and tiles (never personal data).
    upsert
        How a file import updates it on an existing row (:data:`UPSERTS`).
    """

    name: str
    kind: str
    label: str
    aliases: tuple[str, ...] = ()
    column: str | None | bool = True
    required: bool = False
    default: Any = None
    max_len: int | None = None
    import_name: str | None = None
    editable: bool = True
    importable: bool = True
    public: bool = True
    upsert: str = "plain"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"field {self.name}: unknown kind {self.kind!r}")
        if self.upsert not in UPSERTS:
            raise ValueError(f"field {self.name}: unknown upsert {self.upsert!r}")
        if self.column is True:
            object.__setattr__(self, "column", self.name)
        elif self.column is False:
            object.__setattr__(self, "column", None)
        if self.import_name is None:
            object.__setattr__(self, "import_name", self.name)
        if self.max_len is None and self.kind == "text":
            object.__setattr__(self, "max_len", rules.NAME_MAX_LEN)

    @property
    def headers(self) -> tuple[str, ...]:
        """Every header spelling of a file that names this field (label first)."""
        return (self.label, *self.aliases)


@dataclass(frozen=True)
class Entity:
    """An entity of the store of record.

    Attributes
    ----------
    name, plural, slug
        Keys: ``grid_cell`` (edits, audit), ``grids`` (imports, exports), ``grid-cells``
        (URLs of the planner API).
    table
        Its table.
    label
        Chinese name.
    geometry
        ``"Point"``, ``"MultiPolygon"`` or ``None``.
    fields
        Its fields, in export order.
    region
        How a row's region (the scope of a token) is known: ``column``
        (``region_code``), ``compound`` (the compound's, else the village holding
        the footprint: buildings), ``point`` (the position's: activities) or
        ``self`` (regions: the code itself).
    soft_delete, updated_at
        The table has ``deleted_at`` (soft delete, restore) / ``updated_at``.
    private
        It has a ``private`` column of personal data.
    editable
        Planners create and edit it through the API.
    keeps_properties
        A file's unmatched columns are kept in the ``properties`` JSONB column.
    code_prefix
        Prefix of codes generated for a file without a code column.
    passive
        Columns an import writes along with a change that are no change by
        themselves (``source_crs``: the CRS a point was last delivered in).
    versioned
        The table has a ``version`` bumped whenever a row moves (stored service
        circles record it).
    """

    name: str
    plural: str
    slug: str
    table: str
    label: str
    geometry: str | None
    fields: tuple[Field, ...]
    region: str = "column"
    soft_delete: bool = True
    updated_at: bool = True
    private: bool = False
    editable: bool = True
    keeps_properties: bool = False
    code_prefix: str = ""
    passive: tuple[str, ...] = ()
    versioned: bool = False
    _by_name: dict[str, Field] = field(default_factory=dict, repr=False, compare=False)
    _by_import: dict[str, Field] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        for f in self.fields:
            self._by_name[f.name] = f
            if f.importable:
                self._by_import[f.import_name] = f

    def field(self, name: str) -> Field:
        """The field called ``name``."""
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"{self.name} has no field {name!r}") from None

    def import_field(self, import_name: str) -> Field:
        """The importable field a file's column names (by its import name)."""
        try:
            return self._by_import[import_name]
        except KeyError:
            raise KeyError(f"{self.name} has no importable field {import_name!r}") from None

    def has(self, name: str) -> bool:
        return name in self._by_name

    @property
    def code(self) -> Field:
        return self.fields[0]

    @property
    def editable_fields(self) -> tuple[Field, ...]:
        """Fields planners set through the API (the code excluded)."""
        return tuple(f for f in self.fields if f.editable and f.name != "code")

    @property
    def import_fields(self) -> tuple[Field, ...]:
        """Fields a file may carry."""
        return tuple(f for f in self.fields if f.importable)

    @property
    def columns(self) -> tuple[str, ...]:
        """Columns of the fields stored in the table."""
        return tuple(f.column for f in self.fields if f.column)

    def defaults(self) -> dict[str, Any]:
        """Column → the value an empty cell stands for (columns with a default)."""
        return {f.column: f.default for f in self.fields
                if f.column and f.default is not None}


def tile_type(f: Field) -> str:
    """The TileJSON type of a field's values (``String``, ``Number``, ``Boolean``)."""
    if f.kind in ("number", "stars"):
        return "Number"
    if f.kind == "bool":
        return "Boolean"
    return "String"


# --------------------------------------------------------------------------
# the header spellings shared by several entities
# --------------------------------------------------------------------------
_CODE = ("编码", "编号", "代码", "code", "id")
_REGION = ("所属区划", "所属社区", "所属村", "所属村社区", "所属村居委", "所属村委会",
           "所属居委会", "村居", "村社区", "村", "社区", "村居名称", "所属区域", "所属行政区",
           "区划代码", "行政区划代码", "村居代码", "region", "regioncode", "village",
           "community")
_HOUSEHOLDS = ("住户数", "总户数", "住户", "households")
_POPULATION = ("人数", "常住人口", "居住人口", "总人口", "人口数", "population")


def _region_field(**kw: Any) -> Field:
    return Field("region_code", "region", "所属村居", _REGION, import_name="region",
                 required=True, **kw)


def _wkt() -> Field:
    return Field("wkt", "wkt", "几何(WKT)",
                 ("wkt", "geometry", "geom", "几何", "边界", "范围", "空间范围", "图形", "shape"),
                 column=False, editable=False, public=False)


def _counts() -> tuple[Field, Field]:
    return (Field("households", "number", "户数", _HOUSEHOLDS, default=0),
            Field("population", "number", "人口", _POPULATION, default=0))


def _private() -> Field:
    return Field("private", "private", "个人信息", default={}, importable=False, public=False)


ENTITIES: dict[str, Entity] = {e.name: e for e in (
    Entity(
        "point", "points", "points", "service_points", "服务阵地", "Point", (
            Field("code", "code", "编码", _CODE + ("阵地编码", "阵地编号", "点位编码", "站点编码"),
                  required=True),
            Field("name", "text", "名称",
                  ("阵地名称", "站点名称", "点位名称", "服务阵地名称", "阵地", "name", "title"),
                  required=True),
            Field("kind", "point_kind", "类型",
                  ("阵地类型", "类别", "分类", "阵地类别", "kind", "type", "category"),
                  required=True),
            _region_field(upsert="coalesce"),
            Field("address", "text", "地址",
                  ("详细地址", "位置", "地点", "所在地址", "address", "addr"),
                  max_len=rules.ADDRESS_MAX_LEN),
            Field("lng", "lng", "经度",
                  ("东经", "lng", "lon", "long", "longitude", "x", "x坐标"),
                  column=False, editable=False, public=False),
            Field("lat", "lat", "纬度", ("北纬", "lat", "latitude", "y", "y坐标"),
                  column=False, editable=False, public=False),
            Field("lnglat", "lnglat", "经纬度",
                  ("坐标", "经纬度坐标", "位置坐标", "lnglat", "lonlat", "lnglat坐标",
                   "coordinates", "coords", "location"),
                  column=False, editable=False, public=False),
            Field("hours_text", "hours_text", "开放时间",
                  ("服务时间", "办公时间", "营业时间", "开放时段", "hours", "openinghours",
                   "openhours"),
                  max_len=rules.HOURS_TEXT_MAX_LEN, import_name="hours"),
            Field("hours", "hours", "开放时间（结构化）", importable=False),
            Field("services", "services", "服务内容",
                  ("服务项目", "服务功能", "功能", "服务", "services", "service"), default=[]),
            Field("phone", "phone", "联系电话",
                  ("电话", "联系方式", "咨询电话", "服务电话", "phone", "tel", "telephone")),
            Field("rooms", "number", "功能室数量",
                  ("房间数", "功能室数", "功能室", "房间", "rooms")),
            Field("floor_area_m2", "number", "面积",
                  ("建筑面积", "使用面积", "阵地面积", "floorarea", "flooraream2", "area")),
            Field("stars", "stars", "星级", ("星级评定", "stars", "star", "rating")),
        ),
        keeps_properties=True, code_prefix="P", passive=("source_crs",), versioned=True),
    Entity(
        "region", "regions", "regions", "regions", "行政区划", "MultiPolygon", (
            Field("code", "region_code", "区划代码",
                  ("行政区划代码", "统计用区划代码", "代码", "编码", "code", "adcode"),
                  required=True),
            Field("name", "text", "名称",
                  ("区划名称", "村居名称", "村名称", "社区名称", "镇街名称", "name"),
                  required=True),
            Field("level", "level", "级别", ("层级", "类型", "level")),
            Field("parent_code", "region_code", "上级代码",
                  ("上级区划代码", "上级", "所属镇街代码", "parent", "parentcode"),
                  import_name="parent"),
            _wkt(),
        ),
        region="self", soft_delete=False, editable=False, keeps_properties=True),
    Entity(
        "grid_cell", "grids", "grid-cells", "grid_cells", "网格", "MultiPolygon", (
            Field("code", "code", "网格编码", ("网格编号", "网格代码") + _CODE, required=True),
            Field("name", "text", "网格名称", ("名称", "网格", "name"), required=True),
            _region_field(upsert="coalesce"),
            Field("kind", "grid_kind", "网格类型", ("类型", "kind", "type"),
                  default=GridKind.GOVERNANCE.value),
            Field("workers", "number", "网格员人数",
                  ("网格员数", "网格员数量", "专兼职网格员", "网格员", "workers"), default=0),
            Field("has_branch", "bool", "是否有党支部",
                  ("有无党支部", "是否建立党支部", "是否建有党支部", "党支部", "hasbranch"),
                  default=False),
            _private(),
            _wkt(),
        ),
        private=True, code_prefix="G"),
    Entity(
        "compound", "compounds", "compounds", "compounds", "住宅小区", "MultiPolygon", (
            Field("code", "code", "小区编码", ("小区编号", "小区代码") + _CODE, required=True),
            Field("name", "text", "小区名称", ("名称", "小区", "name"), required=True),
            _region_field(upsert="coalesce"),
            *_counts(),
            _wkt(),
        ),
        code_prefix="C"),
    Entity(
        "building", "buildings", "buildings", "buildings", "楼栋", "MultiPolygon", (
            Field("code", "code", "楼栋编码", ("楼栋编号", "建筑编码", "建筑编号") + _CODE,
                  required=True),
            Field("compound_code", "compound", "所属小区",
                  ("所属小区编码", "小区编码", "小区", "小区名称", "compound", "compoundcode"),
                  import_name="compound"),
            *_counts(),
            _wkt(),
        ),
        region="compound", updated_at=False, code_prefix="B"),
    Entity(
        "branch", "branches", "branches", "party_branches", "党支部", None, (
            Field("code", "code", "支部编码",
                  ("党支部编码", "组织编码", "党组织编码", "支部编号") + _CODE, required=True),
            Field("name", "text", "支部名称",
                  ("党支部名称", "党组织名称", "组织名称", "名称", "name"), required=True),
            _region_field(),
            Field("seat_compound_code", "compound", "驻地小区",
                  ("所在小区", "驻地小区编码", "seatcompound", "seatcompoundcode"),
                  import_name="seat_compound"),
            Field("compound_codes", "compounds", "覆盖小区",
                  ("联系小区", "所辖小区", "覆盖的小区", "覆盖小区编码", "compounds",
                   "compoundcodes"),
                  column=False, default=[], import_name="compounds"),
            _private(),
        ),
        private=True, code_prefix="PB"),
    # ---------------------------------------------------------------- residents' side
    Entity(
        "org", "orgs", "orgs", "party_orgs", "党组织", None, (
            Field("code", "code", "组织编码", ("党组织编码",) + _CODE, required=True),
            Field("name", "text", "组织名称", ("党组织名称", "名称", "name"), required=True),
            Field("kind", "org_kind", "组织类型", ("类型", "组织类别", "kind"),
                  default=OrgKind.BRANCH.value),
            _region_field(),
            Field("branch_code", "code", "对应党支部", ("支部编码", "党支部编码", "branch"),
                  import_name="branch"),
        ),
        editable=False, code_prefix="O"),
    Entity(
        "member", "members", "members", "members", "党员", None, (
            Field("code", "code", "党员编号", ("编号",) + _CODE, required=True),
            _region_field(),
            Field("org_code", "code", "所在党组织",
                  ("党组织编码", "组织编码", "所在党组织编码", "org"), import_name="org"),
            # personal data: a file's name and phone columns go into ``private``
            Field("member_name", "text", "姓名", ("党员姓名", "名字", "name"), column=False,
                  editable=False, public=False, max_len=30, import_name="name"),
            Field("member_phone", "mobile", "手机号",
                  ("手机", "联系电话", "电话", "phone", "mobile"),
                  column=False, editable=False, public=False, import_name="phone"),
            Field("private", "private", "个人信息", default={}, importable=False, public=False,
                  upsert="json_merge"),
        ),
        private=True, editable=False, code_prefix="M"),
    Entity(
        "wish", "wishes", "wishes", "wishes", "微心愿", "Point", (
            Field("code", "code", "心愿编号", ("编号",) + _CODE, required=True),
            Field("kind", "wish_kind", "类型", ("kind",), default=WishKind.WISH.value),
            Field("title", "text", "心愿", ("心愿内容", "标题", "需求", "title"),
                  required=True, max_len=60),
            Field("text", "text", "详细描述", ("描述", "说明", "text"), max_len=500,
                  public=False),
            Field("public_text", "text", "公开内容", ("心愿墙内容",), max_len=500),
            Field("category", "wish_category", "类别", ("心愿类别", "分类", "category"),
                  default=WishCategory.OTHER.value),
            _region_field(),
            Field("point_code", "code", "所属阵地", ("阵地编码", "point"), import_name="point"),
            Field("grid_code", "code", "所属网格", ("网格编码", "grid"), import_name="grid"),
            Field("compound_code", "code", "所属小区", ("小区编码", "compound"),
                  import_name="compound"),
            Field("budget_yuan", "number", "项目金额（元）", ("金额", "预算", "budget")),
            Field("channel", "channel", "收集渠道", ("渠道", "来源", "channel"),
                  default=Channel.ONLINE.value),
            Field("state", "wish_state", "状态", editable=False, importable=False,
                  default=WishState.POSTED.value),
            Field("state_reason", "text", "状态说明", editable=False, importable=False,
                  max_len=200),
            Field("resident_score", "stars", "居民评价", editable=False, importable=False),
            Field("phone_hash", "code", "电话摘要", editable=False, importable=False,
                  public=False),
            Field("entered_by", "text", "代录人", editable=False, importable=False,
                  public=False),
            *(Field(f"{step}_at", "datetime", label, editable=False, importable=False)
              for step, label in (("posted", "点单时间"), ("published", "下单时间"),
                                  ("claimed", "接单时间"), ("fulfilled", "完成时间"),
                                  ("confirmed", "确认时间"), ("closed", "关闭时间"),
                                  ("erased", "个人信息删除时间"))),
            _private(),
        ),
        soft_delete=False, private=True, editable=False, code_prefix="W"),
    Entity(
        "activity", "activities", "activities", "activities", "阵地活动", None, (
            Field("code", "code", "活动编号", ("编号",) + _CODE, required=True),
            Field("point_code", "code", "举办阵地", ("阵地编码", "阵地", "point"),
                  required=True, import_name="point"),
            Field("title", "text", "活动名称", ("名称", "活动", "title"), required=True),
            Field("theme", "text", "活动主题", ("主题", "theme")),
            Field("starts_at", "datetime", "开始时间", ("开始", "活动时间", "start", "startsat"),
                  required=True),
            Field("ends_at", "datetime", "结束时间", ("结束", "end", "endsat"), required=True),
            Field("capacity", "number", "名额", ("限额", "人数上限", "capacity")),
            Field("signups", "number", "报名人数", ("报名", "signups"), default=0),
            Field("attendance", "number", "参与人次", ("人次", "参加人数", "attendance")),
        ),
        region="point", editable=False, code_prefix="A"),
)}

_LOOKUP: dict[str, Entity] = {}
for _e in ENTITIES.values():
    for _key in (_e.name, _e.plural, _e.slug, _e.table):
        _LOOKUP.setdefault(_key, _e)


def entity(key: str) -> Entity:
    """The entity of a name, import/export key, URL segment or table.

    Raises
    ------
    NotFound
        For an unknown key.
    """
    try:
        return _LOOKUP[key]
    except (KeyError, TypeError):
        raise NotFound(f"未知的数据类型 {key!r}，可选：{', '.join(ENTITIES)}") from None


def importable() -> Iterator[Entity]:
    """The entities a file may be imported into, in dependency order (regions first)."""
    order = ("point", "region", "grid_cell", "compound", "building", "branch", "org", "member",
             "activity")
    return (ENTITIES[n] for n in order)


def columns_markdown() -> str:
    """The importable fields of every entity as the Markdown tables of
    ``docs/data-formats.md`` (``python -m geo.entities`` prints them; a test
    checks the document carries exactly these)."""
    out: list[str] = []
    for e in importable():
        out += [f"### {e.plural} ({e.label}, table `{e.table}`)", "",
                "| field | 中文 | aliases |", "|---|---|---|"]
        for f in e.import_fields:
            out.append(f"| `{f.import_name}` | {f.label} | {'、'.join(f.headers)} |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    print(columns_markdown(), end="")
