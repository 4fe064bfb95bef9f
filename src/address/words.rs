//! What the words of a name say: its type word (路, 小区, 花园 ...), its kind by that word, the
//! part that tells it apart from other names (its core), and so how sure a one-edit match is.
//!
//! The parser uses these to file unknown text (`不存在路` is an unknown road) and to split it
//! (`广东省深圳市南山区科技园路`), and scores every name it matches with [`match_quality`]; the
//! ranking weighs leftover text by its kind.

use super::lexicon::NameKind;
use super::text::is_chinese_numeral;

/// Characters after which unknown text is split to look for two names in a row.
pub(crate) fn is_type_char(c: char) -> bool {
    matches!(c, '路' | '街' | '巷' | '道' | '区' | '园' | '苑' | '村' | '坊' | '庭' | '居' | '市' | '省' | '县')
}

/// The kind an unknown name has by its type suffix, if any.
pub fn kind_by_suffix(text: &[char]) -> Option<NameKind> {
    let ends = |s: &str| {
        let s: Vec<char> = s.chars().collect();
        text.len() > s.len() && text.ends_with(&s)
    };
    const COMPOUND: &[&str] = &[
        "小区",
        "花园",
        "家园",
        "嘉园",
        "新村",
        "公寓",
        "大院",
        "大厦",
        "广场",
        "华庭",
        "雅居",
        "佳苑",
        "街坊",
        "中心",
        "小学",
        "中学",
        "幼儿园",
        "学校",
        "医院",
        "园区",
        "产业园",
        "物流园",
        "办公区",
        "苑",
        "园",
        "庭",
        "居",
        "府",
        "城",
        "湾",
        "坊",
        "院",
        "楼",
        "厦",
    ];
    if COMPOUND.iter().any(|s| ends(s)) {
        return Some(NameKind::Compound);
    }
    // 东方华庭二区: a numbered section of a compound, not a district.
    if text.len() >= 3
        && text.last() == Some(&'区')
        && (is_chinese_numeral(text[text.len() - 2]) || text[text.len() - 2].is_ascii_digit())
    {
        return Some(NameKind::Compound);
    }
    if ["社区", "居委会", "村委会", "村"].iter().any(|s| ends(s)) {
        return Some(NameKind::Community);
    }
    if ["街道", "街道办", "镇", "乡"].iter().any(|s| ends(s)) {
        return Some(NameKind::Subdistrict);
    }
    if ["大道", "路", "街", "巷", "道", "胡同", "弄"].iter().any(|s| ends(s)) {
        return Some(NameKind::Road);
    }
    if ["省", "自治区"].iter().any(|s| ends(s)) {
        return Some(NameKind::Province);
    }
    if ["市", "州", "盟"].iter().any(|s| ends(s)) {
        return Some(NameKind::City);
    }
    if ["区", "县", "旗"].iter().any(|s| ends(s)) {
        return Some(NameKind::District);
    }
    None
}

/// Splits unknown text after the words that end an admin unit or a road (`广东省深圳市南山区
/// 科技园路` → 广东省, 深圳市, 南山区, 科技园路), so that each piece is filed by its kind.
/// Returns `(start, end)` ranges of `text`.
pub(crate) fn split_unknown(text: &[char]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 0..text.len() {
        let c = text[i];
        let next = text.get(i + 1).copied();
        let prev = i.checked_sub(1).map(|p| text[p]);
        let ends_word = match c {
            '省' | '市' | '县' | '镇' | '乡' | '巷' => true,
            '路' => next != Some('口'),
            // 街坊 is a compound, 街道 a subdistrict: split after them, not inside.
            '街' => !matches!(next, Some('坊' | '道')),
            '道' => prev == Some('街') || prev == Some('大'),
            '区' => true,
            _ => false,
        };
        if ends_word && i + 1 - start >= 2 {
            out.push((start, i + 1));
            start = i + 1;
        }
    }
    if start < text.len() {
        match out.last_mut() {
            // A one-character tail is noise, not a name of its own.
            Some(last) if text.len() - start == 1 => last.1 = text.len(),
            _ => out.push((start, text.len())),
        }
    }
    out
}

/// Generic words that end names: the type of a road or compound, not what tells it apart.
const TYPE_WORDS: &[&str] = &[
    "机关大院",
    "社区卫生服务中心",
    "产业园",
    "物流园",
    "办公区",
    "幼儿园",
    "大道",
    "小区",
    "花园",
    "家园",
    "嘉园",
    "新村",
    "公寓",
    "大院",
    "大厦",
    "广场",
    "华庭",
    "雅居",
    "佳苑",
    "街坊",
    "中心",
    "小学",
    "中学",
    "学校",
    "医院",
    "园区",
    "社区",
    "街道",
    "路",
    "街",
    "巷",
    "道",
    "苑",
    "园",
    "庭",
    "居",
    "府",
    "城",
    "湾",
    "坊",
    "院",
];

/// The length of the part of a name that tells it apart (`阳光` in 阳光小区, `东方华庭` in
/// 东方华庭二区, `准噶尔` in 准噶尔路): the name less its section (`二区`) and type word.
pub fn core_len(name: &[char]) -> usize {
    let mut n = name.len();
    // A numbered section: 二区, 3区.
    if n >= 3 && name[n - 1] == '区' && (is_chinese_numeral(name[n - 2]) || name[n - 2].is_ascii_digit()) {
        n -= 2;
    }
    let body = &name[..n];
    let word = TYPE_WORDS
        .iter()
        .map(|w| w.chars().count())
        .zip(TYPE_WORDS)
        .filter(|&(k, w)| k < body.len() && body[body.len() - k..].iter().copied().eq(w.chars()))
        .map(|(k, _)| k)
        .max()
        .unwrap_or(0);
    (n - word).max(1)
}

/// How sure a match of `query` to `surface` at `distance` edits is, for a surface whose exact
/// form is worth `form_quality`.
///
/// An edit in the type word (`阳光小去`) leaves the name that tells the place apart intact:
/// 0.92. An edit in that name costs more the shorter it is: `1 − 0.65 / core length`, so 0.68
/// for two characters (绿洲小区 and 务洲小区 may well be two compounds), 0.84 for four. Another
/// type word (幸福街 for 幸福路, 丽景家园 for 丽景花园) or section (三区 for 二区) names another
/// place rather than misspelling this one: 0.7.
pub fn match_quality(form_quality: f32, distance: u8, query: &[char], surface: &[char]) -> f32 {
    if distance == 0 {
        return form_quality;
    }
    let core = core_len(surface);
    // Where the two first differ: the place of the edit. A character added or dropped in a run
    // of equal ones (世纪大大道) could be anywhere in the run: take its first place.
    let mut at = query.iter().zip(surface).take_while(|(a, b)| a == b).count();
    let longer = if query.len() >= surface.len() { query } else { surface };
    if query.len() != surface.len() {
        while at > 0 && at < longer.len() && longer[at - 1] == longer[at] {
            at -= 1;
        }
    }
    // A character added where the name meets its type word (世纪雅大道) may lengthen the name:
    // it is an edit of the name, not of the type word.
    let in_type_word = at > core || (at == core && query.len() <= surface.len());
    let section = surface.len() >= 3
        && surface[surface.len() - 1] == '区'
        && (is_chinese_numeral(surface[surface.len() - 2]) || surface[surface.len() - 2].is_ascii_digit());
    let q = if section && at == surface.len() - 2 {
        // 东方华庭三区 for 东方华庭二区: another section.
        0.7
    } else if in_type_word {
        // The type word: misspelt (小去), or swapped for another (花园 for 家园, 街 for 路).
        let written = &query[core.min(query.len())..];
        let other_type = TYPE_WORDS.iter().any(|w| written.iter().copied().eq(w.chars()));
        if other_type {
            0.7
        } else {
            0.92
        }
    } else {
        1.0 - 0.65 / core as f32
    };
    form_quality * q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quality_falls_with_shorter_names_and_changed_road_types() {
        let c = |s: &str| s.chars().collect::<Vec<_>>();
        let in_type_word = match_quality(1.0, 1, &c("友谊社区卫生服物中心"), &c("友谊社区卫生服务中心"));
        let short = match_quality(1.0, 1, &c("东湖路"), &c("东环路"));
        let two_char_core = match_quality(1.0, 1, &c("务洲小区"), &c("绿洲小区"));
        let three_char_core = match_quality(1.0, 1, &c("准葛尔路"), &c("准噶尔路"));
        assert!(in_type_word > 0.9, "{in_type_word}");
        assert!(short < 0.7 && two_char_core < 0.7, "{short} {two_char_core}");
        assert!(three_char_core > 0.75 && three_char_core < 0.8, "{three_char_core}");
        assert!(match_quality(1.0, 1, &c("阳光小去"), &c("阳光小区")) > 0.9, "a typo in the type word");
        assert!(match_quality(1.0, 1, &c("幸福街"), &c("幸福路")) <= 0.7);
        assert!(match_quality(1.0, 1, &c("丽景家园"), &c("丽景花园")) <= 0.7, "another type of compound");
        assert!(match_quality(1.0, 1, &c("东方华庭三区"), &c("东方华庭二区")) <= 0.7, "another section");
        assert!(match_quality(1.0, 1, &c("世纪雅大道"), &c("世纪大道")) < 0.7, "an added character lengthens the name");
        assert!(match_quality(1.0, 1, &c("世纪大大道"), &c("世纪大道")) < 0.7, "the doubled 大 may be the name's");
    }

    #[test]
    fn the_core_of_a_name_is_what_tells_it_apart() {
        let core = |s: &str| core_len(&s.chars().collect::<Vec<_>>());
        assert_eq!(core("阳光小区"), 2);
        assert_eq!(core("东方华庭二区"), 2, "东方 + 华庭 + 二区");
        assert_eq!(core("准噶尔路"), 3);
        assert_eq!(core("世纪大道"), 2);
        assert_eq!(core("友谊社区卫生服务中心"), 2);
        assert_eq!(core("克拉玛依市第二十六小学"), 9);
    }
}
