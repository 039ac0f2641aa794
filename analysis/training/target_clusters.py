"""Target clusters: groups of `groups.txt` entries that name related targets (issue 15 round 4).

The abuse classifier's hard case is a comment about a group it never saw. `cluster_folds`
imitates it inside COLD *train* rows: hold out every row that mentions a cluster's groups,
train on the rest of the topics given (all of them, as the outer models do), validate on the
rows whose first clustered mention is that cluster. Clusters, written before any score was
seen (rule: a COLD topic's groups split by kind, regions by China's geographic regions):

* race topic: ``black`` (Black / African), ``white`` (white, European, the Americas, Jewish),
  ``asian`` (other Asian peoples and nations), ``chinese`` (Chinese people, China's ethnic
  groups, foreigners and migrants in China);
* gender topic: ``women``, ``men``, ``sexuality`` (LGBT words);
* region topic: ``north`` (华北 + 东北), ``east`` (华东), ``central`` (华中), ``south`` (华南,
  Hong Kong, Macau, Taiwan), ``west`` (西南 + 西北).

An entry ending in 人 / 们 / 人们 whose stem is clustered joins the stem's cluster (河南人 ->
河南 -> central). Groups of other kinds (occupation, age, generic 外地人 / 农村) are in no
cluster: their rows always train. Deterministic; a cluster's entries are disjoint from the others'.
"""
from __future__ import annotations

from functools import lru_cache

from analysis.features import load_lexicon
from analysis.normalize import normalize

CLUSTERS: dict[str, tuple[str, ...]] = {
    "black": ("黑人", "黑种人", "非洲人", "非裔", "黑皮肤", "有色人种", "尼日利亚人", "南非人", "埃及人"),
    "white": ("白人", "白种人", "白皮肤", "欧洲人", "美洲人", "美国人", "英国人", "法国人", "德国人",
              "俄罗斯人", "俄国人", "乌克兰人", "意大利人", "西班牙人", "澳大利亚人", "加拿大人",
              "巴西人", "墨西哥人", "拉丁裔", "印第安人", "犹太人", "吉普赛人", "以色列人"),
    "asian": ("黄种人", "亚裔", "亚洲人", "中东人", "阿拉伯人", "日本人", "韩国人", "朝鲜人", "印度人",
              "越南人", "泰国人", "菲律宾人", "印尼人", "马来西亚人", "新加坡人", "巴基斯坦人",
              "阿富汗人", "伊朗人", "土耳其人", "巴勒斯坦人"),
    "chinese": ("中国人", "华人", "华裔", "外国人", "老外", "外籍", "留学生", "移民", "难民", "外劳",
                "混血儿", "混血", "少数民族", "汉族", "汉人", "藏族", "藏人", "维吾尔族", "维族", "回族",
                "回民", "蒙古族", "蒙古人", "满族", "苗族", "壮族", "彝族", "朝鲜族", "哈萨克族", "土家族"),
    "women": ("女人", "女性", "女生", "女孩", "女孩子", "女的", "妇女", "女士", "姑娘", "少女", "少妇",
              "大妈", "阿姨", "女司机", "女博士", "女强人", "家庭主妇", "全职太太", "单亲妈妈", "宅女",
              "女权主义者", "女权", "女同胞"),
    "men": ("男人", "男性", "男生", "男孩", "男孩子", "男的", "男士", "小伙子", "大爷", "大叔", "男司机",
            "宅男", "男权", "男同胞"),
    "sexuality": ("同性恋", "异性恋", "双性恋", "同志", "男同", "女同", "跨性别", "跨性别者", "变性人",
                  "性少数"),
    "north": ("北京", "天津", "河北", "山西", "内蒙古", "辽宁", "吉林", "黑龙江", "东北", "华北", "北方",
              "关外", "沈阳", "大连", "哈尔滨", "长春", "石家庄", "太原", "呼和浩特", "北漂"),
    "east": ("上海", "江苏", "浙江", "安徽", "福建", "江西", "山东", "华东", "江南", "苏北", "苏南", "皖北",
             "胶东", "杭州", "温州", "宁波", "南京", "苏州", "无锡", "济南", "青岛", "福州", "厦门", "莆田",
             "合肥", "南昌", "徐州", "阜阳", "沪漂"),
    "central": ("河南", "湖北", "湖南", "华中", "中原", "豫东", "武汉", "长沙", "郑州", "驻马店", "周口",
                "信阳", "南阳", "开封", "洛阳"),
    "south": ("广东", "广西", "海南", "台湾", "香港", "澳门", "华南", "岭南", "南方", "广州", "深圳", "东莞",
              "潮汕", "潮州", "汕头", "南宁", "海口"),
    "west": ("重庆", "四川", "贵州", "云南", "西藏", "陕西", "甘肃", "青海", "宁夏", "新疆", "西北", "西南",
             "成都", "西安", "昆明", "贵阳", "兰州", "乌鲁木齐", "拉萨", "银川", "西宁", "天水"),
}
MIN_ROWS, MIN_CLASS = 300, 50   # a fold validates on >= 300 rows, >= 50 of each class


@lru_cache(maxsize=1)
def entry_clusters() -> dict[str, str]:
    """Every groups.txt entry in a cluster -> its cluster (an entry, or its stem without a
    trailing 人 / 们 / 人们, listed in CLUSTERS)."""
    base = {e: name for name, entries in CLUSTERS.items() for e in entries}
    out = {}
    for e in load_lexicon("groups").entries:
        for stem in (e, e.removesuffix("们"), e.removesuffix("人们"), e.removesuffix("人")):
            if stem in base:
                out[e] = base[stem]
                break
    return out


def clusters_of(text: str) -> list[str]:
    """Clusters of the group mentions in `text` (normalised here), in order of mention."""
    ec = entry_clusters()
    return [ec[m] for m in load_lexicon("groups").mentions(normalize(text)) if m in ec]


def cluster_folds(rows: list[dict], topics) -> list[tuple[str, list[dict], list[dict]]]:
    """(cluster, training rows, validation rows) over the rows of `topics`: validation = the
    rows whose first clustered mention is the cluster, training = the rows that mention none
    of its groups; only clusters with MIN_ROWS validation rows and MIN_CLASS of each class."""
    pool = [(r, clusters_of(r["text"])) for r in rows if r["topic"] in topics]
    out = []
    for name in CLUSTERS:
        va = [r for r, cs in pool if cs and cs[0] == name]
        pos = sum(r["label"] for r in va)
        if len(va) < MIN_ROWS or min(pos, len(va) - pos) < MIN_CLASS:
            continue
        out.append((name, [r for r, cs in pool if name not in cs], va))
    return out


def validation_folds(rows: list[dict], topics, rule: str) -> list[tuple[str, list[dict], list[dict]]]:
    """(name, training rows, validation rows) of a validated threshold's folds over the rows of
    `topics`: rule "topics" leaves one topic out (round 2), "clusters" one target cluster."""
    if rule == "clusters":
        return cluster_folds(rows, topics)
    if rule != "topics":
        raise ValueError(f"unknown threshold rule {rule!r}")
    return [(t, [r for r in rows if r["topic"] in topics and r["topic"] != t],
             [r for r in rows if r["topic"] == t]) for t in topics]
