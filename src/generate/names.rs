//! Synthetic Chinese names: subdistricts, communities, roads, compounds, people, phones.
//!
//! Names are modelled on Karamay (克拉玛依) but invented: no entry stands for a real person,
//! address or telephone. Pools run out in very large cities; names then get ordinals
//! (准噶尔二路, 前进二社区) so that they stay unique.

use std::collections::{HashMap, HashSet};

use rand::seq::IndexedRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// The six subdistricts of the default Karamay dataset, codes 001-006.
pub(crate) const KARAMAY_SUBDISTRICTS: [&str; 6] =
    ["昆仑路街道", "胜利路街道", "银河路街道", "天山路街道", "迎宾街道", "五五新镇街道"];

/// Stems for further subdistricts of large cities (街道, 镇 or 乡 is appended).
const SUBDISTRICT_STEMS: &[&str] = &[
    "准噶尔路",
    "友谊路",
    "南新路",
    "油建路",
    "长征路",
    "塔河路",
    "世纪大道",
    "白碱滩",
    "百口泉",
    "乌尔禾",
    "金龙",
    "黑油山",
    "九龙潭",
    "红山",
    "克拉苏",
    "南湖",
    "北苑",
    "东城",
    "西城",
    "翠湖",
    "白杨",
    "胡杨",
    "绿洲",
    "雪莲",
];

/// Community stems; 前进 and 南泉 are always used.
const COMMUNITY_STEMS: &[&str] = &[
    "前进",
    "南泉",
    "红星",
    "新华",
    "友谊",
    "和平",
    "团结",
    "胜利",
    "朝阳",
    "光明",
    "幸福",
    "康乐",
    "育才",
    "文化",
    "石化",
    "油建",
    "准东",
    "迎宾",
    "天山",
    "昆仑",
    "银河",
    "长征",
    "塔河",
    "世纪",
    "南新",
    "北新",
    "东湖",
    "西湖",
    "白杨",
    "胡杨",
    "红柳",
    "雪莲",
    "金龙",
    "油城",
    "九龙潭",
    "黑油山",
    "翠园",
    "锦绣",
    "阳光",
    "丽景",
    "龙湖",
    "明珠",
    "绿洲",
    "新城",
    "振兴",
    "兴盛",
    "祥和",
    "安康",
    "和谐",
    "昌盛",
    "泰安",
    "华苑",
    "东风",
    "红旗",
    "跃进",
    "前程",
    "长青",
    "五五",
    "月亮湾",
    "碧水",
    "花园",
    "白碱滩",
    "南湖",
    "北苑",
    "民生",
    "春晖",
    "星光",
    "晨曦",
    "丰收",
    "常青",
    "百花",
    "金桥",
];

const COMPOUND_PREFIXES: &[&str] = &[
    "阳光",
    "石油",
    "金龙",
    "幸福",
    "华油",
    "锦绣",
    "明珠",
    "翠湖",
    "碧水",
    "金色",
    "银河",
    "天山",
    "昆仑",
    "丽景",
    "泰和",
    "康乐",
    "安居",
    "福泽",
    "世纪",
    "润泽",
    "枫林",
    "南湖",
    "北苑",
    "东方",
    "西苑",
    "新城",
    "和谐",
    "友谊",
    "团结",
    "红山",
    "白杨",
    "胡杨",
    "雪莲",
    "戈壁",
    "油城",
    "准噶尔",
    "百口泉",
    "黑油山",
    "九龙潭",
    "绿洲",
    "紫荆",
    "银杏",
    "香榭",
    "盛世",
    "龙湾",
    "怡和",
    "恒泰",
    "嘉禾",
    "瑞祥",
    "书香",
    "春天",
    "滨河",
    "凯旋",
    "玉兰",
    "兰亭",
    "水岸",
    "御景",
    "景苑",
];
const COMPOUND_SUFFIXES: &[&str] =
    &["小区", "小区", "小区", "新村", "花园", "家园", "苑", "公寓", "嘉园", "雅居", "佳苑", "华庭"];

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何", "高", "林",
    "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾", "肖", "田", "董", "袁", "潘", "于",
    "蒋", "蔡", "余", "杜", "叶", "程", "苏", "魏", "吕", "丁", "任", "沈", "姚", "卢", "姜", "崔", "钟", "谭", "陆",
    "汪", "范", "金", "石", "廖", "贾", "夏", "韦", "付", "方", "白", "邹", "孟", "熊", "秦", "邱", "江", "尹", "薛",
    "闫", "段", "雷", "侯", "龙", "史", "陶", "贺",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀", "霞",
    "平", "刚", "桂", "英", "华", "玉", "兰", "建", "国", "志", "红", "文", "斌", "波", "辉", "鹏", "宇", "浩", "凯",
    "婷", "雪", "琳", "晨", "欣", "佳", "博", "俊", "新", "海", "疆", "慧", "梅", "燕", "瑞", "宁", "亮", "峰", "蕾",
    "彤", "睿", "嘉",
];
/// Uyghur and Kazakh given names in their usual Chinese transliteration.
const XJ_GIVEN: &[&str] = &[
    "阿不都",
    "艾力",
    "买买提",
    "热合曼",
    "吐尔逊",
    "努尔兰",
    "叶尔兰",
    "阿依古丽",
    "古丽娜尔",
    "迪丽努尔",
    "热依拉",
    "帕提古丽",
    "阿娜尔",
    "麦尔哈巴",
    "玛依拉",
    "巴合提",
    "赛力克",
    "哈力克",
    "阿力木",
    "木拉提",
    "古再丽",
    "努尔江",
    "别克",
    "阿丽亚",
];

const CN_DIGITS: [&str; 10] = ["零", "一", "二", "三", "四", "五", "六", "七", "八", "九"];

/// A number in Chinese numerals (一, 十二, 二十, 一百零五); Arabic digits from 1000 on.
pub(crate) fn chinese_number(n: usize) -> String {
    match n {
        1000.. => n.to_string(),
        0 => CN_DIGITS[0].into(),
        1..=9 => CN_DIGITS[n].into(),
        10..=19 => format!("十{}", if n == 10 { "" } else { CN_DIGITS[n - 10] }),
        20..=99 => format!("{}十{}", CN_DIGITS[n / 10], if n % 10 == 0 { "" } else { CN_DIGITS[n % 10] }),
        _ => {
            let rest = n % 100;
            let tail = match rest {
                0 => String::new(),
                1..=9 => format!("零{}", CN_DIGITS[rest]),
                10..=19 => format!("一{}", chinese_number(rest)),
                _ => chinese_number(rest),
            };
            format!("{}百{tail}", CN_DIGITS[(n / 100) % 10])
        }
    }
}

/// Entry `i` of a pool, with an ordinal inserted before `suffix` once the pool is used up:
/// 准噶尔路, ..., 准噶尔二路.
pub(crate) fn pooled(pool: &[&str], i: usize, suffix: &str) -> String {
    let stem = pool[i % pool.len()];
    let round = i / pool.len();
    if round == 0 {
        format!("{stem}{suffix}")
    } else {
        format!("{stem}{}{suffix}", chinese_number(round + 1))
    }
}

/// Subdistrict number `n` (1-based, as in its code) of a large city.
pub(crate) fn subdistrict_name(n: usize) -> String {
    if n <= KARAMAY_SUBDISTRICTS.len() {
        return KARAMAY_SUBDISTRICTS[n - 1].to_string();
    }
    let suffix = match n {
        ..=99 => "街道",
        100..=199 => "镇",
        _ => "乡",
    };
    pooled(SUBDISTRICT_STEMS, n - KARAMAY_SUBDISTRICTS.len() - 1, suffix)
}

/// Community names for `count` communities: 前进 and 南泉 first, the rest of the pool shuffled,
/// then ordinals. The caller appends 社区 or 村.
pub(crate) fn community_stems(count: usize, rng: &mut ChaCha8Rng) -> Vec<String> {
    use rand::seq::SliceRandom;
    let mut rest: Vec<&str> = COMMUNITY_STEMS[2..].to_vec();
    rest.shuffle(rng);
    let pool: Vec<&str> = COMMUNITY_STEMS[..2].iter().copied().chain(rest).collect();
    let mut out: Vec<String> = (0..count).map(|i| pooled(&pool, i, "")).collect();
    // Spread 前进 and 南泉 over the district instead of leaving them in the first subdistrict.
    let head = out.len().min(pool.len());
    out[..head].shuffle(rng);
    out
}

/// Grid name: 前进社区第三网格.
pub(crate) fn grid_name(community: &str, n: usize) -> String {
    format!("{community}第{}网格", chinese_number(n))
}

/// Draws compound names that are unique in the dataset.
pub(crate) struct CompoundNamer {
    used: HashSet<String>,
    /// Next ordinal to try per base name, so that large cities stay linear.
    next: HashMap<String, usize>,
}

impl CompoundNamer {
    pub fn new() -> Self {
        CompoundNamer { used: HashSet::new(), next: HashMap::new() }
    }

    fn unique(&mut self, base: String) -> String {
        if self.used.insert(base.clone()) {
            return base;
        }
        let n = self.next.entry(base.clone()).or_insert(2);
        loop {
            let candidate = format!("{base}{}区", chinese_number(*n));
            *n += 1;
            if self.used.insert(candidate.clone()) {
                return candidate;
            }
        }
    }

    /// A residential compound: 阳光小区, 石油新村, 金龙花园.
    pub fn residential(&mut self, rng: &mut ChaCha8Rng) -> String {
        for _ in 0..4 {
            let name = format!("{}{}", pick(COMPOUND_PREFIXES, rng), pick(COMPOUND_SUFFIXES, rng));
            if !self.used.contains(&name) {
                return self.unique(name);
            }
        }
        let name = format!("{}{}", pick(COMPOUND_PREFIXES, rng), pick(COMPOUND_SUFFIXES, rng));
        self.unique(name)
    }

    /// An open (not walled) residential block: 石油街坊.
    pub fn open_block(&mut self, rng: &mut ChaCha8Rng) -> String {
        let name = format!("{}街坊", pick(COMPOUND_PREFIXES, rng));
        self.unique(name)
    }

    /// A walled institution: a school, a clinic, an office compound.
    pub fn institution(&mut self, kind: InstitutionKind, rng: &mut ChaCha8Rng) -> String {
        let draw = |rng: &mut ChaCha8Rng| match kind {
            InstitutionKind::School => {
                let n = rng.random_range(1..=60);
                format!("克拉玛依市第{}{}", chinese_number(n), ["小学", "中学", "幼儿园"][rng.random_range(0..3)])
            }
            InstitutionKind::Clinic => format!("{}社区卫生服务中心", pick(COMPOUND_PREFIXES, rng)),
            InstitutionKind::Office => {
                format!("{}{}", pick(COMPOUND_PREFIXES, rng), pick(&["机关大院", "办公区", "产业园", "物流园"], rng))
            }
        };
        for _ in 0..8 {
            let name = draw(rng);
            if !self.used.contains(&name) {
                return self.unique(name);
            }
        }
        let name = draw(rng);
        self.unique(name)
    }
}

/// What a walled non-residential compound is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InstitutionKind {
    School,
    Clinic,
    Office,
}

fn pick<'a>(pool: &[&'a str], rng: &mut ChaCha8Rng) -> &'a str {
    pool.choose(rng).copied().unwrap_or("")
}

/// A synthetic person's name: mostly Han (王伟, 李秀英), some Uyghur or Kazakh
/// (阿依古丽·买买提), as in Karamay's population.
pub(crate) fn person_name(rng: &mut ChaCha8Rng) -> String {
    if rng.random_bool(0.18) {
        let (a, b) = (pick(XJ_GIVEN, rng), pick(XJ_GIVEN, rng));
        return format!("{a}·{b}");
    }
    let surname = pick(SURNAMES, rng);
    if rng.random_bool(0.3) {
        format!("{surname}{}", pick(GIVEN, rng))
    } else {
        format!("{surname}{}{}", pick(GIVEN, rng), pick(GIVEN, rng))
    }
}

/// A synthetic mobile number for staff member `id`: `139` + `0990` (Karamay's area code) +
/// the id, so it is plainly made up and unique (139 becomes 138, 137, ... past 10,000 staff).
pub(crate) fn phone(id: u32) -> String {
    let block = (id / 10_000) % 10;
    format!("13{}0990{:04}", 9 - block, id % 10_000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::hash::stream;

    #[test]
    fn chinese_numbers_read_naturally() {
        let cases = [
            (1, "一"),
            (10, "十"),
            (12, "十二"),
            (20, "二十"),
            (35, "三十五"),
            (105, "一百零五"),
            (110, "一百一十"),
            (999, "九百九十九"),
        ];
        for (n, s) in cases {
            assert_eq!(chinese_number(n), s);
        }
    }

    #[test]
    fn pools_extend_with_ordinals_and_names_stay_unique() {
        assert_eq!(pooled(&["准噶尔"], 0, "路"), "准噶尔路");
        assert_eq!(pooled(&["准噶尔"], 1, "路"), "准噶尔二路");
        let mut namer = CompoundNamer::new();
        let mut rng = stream(1, "names");
        let names: Vec<String> = (0..5000).map(|_| namer.residential(&mut rng)).collect();
        let distinct: HashSet<&String> = names.iter().collect();
        assert_eq!(distinct.len(), names.len(), "compound names are unique");
        let stems = community_stems(67, &mut rng);
        assert!(stems.iter().any(|s| s == "前进") && stems.iter().any(|s| s == "南泉"));
        assert_eq!(subdistrict_name(1), "昆仑路街道");
        assert!(subdistrict_name(150).ends_with('镇') && subdistrict_name(250).ends_with('乡'));
        assert_eq!(phone(7), "13909900007");
    }
}
