// What a view offers (src/offer.js): a saved result offers only what it holds.
import assert from "node:assert/strict";
import test from "node:test";
import { offerOf } from "../src/offer.js";

const tokens = ["A", " red", " square"];

test("a saved word-level result offers its words only, no sentence", () => {
  const offer = offerOf({ hasModel: false, tokens, run: { targets: [1] } });
  assert.equal(offer.sentence, false);
  assert.equal(offer.clickable([1]), true);
  assert.equal(offer.clickable([2]), false);
  assert.equal(offer.clickable([0, 1]), true); // a word with one held token shows that token
  assert.match(offer.notShown("square", [2]), /not explained in this saved result/);
  assert.match(offer.hint, /Click an explained word to see its map/);
  assert.doesNotMatch(offer.hint, /explain it/);
});

test("the offline page's full set, not the view on screen, says what is held", () => {
  // the page shows token 2 alone, but the saved result holds 1 and 2
  const offer = offerOf({ hasModel: false, tokens, run: { targets: [2], explained: [1, 2] } });
  assert.equal(offer.clickable([1]), true);
  assert.equal(offer.clickable([0]), false);
  assert.match(offer.notShown("red", [1]), /not shown in this view: click it/);
});

test("a saved sentence-level result offers the sentence", () => {
  const offer = offerOf({ hasModel: false, tokens, run: { targets: [0, 1, 2] } });
  assert.equal(offer.sentence, true);
  assert.ok([[0], [1], [2]].every(offer.clickable));
});

test("with a model every word and the sentence are offered, as before", () => {
  const offer = offerOf({ hasModel: true, tokens, run: { targets: [1] } });
  assert.equal(offer.sentence, true);
  assert.equal(offer.clickable([0]), true);
  assert.match(offer.notShown("A", [0]), /not a target of this run: click it to explain it/);
  assert.equal(offer.legend, "Click a word to explain it.");
});

test("no caption offers no sentence", () => {
  assert.equal(offerOf({ hasModel: true, tokens: [], run: {} }).sentence, false);
  assert.equal(offerOf({ hasModel: false, tokens: [], run: null }).sentence, false);
});

test("a text-only model's view speaks of the prompt's colours, not a map", () => {
  const saved = offerOf({ hasModel: false, tokens, run: { targets: [1] }, hasImage: false });
  assert.match(saved.hint, /see its colours of the prompt/);
  assert.doesNotMatch(saved.hint + saved.legend, /map/);
  const live = offerOf({ hasModel: true, tokens, run: {}, hasImage: false });
  assert.doesNotMatch(live.hint, /map/);
  assert.match(offerOf({ hasModel: true, tokens, run: {} }).hint, /own map/);
});
