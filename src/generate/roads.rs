//! Roads along lattice lines, their names, and door numbers.
//!
//! Every lattice edge is a road centreline (compounds are shrunk blocks, so the space between
//! them is street). Horizontal lattice lines are east-west roads; the vertical edges of
//! column `c` (which jog half a block every other row, as brick joints do) form north-south
//! road `c`. Every third line or column is a main road (路, 大道); the rest are streets (街)
//! and lanes (巷). Very long lines are cut into segments with their own names.
//!
//! Door numbers (门牌号) increase west→east on east-west roads and south→north on north-south
//! roads; odd numbers on the north and west sides, even numbers on the south and east sides.

use super::lattice::Block;
use super::names::chinese_number;

/// A side of a block (and of its compound): which hexagon edges it is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Side {
    Bottom,
    Right,
    Top,
    Left,
}

impl Side {
    pub const ALL: [Side; 4] = [Side::Bottom, Side::Right, Side::Top, Side::Left];

    /// Hexagon edges (`BL→BM`, `BM→BR`, `BR→TR`, `TR→TM`, `TM→TL`, `TL→BL` = 0..6) on this side.
    pub fn edges(self) -> &'static [usize] {
        match self {
            Side::Bottom => &[0, 1],
            Side::Right => &[2],
            Side::Top => &[3, 4],
            Side::Left => &[5],
        }
    }

    pub fn of_edge(e: usize) -> Side {
        match e {
            0 | 1 => Side::Bottom,
            2 => Side::Right,
            3 | 4 => Side::Top,
            _ => Side::Left,
        }
    }

    /// The compass word for a gate on this side: 南, 东, 北, 西.
    pub fn compass(self) -> &'static str {
        match self {
            Side::Bottom => "南",
            Side::Right => "东",
            Side::Top => "北",
            Side::Left => "西",
        }
    }
}

/// A named road (or one segment of a very long lattice line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Road {
    EastWest { line: u32, seg: u32 },
    NorthSouth { col: u32, seg: u32 },
}

const EW_MAIN: &[&str] = &[
    "准噶尔路",
    "友谊路",
    "昆仑路",
    "天山路",
    "胜利路",
    "南新路",
    "油建路",
    "长征路",
    "北新路",
    "朝阳路",
    "阿山路",
    "跃进路",
    "红星路",
    "和平路",
    "解放路",
    "光明路",
    "幸福路",
    "团结路",
    "建设路",
    "新华路",
];
const EW_MINOR: &[&str] = &[
    "石化街",
    "文化街",
    "民生街",
    "育才街",
    "东风街",
    "红旗街",
    "青年街",
    "南湖街",
    "白杨街",
    "胡杨街",
    "红柳街",
    "雪莲街",
    "金龙街",
    "油城街",
    "翠园街",
    "百花街",
    "丽水街",
    "永安街",
    "兴业街",
    "康乐街",
    "福寿街",
    "安居街",
    "惠民街",
    "长青街",
    "绿洲街",
    "星光街",
    "明珠街",
    "祥和街",
    "荣华街",
    "春晖街",
    "和顺街",
    "阳光街",
    "青松街",
    "白桦街",
    "银杏街",
    "枫林街",
    "金桥街",
    "天池街",
];
const NS_MAIN: &[&str] = &[
    "迎宾路",
    "世纪大道",
    "塔河路",
    "西环路",
    "东环路",
    "克拉玛依大道",
    "黑油山路",
    "白碱滩路",
    "百口泉路",
    "乌尔禾路",
    "九龙潭路",
    "银河路",
    "五五路",
    "碧水路",
    "金龙路",
    "红山路",
];
const NS_MINOR: &[&str] = &[
    "槐树巷",
    "榆树巷",
    "柳树巷",
    "杨树巷",
    "松树巷",
    "桃园巷",
    "梨园巷",
    "杏园巷",
    "葡萄巷",
    "石榴巷",
    "枣园巷",
    "桑园巷",
    "竹林巷",
    "梧桐巷",
    "丁香巷",
    "玫瑰巷",
    "月季巷",
    "牡丹巷",
    "海棠巷",
    "紫薇巷",
    "兰花巷",
    "菊花巷",
    "荷花巷",
    "芙蓉巷",
    "茉莉巷",
    "百合巷",
    "蔷薇巷",
    "樱桃巷",
    "苹果巷",
    "沙枣巷",
];

/// Lattice lines per east-west segment name and rows per north-south segment name
/// (about 12 km and 10.5 km): one name per line in a city the size of Karamay.
const SEG_HALF_BLOCKS: u32 = 160;
const SEG_ROWS: u32 = 96;

/// Entry `i` of a pool of full road names, with an ordinal before the suffix once the pool is
/// used up: 准噶尔路 → 准噶尔二路, 世纪大道 → 世纪二大道.
fn road_name(pool: &[&str], i: usize) -> String {
    let full = pool[i % pool.len()];
    let round = i / pool.len();
    if round == 0 {
        return full.to_string();
    }
    let suffix_len = if full.ends_with("大道") { 2 } else { 1 };
    let split = full.char_indices().rev().nth(suffix_len - 1).map_or(0, |(at, _)| at);
    format!("{}{}{}", &full[..split], chinese_number(round + 1), &full[split..])
}

/// The road network of one lattice: which road each block side faces, names and numbering.
pub(crate) struct Roads {
    imin: u32,
    jmin: u32,
    lines_per_seg_name: usize,
    cols_per_seg_name: usize,
}

impl Roads {
    /// `(imin, imax, jmin, jmax)`: the lattice cells the district uses.
    pub fn new(extent: (u32, u32, u32, u32)) -> Roads {
        let (imin, imax, jmin, jmax) = extent;
        Roads {
            imin,
            jmin,
            lines_per_seg_name: (jmax - jmin + 2) as usize,
            cols_per_seg_name: (imax - imin + 2) as usize,
        }
    }

    /// The road a block side faces, and whether the block is on its odd-numbered side.
    pub fn road_of(&self, blk: &Block, side: Side) -> (Road, bool) {
        let ew_seg = (blk.k0().saturating_sub(2 * self.imin)) / SEG_HALF_BLOCKS;
        let ns_seg = (blk.j - self.jmin) / SEG_ROWS;
        match side {
            Side::Bottom => (Road::EastWest { line: blk.j - self.jmin, seg: ew_seg }, true),
            Side::Top => (Road::EastWest { line: blk.j + 1 - self.jmin, seg: ew_seg }, false),
            Side::Left => (Road::NorthSouth { col: blk.i - self.imin, seg: ns_seg }, false),
            Side::Right => (Road::NorthSouth { col: blk.i + 1 - self.imin, seg: ns_seg }, true),
        }
    }

    /// Main roads (路, 大道) are every third line or column.
    pub fn is_main(road: Road) -> bool {
        match road {
            Road::EastWest { line, .. } => line % 3 == 0,
            Road::NorthSouth { col, .. } => col % 3 == 0,
        }
    }

    pub fn name(&self, road: Road) -> String {
        let (idx, seg, per_seg, main_pool, minor_pool) = match road {
            Road::EastWest { line, seg } => (line as usize, seg as usize, self.lines_per_seg_name, EW_MAIN, EW_MINOR),
            Road::NorthSouth { col, seg } => (col as usize, seg as usize, self.cols_per_seg_name, NS_MAIN, NS_MINOR),
        };
        let mains_per_seg = per_seg.div_ceil(3);
        if idx % 3 == 0 {
            road_name(main_pool, idx / 3 + seg * mains_per_seg)
        } else {
            road_name(minor_pool, 2 * (idx / 3) + idx % 3 - 1 + seg * 2 * mains_per_seg)
        }
    }

    /// Position along a road of a point (local metres) for ordering door numbers.
    pub fn position(road: Road, p: [f64; 2]) -> f64 {
        match road {
            Road::EastWest { .. } => p[0],
            Road::NorthSouth { .. } => p[1],
        }
    }
}

/// Collects who needs a door number where, then numbers every road side in order.
#[derive(Default)]
pub(crate) struct DoorNumbers {
    claims: Vec<(Road, bool, f64, usize)>,
}

impl DoorNumbers {
    /// Claims a number for `claimant` on `road` (odd side if `odd`) at `position` metres.
    pub fn claim(&mut self, road: Road, odd: bool, position: f64, claimant: usize) {
        self.claims.push((road, odd, position, claimant));
    }

    /// Door numbers, indexed by claimant (`claimants` is one more than the largest claimant).
    pub fn assign(mut self, claimants: usize) -> Vec<u32> {
        self.claims.sort_by(|a, b| (a.0, !a.1).cmp(&(b.0, !b.1)).then(a.2.total_cmp(&b.2)).then(a.3.cmp(&b.3)));
        let mut out = vec![0; claimants];
        let mut run = 0u32;
        for (n, c) in self.claims.iter().enumerate() {
            if n == 0 || (self.claims[n - 1].0, self.claims[n - 1].1) != (c.0, c.1) {
                run = 0;
            }
            out[c.3] = 2 * run + if c.1 { 1 } else { 2 };
            run += 1;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_extend_with_ordinals() {
        assert_eq!(road_name(EW_MAIN, 0), "准噶尔路");
        assert_eq!(road_name(EW_MAIN, EW_MAIN.len()), "准噶尔二路");
        assert_eq!(road_name(NS_MAIN, NS_MAIN.len() + 1), "世纪二大道");
    }

    #[test]
    fn door_numbers_are_odd_on_one_side_and_increase_along_the_road() {
        let road = Road::EastWest { line: 3, seg: 0 };
        let other = Road::NorthSouth { col: 1, seg: 0 };
        let mut d = DoorNumbers::default();
        d.claim(road, true, 50.0, 0);
        d.claim(road, true, -20.0, 1);
        d.claim(road, false, 10.0, 2);
        d.claim(other, false, 0.0, 3);
        d.claim(road, false, -5.0, 4);
        assert_eq!(d.assign(5), vec![3, 1, 4, 2, 2]);
    }
}
