// shape.mjs: the editor's geometry model (web/app/shape.js) without a browser: GeoJSON round
// trips, handles, and the three-way merge used to re-apply a drawing after a conflict. Exits 1
// with the failed assertion; tests/browser.rs runs it.
import assert from 'node:assert/strict';
import { clone, edgesBetween, fromGeometry, handles, rebase, sameShape, toGeometry, verticesAt } from '../../web/app/shape.js';

const square = { type: 'Polygon', coordinates: [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]] };
const base = fromGeometry(square);
assert.deepEqual(base, [[[[0, 0], [1, 0], [1, 1], [0, 1]]]], 'the closing vertex is dropped');
assert.deepEqual(toGeometry(base, false), square, 'Polygon round trip');
assert.equal(toGeometry(base, true).type, 'MultiPolygon', 'a MultiPolygon stays one');
assert.deepEqual(fromGeometry(toGeometry(base, true)), base, 'MultiPolygon round trip');
const hs = handles(base).features;
assert.equal(hs.length, 8, 'a vertex and an edge midpoint per vertex');
assert.deepEqual(hs.find((f) => f.properties.kind === 'mid' && f.properties.i === 3).geometry.coordinates, [0, 0.5], 'the closing edge has a midpoint');

const moved = (shape, i, to) => {
  const s = clone(shape);
  s[0][0][i] = to;
  return s;
};
// Different vertices: both moves survive.
{
  const mine = moved(base, 1, [1.2, 0]);
  const theirs = moved(base, 3, [0, 1.3]);
  const { shape, conflicts } = rebase(base, mine, theirs);
  assert.equal(conflicts, 0);
  assert.deepEqual(shape, [[[[0, 0], [1.2, 0], [1, 1], [0, 1.3]]]]);
}
// The same vertex moved by both: the user's position wins, counted as a conflict.
{
  const { shape, conflicts } = rebase(base, moved(base, 2, [2, 2]), moved(base, 2, [3, 3]));
  assert.equal(conflicts, 1);
  assert.deepEqual(shape[0][0][2], [2, 2]);
}
// The user changed nothing: theirs. They changed nothing: mine.
assert.ok(sameShape(rebase(base, clone(base), moved(base, 0, [-1, -1])).shape, moved(base, 0, [-1, -1])));
assert.ok(sameShape(rebase(base, moved(base, 0, [-1, -1]), clone(base)).shape, moved(base, 0, [-1, -1])));
// The user inserted a vertex while they moved one: the user's ring wins, one conflict.
{
  const mine = clone(base);
  mine[0][0].splice(1, 0, [0.5, -0.1]);
  const { shape, conflicts } = rebase(base, mine, moved(base, 3, [0, 1.3]));
  assert.equal(conflicts, 1);
  assert.deepEqual(shape, mine);
}
// The result never aliases its inputs.
{
  const mine = moved(base, 1, [1.2, 0]);
  const { shape } = rebase(base, mine, clone(base));
  shape[0][0][1][0] = 9;
  assert.equal(mine[0][0][1][0], 1.2);
}
// Shared vertices and edges of a neighbour (which runs the shared edge the other way).
{
  const right = fromGeometry({ type: 'Polygon', coordinates: [[[1, 0], [2, 0], [2, 1], [1, 1], [1, 0]]] });
  assert.deepEqual(verticesAt(right, [1, 1]), [{ p: 0, r: 0, i: 3 }]);
  assert.deepEqual(verticesAt(right, [0, 0]), []);
  assert.deepEqual(edgesBetween(right, [1, 0], [1, 1]), [{ p: 0, r: 0, at: 4 }], 'the closing edge, reversed');
  assert.deepEqual(edgesBetween(right, [2, 0], [1, 0]), [{ p: 0, r: 0, at: 1 }]);
  assert.deepEqual(edgesBetween(right, [1, 0], [2, 1]), [], 'a diagonal is no edge');
}
console.log(JSON.stringify({ ok: true }));
