//! Administrative and grid codes (after GB/T 30428.1 and GB/T 10114).
//!
//! A code alone tells its level and all its parents:
//!
//! | level       | digits | made of                                                        |
//! |-------------|--------|----------------------------------------------------------------|
//! | district    | 6      | GB/T 2260 county-level code, e.g. `650203`                      |
//! | subdistrict | 9      | district + `001`-`099` street, `100`-`199` town, `200`-`399` township |
//! | community   | 12     | subdistrict + `001`-`199` community, `200`-`399` village        |
//! | grid        | 14/15  | community + `01`-`99` (width 2, default) or `001`-`999` (width 3) |
//!
//! Parsing is strict: only ASCII digits, the exact length of a level, and in-range segments.
//! This module knows nothing of geometry, stores or HTTP.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The four levels of the administrative hierarchy, from the top down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    District,
    Subdistrict,
    Community,
    Grid,
}

impl Level {
    /// The English name used in URLs, layer names and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::District => "district",
            Level::Subdistrict => "subdistrict",
            Level::Community => "community",
            Level::Grid => "grid",
        }
    }

    /// The level directly below, if any.
    pub fn child(self) -> Option<Level> {
        match self {
            Level::District => Some(Level::Subdistrict),
            Level::Subdistrict => Some(Level::Community),
            Level::Community => Some(Level::Grid),
            Level::Grid => None,
        }
    }

    /// The level directly above, if any.
    pub fn parent(self) -> Option<Level> {
        match self {
            Level::District => None,
            Level::Subdistrict => Some(Level::District),
            Level::Community => Some(Level::Subdistrict),
            Level::Grid => Some(Level::Community),
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a string is not a valid code. Messages are written for a person to act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("code {0:?} must contain only the digits 0-9")]
    NotDigits(String),
    #[error("code {code:?} has {len} digits; expected 6 (district), 9 (subdistrict), 12 (community) or {grid} (grid)")]
    BadLength { code: String, len: usize, grid: usize },
    #[error("code {code:?}: district part {part:?} is not a GB/T 2260 county code (province 11-82, not ending in 00)")]
    BadDistrict { code: String, part: String },
    #[error(
        "code {code:?}: subdistrict part {part:?} must be 001-399 (001-099 street, 100-199 town, 200-399 township)"
    )]
    BadSubdistrict { code: String, part: String },
    #[error("code {code:?}: community part {part:?} must be 001-399 (001-199 community, 200-399 village)")]
    BadCommunity { code: String, part: String },
    #[error("code {code:?}: grid part {part:?} must be 1 to {max} and not zero")]
    BadGrid { code: String, part: String, max: u32 },
    #[error("grid number {number} does not fit a {width}-digit grid code (1..={max})")]
    GridNumberOutOfRange { number: u32, width: usize, max: u32 },
    #[error("code {code:?} is a {actual} code, expected a {expected} code")]
    WrongLevel { code: String, actual: Level, expected: Level },
}

/// How grid codes are written in a city: 2 digits (14-digit codes, the default) or 3 digits
/// (15-digit codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CodeScheme {
    grid_width: u8,
}

impl Default for CodeScheme {
    fn default() -> Self {
        CodeScheme { grid_width: 2 }
    }
}

impl CodeScheme {
    /// A scheme with the given grid-number width (2 or 3 digits).
    pub fn new(grid_width: u8) -> Option<Self> {
        matches!(grid_width, 2 | 3).then_some(CodeScheme { grid_width })
    }

    /// Number of digits of the grid part (2 or 3).
    pub fn grid_width(self) -> usize {
        self.grid_width as usize
    }

    /// Length of a full grid code under this scheme (14 or 15).
    pub fn grid_code_len(self) -> usize {
        12 + self.grid_width()
    }

    /// Largest grid number that fits (99 or 999).
    pub fn max_grid_number(self) -> u32 {
        if self.grid_width == 2 {
            99
        } else {
            999
        }
    }

    /// Parses a code of any level, rejecting grid codes of the other width.
    pub fn parse(self, s: &str) -> Result<Code, CodeError> {
        let code = Code::parse(s)?;
        if code.level() == Level::Grid && code.as_str().len() != self.grid_code_len() {
            return Err(CodeError::BadLength { code: s.to_string(), len: s.len(), grid: self.grid_code_len() });
        }
        Ok(code)
    }

    /// The code of grid number `number` (1-based) in `community`.
    pub fn grid_code(self, community: &Code, number: u32) -> Result<Code, CodeError> {
        if community.level() != Level::Community {
            return Err(CodeError::WrongLevel {
                code: community.to_string(),
                actual: community.level(),
                expected: Level::Community,
            });
        }
        if number == 0 || number > self.max_grid_number() {
            return Err(CodeError::GridNumberOutOfRange {
                number,
                width: self.grid_width(),
                max: self.max_grid_number(),
            });
        }
        let text = format!("{}{:0width$}", community.as_str(), number, width = self.grid_width());
        Ok(Code { text: text.into(), level: Level::Grid })
    }
}

/// A validated code of any level. Cheap to clone, ordered as strings (which is also
/// west-to-east/north-to-south numbering order within a parent).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Code {
    text: Box<str>,
    level: Level,
}

/// Kind of a subdistrict, from its 3-digit number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubdistrictKind {
    /// 街道, 001-099
    Street,
    /// 镇, 100-199
    Town,
    /// 乡, 200-399
    Township,
}

/// Kind of a community, from its 3-digit number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommunityKind {
    /// 社区, 001-199
    Community,
    /// 村, 200-399
    Village,
}

impl Code {
    /// Parses a code of any level; grid codes may have 14 or 15 digits.
    /// Use [`CodeScheme::parse`] to insist on one grid width.
    pub fn parse(s: &str) -> Result<Code, CodeError> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CodeError::NotDigits(s.to_string()));
        }
        let level = match s.len() {
            6 => Level::District,
            9 => Level::Subdistrict,
            12 => Level::Community,
            14 | 15 => Level::Grid,
            len => {
                return Err(CodeError::BadLength { code: s.to_string(), len, grid: 14 });
            }
        };
        let num = |range: std::ops::Range<usize>| -> u32 { s[range].parse().expect("checked digits") };
        // GB/T 2260: two-digit province 11..=82; the county part is never 00.
        let province = num(0..2);
        if !(11..=82).contains(&province) || &s[4..6] == "00" {
            return Err(CodeError::BadDistrict { code: s.to_string(), part: s[0..6].to_string() });
        }
        if s.len() >= 9 && !(1..=399).contains(&num(6..9)) {
            return Err(CodeError::BadSubdistrict { code: s.to_string(), part: s[6..9].to_string() });
        }
        if s.len() >= 12 && !(1..=399).contains(&num(9..12)) {
            return Err(CodeError::BadCommunity { code: s.to_string(), part: s[9..12].to_string() });
        }
        if s.len() >= 14 && num(12..s.len()) == 0 {
            let max = if s.len() == 14 { 99 } else { 999 };
            return Err(CodeError::BadGrid { code: s.to_string(), part: s[12..].to_string(), max });
        }
        Ok(Code { text: s.into(), level })
    }

    /// Parses and insists on one level.
    pub fn parse_level(s: &str, expected: Level) -> Result<Code, CodeError> {
        let code = Code::parse(s)?;
        if code.level != expected {
            return Err(CodeError::WrongLevel { code: s.to_string(), actual: code.level, expected });
        }
        Ok(code)
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn level(&self) -> Level {
        self.level
    }

    /// The code directly above (a grid's community, ...), or `None` for a district.
    pub fn parent(&self) -> Option<Code> {
        let (len, level) = match self.level {
            Level::District => return None,
            Level::Subdistrict => (6, Level::District),
            Level::Community => (9, Level::Subdistrict),
            Level::Grid => (12, Level::Community),
        };
        Some(Code { text: self.text[..len].into(), level })
    }

    /// The ancestor at `level` (itself when `level` is its own level), or `None` if `level` is below.
    pub fn ancestor(&self, level: Level) -> Option<Code> {
        let len = match level {
            Level::District => 6,
            Level::Subdistrict => 9,
            Level::Community => 12,
            Level::Grid => return (self.level == Level::Grid).then(|| self.clone()),
        };
        (self.text.len() >= len).then(|| Code { text: self.text[..len].into(), level })
    }

    /// True when `self` is `other` or lies below it (a grid is within its community, ...).
    pub fn is_within(&self, other: &Code) -> bool {
        self.level >= other.level && self.text.starts_with(&*other.text)
    }

    /// The district code (first 6 digits).
    pub fn district(&self) -> Code {
        self.ancestor(Level::District).expect("every code has a district")
    }

    /// The last segment as a number: the subdistrict number, community number or grid number.
    pub fn local_number(&self) -> u32 {
        let start = match self.level {
            Level::District => 0,
            Level::Subdistrict => 6,
            Level::Community => 9,
            Level::Grid => 12,
        };
        self.text[start..].parse().expect("validated digits")
    }

    /// 街道/镇/乡 for a subdistrict code.
    pub fn subdistrict_kind(&self) -> Option<SubdistrictKind> {
        let n = self.ancestor(Level::Subdistrict)?.local_number();
        Some(match n {
            1..=99 => SubdistrictKind::Street,
            100..=199 => SubdistrictKind::Town,
            _ => SubdistrictKind::Township,
        })
    }

    /// 社区/村 for a community (or grid) code.
    pub fn community_kind(&self) -> Option<CommunityKind> {
        let n = self.ancestor(Level::Community)?.local_number();
        Some(if n <= 199 { CommunityKind::Community } else { CommunityKind::Village })
    }

    /// The code of child number `number` one level down (subdistrict of a district, ...).
    /// Grid children use the given scheme's width.
    pub fn child(&self, number: u32, scheme: CodeScheme) -> Result<Code, CodeError> {
        match self.level {
            Level::Community => scheme.grid_code(self, number),
            Level::Grid => {
                Err(CodeError::WrongLevel { code: self.to_string(), actual: Level::Grid, expected: Level::Community })
            }
            _ => Code::parse(&format!("{}{:03}", self.text, number)),
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for Code {
    type Err = CodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Code::parse(s)
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Code::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_level_and_derives_parents() {
        let grid = Code::parse("65020300100103").unwrap();
        assert_eq!(grid.level(), Level::Grid);
        let community = grid.parent().unwrap();
        assert_eq!(community.as_str(), "650203001001");
        assert_eq!(community.level(), Level::Community);
        let sub = community.parent().unwrap();
        assert_eq!(sub.as_str(), "650203001");
        assert_eq!(sub.parent().unwrap().as_str(), "650203");
        assert_eq!(sub.parent().unwrap().parent(), None);
        assert!(grid.is_within(&sub));
        assert!(!sub.is_within(&grid));
        assert_eq!(grid.local_number(), 3);
    }

    #[test]
    fn round_trips_every_valid_code_shape() {
        let scheme2 = CodeScheme::default();
        let scheme3 = CodeScheme::new(3).unwrap();
        for sub in [1, 99, 100, 199, 200, 399] {
            for com in [1, 199, 200, 399] {
                let d = Code::parse("650203").unwrap();
                let s = d.child(sub, scheme2).unwrap();
                let c = s.child(com, scheme2).unwrap();
                for (scheme, n) in [(scheme2, 1), (scheme2, 99), (scheme3, 1), (scheme3, 999)] {
                    let g = c.child(n, scheme).unwrap();
                    let text = g.to_string();
                    assert_eq!(text.len(), scheme.grid_code_len());
                    let back = scheme.parse(&text).unwrap();
                    assert_eq!(back, g, "format then parse must give the same code");
                    assert_eq!(back.parent().unwrap(), c);
                    assert_eq!(back.local_number(), n);
                }
            }
        }
    }

    #[test]
    fn rejects_bad_codes_with_reasons() {
        assert!(matches!(Code::parse("65020a"), Err(CodeError::NotDigits(_))));
        assert!(matches!(Code::parse("６５０２０３"), Err(CodeError::NotDigits(_))));
        assert!(matches!(Code::parse("6502030"), Err(CodeError::BadLength { .. })));
        assert!(matches!(Code::parse("000203"), Err(CodeError::BadDistrict { .. })));
        assert!(matches!(Code::parse("650200"), Err(CodeError::BadDistrict { .. })));
        assert!(matches!(Code::parse("650203000"), Err(CodeError::BadSubdistrict { .. })));
        assert!(matches!(Code::parse("650203400"), Err(CodeError::BadSubdistrict { .. })));
        assert!(matches!(Code::parse("650203001000"), Err(CodeError::BadCommunity { .. })));
        assert!(matches!(Code::parse("65020300100100"), Err(CodeError::BadGrid { .. })));
        assert!(matches!(Code::parse(""), Err(CodeError::NotDigits(_))));
        // A 15-digit grid code is a valid code, but not in a 14-digit city.
        assert!(Code::parse("650203001001001").is_ok());
        assert!(CodeScheme::default().parse("650203001001001").is_err());
        assert!(CodeScheme::default().grid_code(&Code::parse("650203001001").unwrap(), 100).is_err());
    }

    #[test]
    fn kinds_follow_the_number_ranges() {
        let c = |s: &str| Code::parse(s).unwrap();
        assert_eq!(c("650203001").subdistrict_kind(), Some(SubdistrictKind::Street));
        assert_eq!(c("650203100").subdistrict_kind(), Some(SubdistrictKind::Town));
        assert_eq!(c("650203200").subdistrict_kind(), Some(SubdistrictKind::Township));
        assert_eq!(c("650203001199").community_kind(), Some(CommunityKind::Community));
        assert_eq!(c("65020300120001").community_kind(), Some(CommunityKind::Village));
        assert_eq!(c("650203").community_kind(), None);
    }
}
