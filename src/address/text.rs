//! Character-level clean-up of address text and Chinese numerals.
//!
//! Everything the parser sees goes through [`normalize`] first: full-width forms become ASCII
//! (`３号` → `3号`), ASCII letters are lower-cased, spaces and punctuation are dropped but
//! remembered (a separator between two numbers means "next number", as in `3 2 501`), and
//! dash-like characters all become `-`. Names in the lexicon go through the same function, so
//! both sides of every comparison are in one form.
//!
//! Chinese numerals are *not* rewritten here: `迎宾二路` and `五五路` are names, and only the
//! parser knows whether `二` is part of a name or a number. [`chinese_number`] reads a numeral
//! when the parser asks.

/// Text after [`normalize`]: the kept characters, and for each whether a separator (space or
/// punctuation) stood right before it in the input.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Normalized {
    pub chars: Vec<char>,
    pub sep_before: Vec<bool>,
}

/// Separators that carry no meaning of their own (spaces and punctuation). Dashes are not
/// separators: they join building, unit and room (`3-2-501`).
fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            ',' | '.'
                | ';'
                | ':'
                | '!'
                | '?'
                | '\''
                | '"'
                | '('
                | ')'
                | '['
                | ']'
                | '{'
                | '}'
                | '<'
                | '>'
                | '|'
                | '*'
                | '、'
                | '，'
                | '。'
                | '；'
                | '：'
                | '！'
                | '？'
                | '“'
                | '”'
                | '‘'
                | '’'
                | '（'
                | '）'
                | '【'
                | '】'
                | '《'
                | '》'
                | '「'
                | '」'
                | '·'
                | '…'
                | '\u{200b}'
                | '\u{feff}'
        )
}

/// Maps one character to its normal form: full-width ASCII to ASCII, dashes to `-`,
/// upper-case ASCII to lower-case. `None` for a separator.
#[inline]
fn fold(c: char) -> Option<char> {
    let c = match c {
        '\u{ff01}'..='\u{ff5e}' => char::from_u32(c as u32 - 0xfee0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    };
    if is_separator(c) {
        return None;
    }
    Some(match c {
        '—' | '–' | '‐' | '‑' | '−' | '~' | '～' | '_' | '/' | '\\' => '-',
        'A'..='Z' => c.to_ascii_lowercase(),
        _ => c,
    })
}

/// Normalises `text` (see the module docs). At most `max_chars` input characters are read, so
/// that a hostile input cannot make the parser slow.
pub fn normalize(text: &str, max_chars: usize) -> Normalized {
    let mut out = Normalized { chars: Vec::with_capacity(text.len().min(max_chars)), sep_before: Vec::new() };
    out.sep_before.reserve(out.chars.capacity());
    let mut sep = false;
    for c in text.chars().take(max_chars) {
        match fold(c) {
            Some(c) => {
                out.chars.push(c);
                out.sep_before.push(sep);
                sep = false;
            }
            None => sep = true,
        }
    }
    out
}

/// Normalised characters of a name (no separator information), for building the lexicon.
pub fn normalize_name(name: &str) -> Vec<char> {
    name.chars().filter_map(fold).collect()
}

/// The value of a Chinese digit (零〇 to 九, and 两 for 2).
#[inline]
pub fn chinese_digit(c: char) -> Option<u32> {
    Some(match c {
        '零' | '〇' => 0,
        '一' => 1,
        '二' | '两' => 2,
        '三' => 3,
        '四' => 4,
        '五' => 5,
        '六' => 6,
        '七' => 7,
        '八' => 8,
        '九' => 9,
        _ => return None,
    })
}

/// The multiplier of a Chinese numeral unit character.
#[inline]
fn chinese_unit(c: char) -> Option<u32> {
    match c {
        '十' => Some(10),
        '百' => Some(100),
        '千' => Some(1000),
        _ => None,
    }
}

/// Whether `c` can be part of a Chinese numeral.
#[inline]
pub fn is_chinese_numeral(c: char) -> bool {
    chinese_digit(c).is_some() || chinese_unit(c).is_some()
}

/// Reads the Chinese numeral at the start of `chars`: `(value, characters used)`.
///
/// Both ways of writing are read: with units (`十二` 12, `二十三` 23, `一百零五` 105) and digit by
/// digit (`五零一` 501, as room numbers are spoken). `None` when `chars` does not start with a
/// numeral, or when it is malformed (`十十`) or too large for an address (≥ 10,000).
pub fn chinese_number(chars: &[char]) -> Option<(u32, usize)> {
    let len = chars.iter().take_while(|&&c| is_chinese_numeral(c)).count().min(9);
    if len == 0 {
        return None;
    }
    let run = &chars[..len];
    if run.iter().all(|&c| chinese_digit(c).is_some()) {
        // Digit by digit: 五零一 = 501. A lone 零 is 0.
        let v = run.iter().try_fold(0u32, |acc, &c| acc.checked_mul(10)?.checked_add(chinese_digit(c)?))?;
        return Some((v, len));
    }
    let mut total = 0u32;
    let mut digit: Option<u32> = None;
    let mut last_unit = u32::MAX;
    for &c in run {
        if let Some(d) = chinese_digit(c) {
            if digit.is_some() && d != 0 {
                return None; // 二三十: two digits in a row inside a numeral with units
            }
            digit = if d == 0 { None } else { Some(d) };
        } else if let Some(u) = chinese_unit(c) {
            if u >= last_unit {
                return None; // 十十, 十百: units must fall
            }
            total += digit.unwrap_or(1) * u;
            digit = None;
            last_unit = u;
        }
    }
    Some((total + digit.unwrap_or(0), len))
}

/// Rewrites every well-formed Chinese numeral in `name` with ASCII digits (`迎宾二路` →
/// `迎宾2路`, `第二十六小学` → `第26小学`), for lexicon aliases. A lone unit character
/// (`百` in `百花街`) is left alone: there it is a word, not a number.
pub fn arabic_numerals(name: &[char]) -> Vec<char> {
    let mut out = Vec::with_capacity(name.len());
    let mut i = 0;
    while i < name.len() {
        let lone_unit = chinese_unit(name[i]).is_some() && name.get(i + 1).is_none_or(|&c| !is_chinese_numeral(c));
        match chinese_number(&name[i..]) {
            Some((v, n)) if !lone_unit || name[i] == '十' => {
                out.extend(v.to_string().chars());
                i += n;
            }
            _ => {
                out.push(name[i]);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(chars: &[char]) -> String {
        chars.iter().collect()
    }

    #[test]
    fn full_width_spaces_and_punctuation_are_folded() {
        let n = normalize("准噶尔路　５８号，阳光小区 ３ 栋（Ａ座）", 200);
        assert_eq!(s(&n.chars), "准噶尔路58号阳光小区3栋a座");
        // The separator before 3 is remembered; none before 号.
        let three = n.chars.iter().position(|&c| c == '3').unwrap();
        assert!(n.sep_before[three]);
        assert!(!n.sep_before[three - 1]);
        assert_eq!(s(&normalize("3—2－501", 200).chars), "3-2-501");
    }

    #[test]
    fn normalisation_reads_at_most_max_chars() {
        assert_eq!(normalize(&"路".repeat(1000), 10).chars.len(), 10);
    }

    #[test]
    fn chinese_numerals_with_units_and_digit_by_digit() {
        let cases = [
            ("三", 3),
            ("十", 10),
            ("十二", 12),
            ("二十", 20),
            ("二十三", 23),
            ("一百零五", 105),
            ("三百", 300),
            ("两千零一十", 2010),
            ("五零一", 501),
            ("一二", 12),
            ("零", 0),
        ];
        for (text, want) in cases {
            let chars: Vec<char> = text.chars().collect();
            assert_eq!(chinese_number(&chars), Some((want, chars.len())), "{text}");
        }
        let chars: Vec<char> = "十二号".chars().collect();
        assert_eq!(chinese_number(&chars), Some((12, 2)), "stops at the marker");
        for bad in ["十十", "号", "二三十"] {
            let chars: Vec<char> = bad.chars().collect();
            assert_eq!(chinese_number(&chars), None, "{bad} is not a numeral");
        }
    }

    #[test]
    fn arabic_aliases_leave_words_alone() {
        let a = |t: &str| s(&arabic_numerals(&t.chars().collect::<Vec<_>>()));
        assert_eq!(a("迎宾二路"), "迎宾2路");
        assert_eq!(a("五五路"), "55路");
        assert_eq!(a("克拉玛依市第二十六小学"), "克拉玛依市第26小学");
        assert_eq!(a("百花街"), "百花街", "a lone 百 is a word");
        assert_eq!(a("东方华庭二区"), "东方华庭2区");
    }
}
