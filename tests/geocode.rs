//! Address lookup: measured accuracy on an evaluation set drawn from the data, and the geocode
//! and reverse routes in-process (no socket).
//!
//! The evaluation set writes every building's standard address in the ways people write it
//! (see [`Variant`]) and adds addresses that do not exist. The generator here is written apart
//! from the parser (its own numerals, typos and spacing), so the figures measure the parser,
//! not its reflection. Print the figures with
//! `cargo test --release --test geocode accuracy -- --nocapture` (docs/geocode.md).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use gridmap::address::{Candidate, MatchLevel, CONFIDENT_SCORE};
use gridmap::api::{router, ApiConfig, AppState};
use gridmap::index::{Live, Snapshot};
use gridmap::model::Dataset;
use gridmap::store::gpkg::GpkgStore;
use http_body_util::BodyExt;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use tower::ServiceExt;

// ---------------------------------------------------------------------------------------------
// The evaluation set

/// How an address is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Variant {
    /// As in the data: 克拉玛依区准噶尔路58号阳光小区3栋.
    Standard,
    /// Without the district: 准噶尔路58号阳光小区3栋.
    NoPrefix,
    /// With province and city: 新疆维吾尔自治区克拉玛依市克拉玛依区...
    FullPrefix,
    /// 准噶尔路五十八号阳光小区三栋.
    ChineseNumerals,
    /// 准噶尔路５８号阳光小区３栋.
    FullWidth,
    /// With unit and room, in one of the usual forms (3栋2单元501室, 3-2-501, 3号楼2单元501).
    UnitRoom,
    /// The road without 路/街/巷/大道.
    RoadNoType,
    /// The compound name and building only: 阳光小区3栋.
    CompoundOnly,
    /// One character of the road or compound name wrong, missing or extra.
    Typo,
    /// Extra spaces and punctuation.
    SpacesPunctuation,
    // Addresses that do not exist: a confident answer is a false match.
    /// A road that does not exist (two or more edits from every known name).
    FakeRoad,
    /// A compound that does not exist (two or more edits from every known name).
    FakeCompound,
    /// A real road with a door number far beyond its last.
    DoorOutOfRange,
    /// A real compound with a building number it does not have.
    BuildingOutOfRange,
    /// A real road and door under another city's prefix.
    OtherCity,
    /// A real road and door with a real compound that stands elsewhere.
    RoadCompoundMismatch,
    /// A road that does not exist but is one edit from a real one (reported, not asserted:
    /// indistinguishable from a typo).
    FakeRoadOneEdit,
    /// A compound that does not exist but is one edit from a real one (reported, not asserted).
    FakeCompoundOneEdit,
}

impl Variant {
    /// Unknown addresses one edit from a real name: a typo of it, as far as text can tell.
    fn is_one_edit(self) -> bool {
        matches!(self, Variant::FakeRoadOneEdit | Variant::FakeCompoundOneEdit)
    }
}

impl Variant {
    fn is_unknown(self) -> bool {
        self >= Variant::FakeRoad
    }
    fn is_standard(self) -> bool {
        matches!(self, Variant::Standard | Variant::NoPrefix | Variant::FullPrefix)
    }
}

/// What a query should find.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    Building(usize),
    Entrance(usize),
    Nothing,
}

#[derive(Debug, Clone)]
struct Case {
    variant: Variant,
    query: String,
    expect: Expect,
}

/// Chinese numerals as people write them: 十二, 二十三, 一百零五, 一百一十.
fn chinese(n: u32) -> String {
    const D: [&str; 10] = ["零", "一", "二", "三", "四", "五", "六", "七", "八", "九"];
    match n {
        0..=9 => D[n as usize].to_string(),
        10..=19 => format!("十{}", if n % 10 == 0 { "" } else { D[(n % 10) as usize] }),
        20..=99 => format!("{}十{}", D[(n / 10) as usize], if n % 10 == 0 { "" } else { D[(n % 10) as usize] }),
        _ => {
            let rest = n % 100;
            let tail = match rest {
                0 => String::new(),
                1..=9 => format!("零{}", D[rest as usize]),
                10..=19 => format!("一{}", chinese(rest)),
                _ => chinese(rest),
            };
            format!("{}百{tail}", D[(n / 100) as usize])
        }
    }
}

fn full_width(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_digit() { char::from_u32(c as u32 + 0xfee0).unwrap() } else { c }).collect()
}

fn road_without_type(road: &str) -> Option<&str> {
    let core = ["大道", "路", "街", "巷"].iter().find_map(|s| road.strip_suffix(s))?;
    (core.chars().count() >= 2 && !core.chars().all(|c| "零一二三四五六七八九十".contains(c))).then_some(core)
}

fn edits_within_one(a: &[char], b: &[char]) -> bool {
    let (s, l) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    match l.len() - s.len() {
        0 => a.iter().zip(b).filter(|(x, y)| x != y).count() <= 1,
        1 => {
            let i = s.iter().zip(l).take_while(|(x, y)| x == y).count();
            s[i..] == l[i + 1..]
        }
        _ => false,
    }
}

/// Every name the data holds (and the road names without their type), as char vectors.
fn known_names(data: &Dataset) -> Vec<Vec<char>> {
    let mut set: HashSet<String> = HashSet::new();
    for b in &data.buildings {
        set.insert(b.address.road.clone());
        if let Some(core) = road_without_type(&b.address.road) {
            set.insert(core.to_string());
        }
    }
    for c in &data.compounds {
        set.insert(c.name.clone());
    }
    for r in data.communities.iter().chain(&data.subdistricts) {
        set.insert(r.name.clone());
    }
    set.insert(data.district.name.clone());
    let mut v: Vec<Vec<char>> = set.into_iter().map(|s| s.chars().collect()).collect();
    v.sort();
    v
}

/// One character changed, dropped or added somewhere in `name`, giving a name that is not
/// itself known.
fn typo(name: &str, pool: &[char], known: &HashSet<Vec<char>>, rng: &mut ChaCha8Rng) -> Option<String> {
    let chars: Vec<char> = name.chars().collect();
    for _ in 0..20 {
        let mut t = chars.clone();
        let i = rng.random_range(0..t.len());
        match rng.random_range(0..10) {
            0..=5 => t[i] = *pool.choose(rng)?,
            6..=7 if t.len() > 3 => {
                t.remove(i);
            }
            _ => t.insert(i, *pool.choose(rng)?),
        }
        if t != chars && !known.contains(&t) {
            return Some(t.into_iter().collect());
        }
    }
    None
}

/// A name of two pool characters and `suffix`, two or more edits from every known name when
/// `far`, exactly one edit from some known name otherwise.
fn fake_name(suffixes: &[&str], pool: &[char], known: &[Vec<char>], far: bool, rng: &mut ChaCha8Rng) -> String {
    loop {
        let suffix = suffixes.choose(rng).unwrap();
        let name: String = format!("{}{}{suffix}", pool.choose(rng).unwrap(), pool.choose(rng).unwrap());
        let chars: Vec<char> = name.chars().collect();
        if known.contains(&chars) {
            continue;
        }
        let near = known.iter().any(|k| edits_within_one(k, &chars));
        if near != far {
            return name;
        }
    }
}

/// Joins the parts of an address with random spaces and punctuation, as typed by hand.
fn sprinkle(parts: &[String], rng: &mut ChaCha8Rng) -> String {
    const SEPS: [&str; 8] = [" ", "  ", "，", ",", "、", " , ", "　", "（"];
    let mut out = String::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 || rng.random_bool(0.3) {
            out.push_str(SEPS.choose(rng).unwrap());
        }
        out.push_str(p);
    }
    if rng.random_bool(0.5) {
        out.push_str([" ", "。", "）", "!"].choose(rng).unwrap());
    }
    out
}

/// The evaluation set: every building in every variant that applies, then the unknown
/// addresses. Fixed seed.
fn evaluation_set(data: &Dataset) -> Vec<Case> {
    let mut rng = ChaCha8Rng::seed_from_u64(20_260_101);
    let district = &data.district.name;
    let prefix = &data.district.prefix;
    let names = known_names(data);
    let known: HashSet<Vec<char>> = names.iter().cloned().collect();
    let mut pool: Vec<char> = names.iter().flatten().copied().collect::<HashSet<_>>().into_iter().collect();
    pool.sort();
    let entrance_of = |b: u32, unit: u32| data.entrances.iter().position(|e| e.building_id == b && e.unit == unit);
    let mut cases = Vec::new();
    let mut push = |variant, query: String, expect| cases.push(Case { variant, query, expect });
    for (bi, b) in data.buildings.iter().enumerate() {
        let a = &b.address;
        let road = a.road.as_str();
        let door = a.door_number;
        let tail = |door: &str, building: &str| match (&a.compound, a.building_number) {
            (Some(c), Some(n)) => format!("{door}号{c}{}栋", building.replace('N', &n.to_string())),
            (Some(c), None) => format!("{door}号{c}"),
            _ => format!("{door}号"),
        };
        let plain = format!("{road}{}", tail(&door.to_string(), "N"));
        let exp = Expect::Building(bi);
        push(Variant::Standard, b.address_text.clone(), exp);
        push(Variant::NoPrefix, plain.clone(), exp);
        push(Variant::FullPrefix, format!("{prefix}{}", b.address_text), exp);
        let cn = match (&a.compound, a.building_number) {
            (Some(c), Some(n)) => format!("{road}{}号{c}{}栋", chinese(door), chinese(n)),
            _ => format!("{road}{}号", chinese(door)),
        };
        push(Variant::ChineseNumerals, format!("{district}{cn}"), exp);
        push(Variant::FullWidth, full_width(&b.address_text), exp);
        let unit = rng.random_range(1..=b.units.max(1));
        let room = rng.random_range(1..=b.floors.max(1)) * 100 + rng.random_range(1..=2);
        if let Some(e) = entrance_of(b.id, unit) {
            let q = match (&a.compound, a.building_number) {
                (Some(c), Some(n)) => match rng.random_range(0..3) {
                    0 => format!("{road}{door}号{c}{n}栋{unit}单元{room}室"),
                    1 => format!("{c}{n}-{unit}-{room}"),
                    _ => format!("{district}{road}{door}号{c}{n}号楼{unit}单元{room}"),
                },
                _ => format!("{district}{road}{door}号{unit}单元{room}室"),
            };
            push(Variant::UnitRoom, q, Expect::Entrance(e));
        }
        if let Some(core) = road_without_type(road) {
            push(Variant::RoadNoType, format!("{core}{}", tail(&door.to_string(), "N")), exp);
        }
        if let (Some(c), Some(n)) = (&a.compound, a.building_number) {
            let q = if rng.random_bool(0.5) { format!("{c}{n}栋") } else { format!("{district}{c}{n}号楼") };
            push(Variant::CompoundOnly, q, exp);
        }
        let typo_in_compound = a.compound.is_some() && rng.random_bool(0.5);
        let q = if typo_in_compound {
            let c = a.compound.as_deref().unwrap_or_default();
            typo(c, &pool, &known, &mut rng).map(|t| b.address_text.replacen(c, &t, 1))
        } else {
            typo(road, &pool, &known, &mut rng).map(|t| b.address_text.replacen(road, &t, 1))
        };
        if let Some(q) = q {
            push(Variant::Typo, q, exp);
        }
        let mut parts = vec![district.to_string(), road.to_string(), format!("{door} 号")];
        if let Some(c) = &a.compound {
            parts.push(c.clone());
        }
        if let Some(n) = a.building_number {
            parts.push(format!("{n} 栋"));
        }
        push(Variant::SpacesPunctuation, sprinkle(&parts, &mut rng), exp);
    }

    // Addresses that do not exist.
    let mut last_door: BTreeMap<&str, u32> = BTreeMap::new();
    for b in &data.buildings {
        let d = last_door.entry(b.address.road.as_str()).or_default();
        *d = (*d).max(b.address.door_number);
    }
    let roads: Vec<(&str, u32)> = last_door.into_iter().collect();
    let compounds: Vec<&gridmap::model::Compound> = data.compounds.iter().collect();
    for _ in 0..1000 {
        let fake = fake_name(&["路", "街", "巷", "大道"], &pool, &names, true, &mut rng);
        let door = rng.random_range(1..120);
        let q = match rng.random_range(0..3) {
            0 => format!("{fake}{door}号"),
            1 => format!("{district}{fake}{door}号"),
            _ => format!(
                "{district}{fake}{door}号{}{}栋",
                compounds.choose(&mut rng).unwrap().name,
                rng.random_range(1..5)
            ),
        };
        // The last form names a real compound on another road: it must not be confident
        // either, since the road contradicts it.
        push(Variant::FakeRoad, q, Expect::Nothing);
        let fake = fake_name(&["小区", "花园", "家园", "公寓", "新村", "雅居"], &pool, &names, true, &mut rng);
        let q = match rng.random_range(0..2) {
            0 => format!("{fake}{}栋", rng.random_range(1..8)),
            _ => format!("{district}{fake}{}号楼{}单元", rng.random_range(1..8), rng.random_range(1..4)),
        };
        push(Variant::FakeCompound, q, Expect::Nothing);
        let (road, last) = *roads.choose(&mut rng).unwrap();
        push(
            Variant::DoorOutOfRange,
            format!("{district}{road}{}号", last + rng.random_range(100..1000)),
            Expect::Nothing,
        );
        let c = compounds.choose(&mut rng).unwrap();
        let most = data.buildings.iter().filter(|b| b.compound_id == Some(c.id)).count() as u32;
        push(Variant::BuildingOutOfRange, format!("{}{}栋", c.name, most + rng.random_range(10..60)), Expect::Nothing);
        let b = data.buildings.choose(&mut rng).unwrap();
        let other = ["广东省深圳市南山区", "北京市朝阳区", "四川省成都市武侯区", "新疆维吾尔自治区乌鲁木齐市天山区"]
            .choose(&mut rng)
            .unwrap();
        push(Variant::OtherCity, format!("{other}{}{}号", b.address.road, b.address.door_number), Expect::Nothing);
        let (b, c) = (data.buildings.choose(&mut rng).unwrap(), compounds.choose(&mut rng).unwrap());
        if b.compound_id != Some(c.id) {
            let q = format!(
                "{district}{}{}号{}{}栋",
                b.address.road,
                b.address.door_number,
                c.name,
                rng.random_range(1..4)
            );
            push(Variant::RoadCompoundMismatch, q, Expect::Nothing);
        }
        let fake = fake_name(&["路", "街"], &pool, &names, false, &mut rng);
        push(Variant::FakeRoadOneEdit, format!("{district}{fake}{}号", rng.random_range(1..120)), Expect::Nothing);
        let fake = fake_name(&["小区", "花园", "家园", "公寓", "新村", "雅居"], &pool, &names, false, &mut rng);
        push(Variant::FakeCompoundOneEdit, format!("{fake}{}栋", rng.random_range(1..5)), Expect::Nothing);
    }
    cases
}

#[derive(Default, Debug)]
struct Tally {
    n: usize,
    correct: usize,
    correct_confident: usize,
    wrong_confident: usize,
}

fn is_correct(c: Option<&Candidate>, expect: Expect) -> bool {
    match (c, expect) {
        (Some(c), Expect::Building(b)) => c.building == Some(b) && c.level == MatchLevel::Building,
        (Some(c), Expect::Entrance(e)) => c.entrance == Some(e),
        _ => false,
    }
}

fn measure(snap: &Snapshot, cases: &[Case]) -> BTreeMap<Variant, (Tally, Vec<String>)> {
    let mut out: BTreeMap<Variant, (Tally, Vec<String>)> = BTreeMap::new();
    for case in cases {
        let got = snap.gazetteer.geocode(&snap.data, &case.query, 3);
        let top = got.first();
        let confident = top.is_some_and(|c| c.score >= CONFIDENT_SCORE);
        let (t, failures) = out.entry(case.variant).or_default();
        t.n += 1;
        let ok = is_correct(top, case.expect);
        t.correct += ok as usize;
        t.correct_confident += (ok && confident) as usize;
        t.wrong_confident += (!ok && confident) as usize;
        if (!ok && case.expect != Expect::Nothing) || (confident && case.expect == Expect::Nothing) {
            let got = top.map_or("nothing".to_string(), |c| {
                let conf = if confident { ", confident" } else { "" };
                format!("{} ({:?}, {}{conf})", c.address(&snap.gazetteer, &snap.data), c.level, c.score)
            });
            let want = match case.expect {
                Expect::Building(b) => snap.data.buildings[b].address_text.clone(),
                Expect::Entrance(e) => format!("entrance {}", snap.data.entrances[e].id),
                Expect::Nothing => "nothing".into(),
            };
            failures.push(format!("{:?} → {got}, want {want}", case.query));
        }
    }
    out
}

fn pct(a: usize, n: usize) -> f64 {
    100.0 * a as f64 / n.max(1) as f64
}

#[test]
fn accuracy_on_an_evaluation_set_drawn_from_the_data() {
    let data = gridmap::store::seed::karamay().unwrap();
    let snap = Snapshot::build(data, 1).unwrap();
    let cases = evaluation_set(&snap.data);
    let t0 = std::time::Instant::now();
    let results = measure(&snap, &cases);
    let elapsed = t0.elapsed();
    println!(
        "\nevaluation set: {} queries over {} buildings, {:.1} µs a query ({} build)",
        cases.len(),
        snap.data.buildings.len(),
        elapsed.as_secs_f64() * 1e6 / cases.len() as f64,
        if cfg!(debug_assertions) { "debug" } else { "release" }
    );
    println!("| variant | queries | top-1 | top-1 and confident | confident but wrong |");
    println!("|---|---:|---:|---:|---:|");
    let (mut std, mut var) = (Tally::default(), Tally::default());
    let (mut unknown_n, mut unknown_confident) = (0, 0);
    for (v, (t, failures)) in &results {
        if v.is_unknown() {
            println!("| {v:?} | {} | | | {:.2} % |", t.n, pct(t.wrong_confident, t.n));
            if !v.is_one_edit() {
                unknown_n += t.n;
                unknown_confident += t.wrong_confident;
            }
        } else {
            println!(
                "| {v:?} | {} | {:.2} % | {:.2} % | {:.2} % |",
                t.n,
                pct(t.correct, t.n),
                pct(t.correct_confident, t.n),
                pct(t.wrong_confident, t.n)
            );
            let sum = if v.is_standard() { &mut std } else { &mut var };
            sum.n += t.n;
            sum.correct += t.correct;
            sum.correct_confident += t.correct_confident;
            sum.wrong_confident += t.wrong_confident;
        }
        // Confident wrong answers first: they are the ones that matter.
        let mut failures = failures.clone();
        failures.sort_by_key(|f| !f.contains("confident"));
        for f in failures.iter().take(4) {
            eprintln!("    {v:?}: {f}");
        }
    }
    println!(
        "| **standard forms** | {} | {:.2} % | {:.2} % | {:.2} % |",
        std.n,
        pct(std.correct, std.n),
        pct(std.correct_confident, std.n),
        pct(std.wrong_confident, std.n)
    );
    println!(
        "| **variants** | {} | {:.2} % | {:.2} % | {:.2} % |",
        var.n,
        pct(var.correct, var.n),
        pct(var.correct_confident, var.n),
        pct(var.wrong_confident, var.n)
    );
    println!(
        "| **unknown addresses** (without the one-edit fakes) | {unknown_n} | | | {:.2} % |",
        pct(unknown_confident, unknown_n)
    );
    assert!(pct(std.correct, std.n) >= 99.0, "top-1 on standard forms must be at least 99 %");
    assert!(pct(var.correct, var.n) >= 95.0, "top-1 on the variants must be at least 95 %");
    assert!(
        pct(unknown_confident, unknown_n) < 1.0,
        "addresses that do not exist must almost never match with a score ≥ {CONFIDENT_SCORE}"
    );
}

// ---------------------------------------------------------------------------------------------
// The routes, in-process

struct App {
    router: Router,
    snap: Arc<Snapshot>,
    _dir: tempfile::TempDir,
}

async fn app() -> App {
    let dir = tempfile::tempdir().unwrap();
    let store = GpkgStore::open_or_seed(&dir.path().join("t.gpkg"), gridmap::store::seed::karamay).await.unwrap();
    let data = gridmap::store::Store::load(&store).await.unwrap();
    let live = Live::new(Snapshot::build(data, 1).unwrap());
    let snap = live.load();
    App { router: router(AppState::new(live, Arc::new(store), ApiConfig::default())), snap, _dir: dir }
}

struct Reply {
    status: StatusCode,
    content_type: String,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        assert_eq!(self.status, 200, "body: {}", String::from_utf8_lossy(&self.body));
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// Asserts an RFC 9457 problem with this status; returns its detail.
    fn problem(&self, status: u16) -> String {
        assert_eq!(self.status.as_u16(), status, "body: {}", String::from_utf8_lossy(&self.body));
        assert_eq!(self.content_type, "application/problem+json");
        let v: Value = serde_json::from_slice(&self.body).unwrap();
        assert_eq!(v["status"], status);
        let detail = v["detail"].as_str().unwrap().to_string();
        assert!(detail.len() > 10, "a person needs a real message, got {detail:?}");
        detail
    }
}

async fn send(app: &App, req: Request<Body>) -> Reply {
    let resp = app.router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let content_type =
        resp.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let body = resp.into_body().collect().await.unwrap().to_bytes().to_vec();
    Reply { status, content_type, body }
}

/// Percent-encodes a query value (the test client sends raw URIs).
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

async fn get(app: &App, uri: &str) -> Reply {
    send(app, Request::get(uri).body(Body::empty()).unwrap()).await
}

async fn post(app: &App, uri: &str, content_type: &str, body: impl Into<Body>) -> Reply {
    send(app, Request::post(uri).header(header::CONTENT_TYPE, content_type).body(body.into()).unwrap()).await
}

/// A building in a compound with at least two units, and its entrance of unit 2.
fn building_with_units(snap: &Snapshot) -> (usize, usize) {
    let b = snap.data.buildings.iter().position(|b| b.compound_id.is_some() && b.units >= 2).unwrap();
    let id = snap.data.buildings[b].id;
    let e = snap.data.entrances.iter().position(|e| e.building_id == id && e.unit == 2).unwrap();
    (b, e)
}

/// The grid whose polygon holds most of the building: the one a correct answer names.
fn grid_of_building(snap: &Snapshot, b: usize) -> String {
    use geo::Centroid;
    let p = snap.data.buildings[b].geometry.centroid().unwrap();
    snap.data.grids[snap.locate(p.x(), p.y()).unwrap().grid].code.to_string()
}

#[tokio::test]
async fn geocode_a_unit_gives_its_entrance_and_the_grid_of_the_building() {
    let app = app().await;
    let (b, e) = building_with_units(&app.snap);
    let building = &app.snap.data.buildings[b];
    let entrance = &app.snap.data.entrances[e];
    let a = &building.address;
    let q = format!(
        "{}{}号{}{}号楼2单元501",
        a.road,
        a.door_number,
        a.compound.as_ref().unwrap(),
        a.building_number.unwrap()
    );
    let v = get(&app, &format!("/api/geocode?q={}", enc(&q))).await.json();
    let top = &v["candidates"][0];
    assert_eq!(top["level"], "entrance");
    assert_eq!(top["building_id"], building.id);
    assert_eq!(top["entrance_id"], entrance.id);
    assert_eq!(top["address"], format!("{}2单元", building.address_text));
    assert!((top["lon"].as_f64().unwrap() - entrance.location.x()).abs() < 1e-6, "the point is the entrance");
    assert!((top["lat"].as_f64().unwrap() - entrance.location.y()).abs() < 1e-6);
    assert_eq!(top["grid"], grid_of_building(&app.snap, b));
    assert!(top["score"].as_f64().unwrap() >= f64::from(CONFIDENT_SCORE));
    assert_eq!(v["parsed"]["unit"], 2);
    assert_eq!(v["parsed"]["room"], 501);
    assert_eq!(v["parsed"]["road"], a.road.as_str());
}

#[tokio::test]
async fn geocode_ranks_and_limits_candidates() {
    let app = app().await;
    // A road alone: one road-level candidate.
    let road = &app.snap.data.buildings[0].address.road;
    let v = get(&app, &format!("/api/geocode?q={}", enc(road))).await.json();
    assert_eq!(v["candidates"][0]["level"], "road");
    // A compound alone, with a typo: the compound, not confident about a building.
    let c = app.snap.data.compounds.iter().find(|c| c.name.chars().count() >= 5).unwrap();
    let v = get(&app, &format!("/api/geocode?q={}&limit=3", enc(&c.name))).await.json();
    let cands = v["candidates"].as_array().unwrap();
    assert!(!cands.is_empty() && cands.len() <= 3);
    assert!(cands[0]["address"].as_str().unwrap().contains(&c.name), "{cands:?}");
    let scores: Vec<f64> = cands.iter().map(|c| c["score"].as_f64().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "ranked best first: {scores:?}");
    // Nothing known: no candidates, not an error.
    let v = get(&app, &format!("/api/geocode?q={}", enc("火星基地路1号"))).await.json();
    assert!(v["candidates"].as_array().unwrap().iter().all(|c| c["score"].as_f64().unwrap() < 0.8), "{v}");
}

#[tokio::test]
async fn geocode_rejects_bad_input_with_problems() {
    let app = app().await;
    assert!(get(&app, "/api/geocode").await.problem(400).contains("`q`"));
    assert!(get(&app, "/api/geocode?q=").await.problem(400).contains("empty"));
    assert!(get(&app, "/api/geocode?q=%20%20").await.problem(400).contains("empty"));
    let long = "路".repeat(201);
    assert!(get(&app, &format!("/api/geocode?q={}", enc(&long))).await.problem(400).contains("200"));
    let ok = "路".repeat(200);
    assert_eq!(get(&app, &format!("/api/geocode?q={}", enc(&ok))).await.status, 200, "200 characters are allowed");
    get(&app, "/api/geocode?q=a&limit=0").await.problem(400);
    get(&app, "/api/geocode?q=a&limit=21").await.problem(400);
    get(&app, "/api/geocode?q=a&limit=x").await.problem(400);
    assert!(get(&app, "/api/geocode?address=a").await.problem(400).contains("address"));
}

#[tokio::test]
async fn geocode_batch_json_answers_in_order_with_errors_in_their_slots() {
    let app = app().await;
    let b = &app.snap.data.buildings[5];
    let body =
        json!({"addresses": [b.address_text, 42, "", "火星基地路1号", "路".repeat(201), full_width(&b.address_text)]});
    let r = post(&app, "/api/geocode", "application/json", body.to_string()).await;
    let results = r.json()["results"].as_array().unwrap().clone();
    assert_eq!(results.len(), 6);
    assert_eq!(results[0]["building_id"], b.id);
    assert_eq!(results[0]["level"], "building");
    assert!(results[0]["grid"].is_string());
    assert!(results[1]["error"].as_str().unwrap().contains("number"));
    assert!(results[2]["error"].as_str().unwrap().contains("empty"));
    assert!(results[3].get("error").is_none(), "an unknown address is not an error");
    assert!(results[3]["score"].is_null() || results[3]["score"].as_f64().unwrap() < 0.8);
    assert!(results[4]["error"].as_str().unwrap().contains("200"));
    assert!(results[4]["building_id"].is_null());
    assert_eq!(results[5]["building_id"], b.id);
}

#[tokio::test]
async fn geocode_batch_csv_in_csv_out() {
    let app = app().await;
    let (b1, b2) = (&app.snap.data.buildings[1], &app.snap.data.buildings[2]);
    let body = format!("address\n{}\n\n\"{}\"\n不存在\n", b1.address_text, b2.address_text);
    let r = post(&app, "/api/geocode", "text/csv", body).await;
    assert_eq!(r.status, 200);
    assert!(r.content_type.starts_with("text/csv"));
    let text = String::from_utf8(r.body).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "query,address,lon,lat,score,level,grid,building_id,entrance_id,error");
    assert_eq!(lines.len(), 4, "header, then one line per non-blank address: {text}");
    assert!(lines[1].starts_with(&format!("{},{},", b1.address_text, b1.address_text)), "{}", lines[1]);
    assert!(lines[1].contains(",building,") && lines[1].contains(&format!(",{},", b1.id)));
    assert!(lines[2].contains(&format!(",{},", b2.id)));
    assert!(lines[3].starts_with("不存在,"));
}

#[tokio::test]
async fn geocode_batch_limits_and_bad_bodies() {
    let app = app().await;
    let many = json!({"addresses": vec!["a"; 100_001]}).to_string();
    let d = post(&app, "/api/geocode", "application/json", many).await.problem(413);
    assert!(d.contains("100000"), "{d}");
    let at_limit = json!({"addresses": vec!["准噶尔路1号"; 100_000]}).to_string();
    let r = post(&app, "/api/geocode", "application/json", at_limit).await;
    assert_eq!(r.json()["results"].as_array().unwrap().len(), 100_000);
    post(&app, "/api/geocode", "application/json", "{\"addresses\": [").await.problem(400);
    post(&app, "/api/geocode", "application/json", "{\"points\": []}").await.problem(400);
    post(&app, "/api/geocode", "application/xml", "<a/>").await.problem(415);
    post(&app, "/api/geocode", "text/csv", vec![0xffu8, 0xfe]).await.problem(400);
    let huge = vec![b'a'; 65 << 20];
    post(&app, "/api/geocode", "text/csv", huge).await.problem(413);
}

#[tokio::test]
async fn reverse_finds_the_building_at_a_point_and_its_entrance_nearby() {
    use geo::Centroid;
    let app = app().await;
    let (b, e) = building_with_units(&app.snap);
    let building = &app.snap.data.buildings[b];
    let p = building.geometry.centroid().unwrap();
    let v = get(&app, &format!("/api/reverse?lon={}&lat={}", p.x(), p.y())).await.json();
    let r = &v["result"];
    assert_eq!(r["building_id"], building.id);
    assert_eq!(r["address"], building.address_text.as_str());
    assert_eq!(r["distance_m"], 0.0, "inside the footprint");
    assert_eq!(r["grid"], grid_of_building(&app.snap, b));
    // At an entrance: that entrance, and its unit in the address.
    let en = &app.snap.data.entrances[e];
    let v = get(&app, &format!("/api/reverse?lon={}&lat={}", en.location.x(), en.location.y())).await.json();
    assert_eq!(v["result"]["entrance"]["entrance_id"], en.id, "{v}");
    assert_eq!(v["result"]["level"], "entrance");
    assert_eq!(v["result"]["entrance"]["address"], format!("{}2单元", building.address_text));
    // The same point in GCJ-02 finds the same building.
    let (gx, gy) = gridmap::model::crs::wgs84_to_gcj02(p.x(), p.y());
    let v = get(&app, &format!("/api/reverse?lon={gx}&lat={gy}&crs=gcj02")).await.json();
    assert_eq!(v["result"]["building_id"], building.id);
    // Far from every building: no result, not an error.
    let v = get(&app, "/api/reverse?lon=116.4&lat=39.9").await.json();
    assert!(v["result"].is_null());
}

#[tokio::test]
async fn reverse_distance_grows_away_from_the_building() {
    let app = app().await;
    let b = &app.snap.data.buildings[0];
    let east = b.geometry.exterior().0.iter().map(|c| c.x).fold(f64::MIN, f64::max);
    let lat = b.geometry.exterior().0.iter().map(|c| c.y).sum::<f64>() / b.geometry.exterior().0.len() as f64;
    // 3 m east of the building's east side (no other building is that close in the data).
    let lon = east + 3.0 / (111_195.0 * lat.to_radians().cos());
    let v = get(&app, &format!("/api/reverse?lon={lon}&lat={lat}&radius_m=50")).await.json();
    let d = v["result"]["distance_m"].as_f64().unwrap();
    assert!(v["result"]["building_id"] == b.id && (2.5..3.5).contains(&d), "{v}");
    let v = get(&app, &format!("/api/reverse?lon={lon}&lat={lat}&radius_m=1")).await.json();
    assert!(v["result"].is_null(), "nothing within 1 m: {v}");
}

#[tokio::test]
async fn reverse_rejects_bad_coordinates() {
    let app = app().await;
    get(&app, "/api/reverse?lat=45.6").await.problem(400);
    get(&app, "/api/reverse?lon=84.8&lat=95").await.problem(400);
    get(&app, "/api/reverse?lon=abc&lat=45.6").await.problem(400);
    get(&app, "/api/reverse?lon=NaN&lat=45.6").await.problem(400);
    get(&app, "/api/reverse?lon=84.8&lat=45.6&crs=bd09").await.problem(400);
    get(&app, "/api/reverse?lon=84.8&lat=45.6&radius_m=100000").await.problem(400);
    get(&app, "/api/reverse?lon=84.8&lat=45.6&lng=1").await.problem(400);
}

#[tokio::test]
async fn openapi_describes_the_geocode_routes() {
    let app = app().await;
    let doc = get(&app, "/openapi.json").await.json();
    for (path, method) in [("/api/geocode", "get"), ("/api/geocode", "post"), ("/api/reverse", "get")] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path} is not in the OpenAPI document");
    }
}
