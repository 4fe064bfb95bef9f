//! The visibility graph and the searches over it.
//!
//! Nodes are those of the [`World`]; an edge joins two nodes of one room that see each other and
//! whose line touches each corner only tangentially (both neighbouring vertices on one side).
//! That is the *reduced visibility graph*: every Euclidean shortest path among polygonal
//! obstacles is a chain of such edges between its end points, so searching it is exact. Edges
//! are never longer than the horizon (the farthest any mode gets within the longest time limit),
//! since no longer leg can be part of a trip that counts.
//!
//! A node's edges are found on first use by a visibility sweep and kept for the life of the
//! snapshot ([`LazyTable`]), so a query pays only for the part of the city it touches. Gates
//! are the only edges between rooms: the two sides of a gate are joined, at no length, when the
//! gate is open and admits the searching class.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::config::Class;
use super::geom::{dist, P};
use super::hash::{IntMap, IntSet};
use super::lazy::LazyTable;
use super::sweep::{sweep_outside, Visibility};
use super::world::{World, NONE, OUTSIDE};
use crate::model::TimeOfDay;

/// Where a trip starts or ends: a point in a room. For a point inside a building, each of the
/// building's doors is an endpoint: a trip into a building ends at its door (the inside of a
/// building is not modelled), and one out of it starts there.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Endpoint {
    pub p: P,
    pub room: u32,
}

/// The search state of one node.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Label {
    /// Length so far, metres (minus the budget, in budget searches).
    pub cost: f64,
    /// The node it was reached from; [`NONE`] for a seed.
    pub parent: u32,
    /// For a seed, the endpoint it was seeded from (the origin of the leg).
    pub seed_from: P,
}

/// A settled search: every node reached within the limit.
pub(crate) type Tree = IntMap<u32, Label>;

#[derive(PartialEq)]
struct Entry(f64, u32);

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    // Smallest key first.
    fn cmp(&self, other: &Self) -> Ordering {
        other.0.total_cmp(&self.0).then(other.1.cmp(&self.1))
    }
}

/// The goal of an A* search: the cost still to go from each node that sees the goal, and a
/// lower bound of the distance from a point to the goal.
pub(crate) type Goal<'a> = (&'a IntMap<u32, f64>, &'a dyn Fn(P) -> f64);

/// The world and its lazily built edges.
pub(crate) struct Net {
    pub world: World,
    /// Longest edge, metres.
    pub horizon_m: f64,
    edges: LazyTable<Box<[u32]>>,
}

impl Net {
    pub fn new(world: World, horizon_m: f64) -> Net {
        let edges = LazyTable::new(world.nodes.len());
        Net { world, horizon_m, edges }
    }

    /// Where a trip to or from `p` starts: `p` itself, or, when `p` lies inside a building, the
    /// building's doors.
    pub fn endpoints(&self, p: P) -> Vec<Endpoint> {
        let w = &self.world;
        let room = w.room_of(p);
        match w.building_at(room, p) {
            None => vec![Endpoint { p, room }],
            Some(b) => w.doors_of_poly(b).map(|d| Endpoint { p: w.doors[d].p, room: w.doors[d].room }).collect(),
        }
    }

    /// The edges of node `u`.
    pub fn neighbours(&self, u: u32) -> &[u32] {
        self.edges.get_or_init(u as usize, || self.find_neighbours(u))
    }

    fn find_neighbours(&self, u: u32) -> Box<[u32]> {
        let w = &self.world;
        let n = w.nodes[u as usize];
        let mut out: Vec<u32> = Vec::new();
        let mut consider = |vis: &mut Visibility, v: u32| {
            let m = &w.nodes[v as usize];
            if v != u && dist(n.p, m.p) <= self.horizon_m && w.tangent(&n, m.p) && w.tangent(m, n.p) && vis.sees(m.p) {
                out.push(v);
            }
        };
        if n.room == OUTSIDE {
            sweep_outside(w, n.p, self.horizon_m, None, |vis, cell| {
                for &v in w.cell_nodes.get(cell) {
                    consider(vis, v);
                }
            });
        } else {
            let mut vis = Visibility::new(w, n.p, n.room);
            for &v in &w.rooms[n.room as usize].nodes {
                consider(&mut vis, v);
            }
        }
        out.into_boxed_slice()
    }

    /// The nodes visible from `e` within `radius_m`, with their distances (the first leg of a
    /// trip from `e`, or the last leg of a trip to it).
    pub fn star(&self, e: &Endpoint, radius_m: f64) -> Vec<(u32, f64)> {
        let w = &self.world;
        let mut out = Vec::new();
        let mut consider = |vis: &mut Visibility, v: u32| {
            let m = &w.nodes[v as usize];
            let d = dist(e.p, m.p);
            if d <= radius_m && w.tangent(m, e.p) && vis.sees(m.p) {
                out.push((v, d));
            }
        };
        if e.room == OUTSIDE {
            sweep_outside(w, e.p, radius_m, None, |vis, cell| {
                for &v in w.cell_nodes.get(cell) {
                    consider(vis, v);
                }
            });
        } else {
            let mut vis = Visibility::new(w, e.p, e.room);
            for &v in &w.rooms[e.room as usize].nodes {
                consider(&mut vis, v);
            }
        }
        out
    }

    /// The straight leg between two endpoints, if they share a room and see each other.
    pub fn direct(&self, a: &Endpoint, b: &Endpoint) -> Option<f64> {
        (a.room == b.room && self.world.clear(a.room, a.p, b.p).is_ok()).then(|| dist(a.p, b.p))
    }

    /// Best-first search from `seeds` (node, starting cost, where its leg began) for `class` at
    /// `t`, settling nodes whose cost is at most `limit`. With a `goal` (a point and the cost
    /// still to go from each node that sees it) it is A* towards the goal and stops as soon as
    /// the goal's cost is settled; `h(p)` must not overestimate the rest of the way (straight
    /// distance does). Returns the tree and the best goal cost with its last node.
    pub fn search(
        &self,
        seeds: &[(u32, f64, P)],
        class: Class,
        t: TimeOfDay,
        limit: f64,
        goal: Option<Goal>,
    ) -> (Tree, Option<(f64, u32)>) {
        let w = &self.world;
        let h = |v: u32| goal.map_or(0.0, |(_, h)| h(w.nodes[v as usize].p));
        let mut tree: Tree = IntMap::default();
        let mut done: IntSet<u32> = IntSet::default();
        let mut heap = BinaryHeap::new();
        for &(v, cost, from) in seeds {
            if cost + h(v) <= limit && tree.get(&v).is_none_or(|l| cost < l.cost) {
                tree.insert(v, Label { cost, parent: NONE, seed_from: from });
                heap.push(Entry(cost + h(v), v));
            }
        }
        let mut best: Option<(f64, u32)> = None;
        while let Some(Entry(key, u)) = heap.pop() {
            if best.is_some_and(|(b, _)| key >= b) {
                break;
            }
            if !done.insert(u) {
                continue;
            }
            let g = tree[&u].cost;
            if let Some((to_goal, _)) = goal {
                if let Some(&rest) = to_goal.get(&u) {
                    if g + rest <= limit && best.is_none_or(|(b, _)| g + rest < b) {
                        best = Some((g + rest, u));
                    }
                }
            }
            let nu = w.nodes[u as usize];
            let relax = |v: u32, len: f64, tree: &mut Tree, heap: &mut BinaryHeap<Entry>| {
                let c = g + len;
                let key = c + h(v);
                if key <= limit && !done.contains(&v) && tree.get(&v).is_none_or(|l| c < l.cost) {
                    tree.insert(v, Label { cost: c, parent: u, seed_from: nu.p });
                    heap.push(Entry(key, v));
                }
            };
            if let Some(gi) = nu.gate() {
                let gate = &w.gates[gi as usize];
                if gate.usable(class, t) {
                    let twin = if gate.outer == u { gate.inner } else { gate.outer };
                    relax(twin, 0.0, &mut tree, &mut heap);
                }
            }
            for &v in self.neighbours(u) {
                relax(v, dist(nu.p, w.nodes[v as usize].p), &mut tree, &mut heap);
            }
        }
        tree.retain(|k, _| done.contains(k));
        (tree, best)
    }

    /// The gates passed on the way to `last` in `tree`, in travel order (ids).
    pub fn gates_on_path(&self, tree: &Tree, last: u32) -> Vec<u32> {
        let w = &self.world;
        let mut gates = Vec::new();
        let mut u = last;
        while let Some(l) = tree.get(&u) {
            if l.parent == NONE {
                break;
            }
            if let (Some(a), Some(b)) = (w.nodes[u as usize].gate(), w.nodes[l.parent as usize].gate()) {
                if a == b {
                    gates.push(w.gates[a as usize].id);
                }
            }
            u = l.parent;
        }
        gates.reverse();
        gates
    }
}
