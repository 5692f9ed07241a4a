"""Orderings of all regions, each a generator that yields one Step per placed region.

Every search works on an Objective (which batches and caches the model calls) and may be
stopped between batches: the Objective raises Cancelled when its should_stop says so.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from .objective import Objective, SetScores
from .regions import region_neighbours
from .types import Step

SEARCHES = ("greedy", "efficient", "lazy")
SEARCH_OPTIONS = {
    "greedy": {},
    "efficient": {"search_scope": 6, "pending_samples": 4, "update_step": 15},
    "lazy": {
        "lazy_batch": 4,
        "refresh_every": 10,
        "noise_tolerance": 0.05,
        "refresh_on_rise": False,
    },
}
EARLY_STOP_TOL = 0.01
MIN_RISE = 10  # tolerances the full image must raise the targets by for an early stop
# lazy skips its periodic refresh within this many early-stop tolerances of converging: what
# is left can move the curves by little, and a refresh there costs as much as ten steps
NEAR = 2
FINISH_SWEEPS = 2  # lazy's fresh sweeps over what is left once the curves settle (finish)
# which images the finish's sweeps after the first re-score: "both" (the objective), "adaptive"
# (the side whose gains spread wider in the first sweep: 3 to 5% fewer images on the demo
# scenes at N ~ 64, AUCs within 0.0004 but not better; bench/README.md), "insert", "delete"
FINISH_SIDES = ("both", "adaptive", "insert", "delete")
FINISH_SIDE = "both"
# lazy skips a periodic refresh when no gain re-scored since the last one rose over its
# estimate by more than this; None: never (the default: on the demo scenes it saved 1 to 2%)
REFRESH_TIGHT: float | None = None


class _Progress:
    """Bookkeeping shared by the searches: chosen sets, step counter, early-stop test."""

    def __init__(self, objective: Objective, early_stop: float | None):
        self.obj = objective
        n = objective.n_regions
        self.selected = np.zeros(n, dtype=bool)  # placed at the front (insert chain)
        self.removed = np.zeros(n, dtype=bool)  # placed at the back (opposite chain)
        self.count = 0
        p_full, p_blank = objective.references()
        # an early stop needs curves with somewhere to go: where the image raises the targets
        # by less than MIN_RISE tolerances (a counterfactual answer, a language-prior word),
        # both ends match from the first step and say nothing of the middle
        rises = early_stop is not None and p_full.mean() - p_blank.mean() >= MIN_RISE * early_stop
        self.early_stop = early_stop if rises else None
        self.full_insight = p_full.mean()
        self.blank_delete = p_blank.mean()
        empty = objective.scores_from_probs(p_blank[None], p_full[None])
        self.score = float(empty.score[0])  # F of the current selected set
        self.probs = (p_blank.copy(), p_full.copy())  # insertion, deletion probs of that set

    @property
    def undecided(self) -> np.ndarray:
        return np.flatnonzero(~self.selected & ~self.removed)

    def insert(self, region: int, scores: SetScores, row: int) -> Step:
        self.selected[region] = True
        self.score = float(scores.score[row])
        self.probs = (scores.probs_insert[row].copy(), scores.probs_delete[row].copy())
        return self._step(region, "insert", scores, row, self.obj.area(self.selected))

    def remove(self, region: int, scores: SetScores, row: int) -> Step:
        self.removed[region] = True
        return self._step(region, "remove", scores, row, self.obj.area(~self.removed))

    def _step(self, region, chain, scores: SetScores, row, area) -> Step:
        step = Step(
            index=self.count,
            region=int(region),
            chain=chain,
            insight=float(scores.insight[row]),
            necessity=float(scores.necessity[row]),
            score=float(scores.score[row]),
            probs_insert=scores.probs_insert[row].copy(),
            probs_delete=scores.probs_delete[row].copy(),
            area=area,
            images_scored=self.obj.images_scored,
        )
        self.count += 1
        return step

    def converged(self, scores: SetScores, row: int) -> bool:
        """Insertion reached the full image and deletion the blank image, within tolerance."""
        if self.early_stop is None:
            return False
        return (
            scores.insight[row] >= self.full_insight - self.early_stop
            and scores.probs_delete[row].mean() <= self.blank_delete + self.early_stop
        )

    def with_each(self, candidates: np.ndarray) -> np.ndarray:
        """Rows: the selected set plus one candidate each."""
        sets = np.repeat(self.selected[None], len(candidates), axis=0)
        sets[np.arange(len(candidates)), candidates] = True
        return sets

    def without_each(self, candidates: np.ndarray) -> np.ndarray:
        """Rows: the kept set (all but removed) minus one candidate each."""
        sets = np.repeat(~self.removed[None], len(candidates), axis=0)
        sets[np.arange(len(candidates)), candidates] = False
        return sets

    def near_convergence(self, factor: float) -> bool:
        """The placed set is within `factor` x the early-stop tolerance of converging."""
        if self.early_stop is None:
            return False
        margin = factor * self.early_stop
        return (
            self.probs[0].mean() >= self.full_insight - margin
            and self.probs[1].mean() <= self.blank_delete + margin
        )

    def finish(self, estimates: np.ndarray, sweeps: int = 0, side: str = "both") -> Iterator[Step]:
        """Order what is left by the search's last gain estimates (per region), then score
        the prefixes of that order so that the curves stay measured, not guessed.

        `sweeps`: first re-score what is left against the placed set, one image each, and
        fix the better half in the order of those fresh gains; again on the other half, up
        to `sweeps` times (1.5 images per region left for two), the last half left in
        the last sweep's order. `side` (FINISH_SIDE) says which images the sweeps score:
        "both", or after a first sweep of both only the "adaptive" side whose gains spread
        wider, or only "insert" / "delete" from the first. Once the curves have
        settled the rest moves insertion by little, but deletion can still sink below the
        blank image's score (the background without the objects says less than no image),
        and estimates measured against a much smaller set order that tail badly (lazy's,
        at N ~ 64: up to 0.013 of deletion AUC).
        """
        if side not in FINISH_SIDES:
            raise ValueError(f"side must be one of {', '.join(FINISH_SIDES)}, got {side!r}")
        rest = self.undecided
        if len(rest) == 0:
            return
        rest = rest[np.argsort(-estimates[rest], kind="stable")]
        placed = self.selected.copy()
        fixed: list[int] = []
        for _ in range(sweeps):
            if len(rest) < 2:
                break
            sets = np.repeat(placed[None], len(rest) + 1, axis=0)
            sets[np.arange(len(rest)), rest] = True  # the last row: the placed set itself
            if side == "adaptive":
                scores = self.obj.score_sets(sets)
                gain_in = self.obj.lambda1 * (scores.insight[:-1] - scores.insight[-1])
                gain_nec = self.obj.lambda2 * (scores.necessity[:-1] - scores.necessity[-1])
                gains = gain_in + gain_nec
                side = "insert" if np.ptp(gain_in) > np.ptp(gain_nec) else "delete"
            else:
                gains = self._sweep_gains(sets, side)
            rest = rest[np.argsort(-gains, kind="stable")]
            better, rest = rest[: len(rest) // 2], rest[len(rest) // 2 :]
            fixed.extend(int(r) for r in better)
            placed[better] = True
        rest = np.concatenate([np.array(fixed, dtype=int), rest]).astype(int)
        prefixes = np.repeat(self.selected[None], len(rest), axis=0)
        for i in range(len(rest)):
            prefixes[i:, rest[i]] = True
        scores = self.obj.score_sets(prefixes)
        for i, region in enumerate(rest):
            yield self.insert(region, scores, i)

    def _sweep_gains(self, sets: np.ndarray, side: str) -> np.ndarray:
        """Gains of all rows but the last over the last, by the objective or one side of it."""
        if side == "both":
            score = self.obj.score_sets(sets).score
        elif side == "delete":
            score = self.obj.lambda2 * (1 - self.obj.keep_probs(~sets).mean(axis=1))
        else:
            score = self.obj.lambda1 * self.obj.keep_probs(sets).mean(axis=1)
        return score[:-1] - score[-1]


def greedy(objective: Objective, early_stop: float | None = None) -> Iterator[Step]:
    """Exact greedy (the paper): every step scores every remaining region."""
    state = _Progress(objective, early_stop)
    estimate = np.zeros(objective.n_regions)
    while len(candidates := state.undecided):
        scores = objective.score_sets(state.with_each(candidates))
        estimate[candidates] = scores.score
        best = int(np.argmax(scores.score))
        yield state.insert(candidates[best], scores, best)
        if state.converged(scores, best):
            yield from state.finish(estimate)
            return


def lazy(
    objective: Objective,
    early_stop: float | None = None,
    lazy_batch: int = 4,
    refresh_every: int = 10,
    noise_tolerance: float = 0.05,
    refresh_on_rise: bool = False,
) -> Iterator[Step]:
    """Lazy greedy with batched re-evaluation.

    Each candidate keeps its last marginal gain as an estimate. A step re-scores the
    `lazy_batch` best stale estimates in one batch and accepts the best fresh gain once no
    stale estimate beats it. Under submodularity gains only shrink, so the estimates bound
    the fresh gains; but regions that interact (the parts of one object, or an object and the
    background that shows its outline) make gains grow unseen: a region measured while its
    partners were hidden keeps a low estimate. So when the region just placed moved a
    target's insertion or deletion probability by more than `noise_tolerance`, its neighbours
    (its likely partners) are re-scored too, and every `refresh_every` steps all candidates
    are, unless the curves are within twice the early-stop tolerance of settling.
    `refresh_on_rise=True` is stricter and dearer: a re-scored gain that rose by more
    than `noise_tolerance` over its estimate makes this step and the next score every one.
    """
    check_options(
        "lazy",
        lazy_batch=lazy_batch,
        refresh_every=refresh_every,
        noise_tolerance=noise_tolerance,
        refresh_on_rise=refresh_on_rise,
    )
    state = _Progress(objective, early_stop)
    if objective.labels is None:  # the prompt alone (regions=None): spans touch no region
        neighbours = [np.zeros(0, dtype=int)] * objective.n_regions
    else:  # spans, after the image's regions, have none either
        neighbours = region_neighbours(objective.labels, objective.n_regions)
    gain = np.full(objective.n_regions, np.inf)  # never scored: must be looked at
    rose_before = False
    seen_rise = 0.0  # the largest rise of a re-scored gain over its estimate since a refresh
    watch = np.zeros(0, dtype=int)  # neighbours of a region that changed what the model sees
    for step in range(objective.n_regions):
        candidates = state.undecided
        if len(candidates) == 0:
            return
        fresh: dict[int, tuple[SetScores, int]] = {}
        rose = False
        refresh = step % refresh_every == 0 and not (step and state.near_convergence(NEAR))
        if refresh and step and REFRESH_TIGHT is not None and seen_rise <= REFRESH_TIGHT:
            refresh, seen_rise = False, 0.0  # the estimates held: trust them one more round
        if rose_before or refresh or len(candidates) <= lazy_batch:
            to_score = candidates
        else:
            top = candidates[np.argsort(-gain[candidates], kind="stable")[:lazy_batch]]
            watched = watch[~state.selected[watch] & ~state.removed[watch]]
            to_score = np.union1d(top, watched)
        while True:
            scores = objective.score_sets(state.with_each(to_score))
            new = scores.score - state.score
            if step and len(to_score) < len(candidates):  # how far the estimates fell short
                seen_rise = max(seen_rise, float(np.max(new - gain[to_score])))
            rose |= refresh_on_rise and bool(np.any(new > gain[to_score] + noise_tolerance))
            for row, region in enumerate(to_score):
                fresh[int(region)] = (scores, row)
            gain[to_score] = new
            best = max(fresh, key=lambda r: gain[r])
            stale = np.array([r for r in candidates if r not in fresh], dtype=int)
            if len(stale) == 0:
                break
            if rose:  # the estimates no longer bound the gains: look at every candidate
                to_score = stale
                continue
            ahead = stale[gain[stale] > gain[best]]
            if len(ahead) == 0:
                break
            to_score = ahead[np.argsort(-gain[ahead], kind="stable")[:lazy_batch]]
        rose_before = rose
        if refresh:
            seen_rise = 0.0
        scores, row = fresh[best]
        before_insert, before_delete = state.probs
        placed = state.insert(best, scores, row)
        moved = max(
            np.abs(placed.probs_insert - before_insert).max(),
            np.abs(placed.probs_delete - before_delete).max(),
        )
        watch = neighbours[best] if moved > noise_tolerance else np.zeros(0, dtype=int)
        yield placed
        if state.converged(scores, row):
            yield from state.finish(gain, sweeps=FINISH_SWEEPS, side=FINISH_SIDE)
            return


def efficient(
    objective: Objective,
    early_stop: float | None = None,
    search_scope: int = 6,
    pending_samples: int = 4,
    update_step: int = 15,
) -> Iterator[Step]:
    """The reference's bidirectional search.

    The insert chain scores only the first `search_scope` candidates of a stale ranking,
    refreshed (all candidates re-scored and re-sorted) every `update_step` rounds. Each round
    the opposite chain takes, among the last `pending_samples` of that ranking, the region
    whose removal from the kept image hurts the objective least, and places it at the back.
    Works for any number of regions, and lambda weights every score it compares.
    """
    check_options(
        "efficient",
        search_scope=search_scope,
        pending_samples=pending_samples,
        update_step=update_step,
    )
    state = _Progress(objective, early_stop)
    ranking: list[int] = []  # stale order of undecided regions, most promising first
    estimate = np.zeros(objective.n_regions)
    for round_ in range(objective.n_regions):
        candidates = state.undecided
        if len(candidates) == 0:
            return
        ranking = [r for r in ranking if not state.selected[r] and not state.removed[r]]
        if round_ % update_step == 0 or not ranking:
            to_score = candidates
        else:
            to_score = np.array(ranking[:search_scope])
        scores = objective.score_sets(state.with_each(to_score))
        estimate[to_score] = scores.score
        best = int(np.argmax(scores.score))
        region = int(to_score[best])
        ranking = sorted(candidates.tolist(), key=lambda r: -estimate[r])
        yield state.insert(region, scores, best)
        if state.converged(scores, best):
            yield from state.finish(estimate)
            return
        ranking.remove(region)
        if not ranking:
            return
        tail = np.array(ranking[-pending_samples:])
        removal = objective.score_sets(state.without_each(tail))
        keep_best = int(np.argmax(removal.score))
        yield state.remove(int(tail[keep_best]), removal, keep_best)


def ranked(objective: Objective, region_scores: np.ndarray) -> Iterator[Step]:
    """Every region in the order of given scores (highest first, ties by region id), with the
    curve points measured in one batch: how a baseline's map is measured the engine's way
    (2N images beside the references)."""
    scores = np.asarray(region_scores, dtype=np.float64)
    if scores.shape != (objective.n_regions,) or not np.all(np.isfinite(scores)):
        raise ValueError(
            f"region scores must be {objective.n_regions} finite numbers, got shape {scores.shape}"
        )
    yield from _Progress(objective, None).finish(scores)


def max_images(n_regions: int) -> int:
    """An upper bound on the images any search scores: the full and blank images, then at
    most two images (insertion, deletion) per undecided region and placed region."""
    return n_regions * (n_regions + 1) + 2


def estimated_images(name: str, n_regions: int, **options) -> int:
    """About how many images a search of `n_regions` regions scores to the end, references
    included; an early stop spends fewer (how many fewer depends on the image).

    Counts the batches each search makes when nothing steers it off its plan: greedy's
    N(N + 1) less the few its cache holds already; lazy re-scores more where regions
    interact (a few percent more on the demo model).
    """
    check_options(name, **options)
    settings = {**SEARCH_OPTIONS[name], **options}
    n = int(n_regions)
    total = 2
    if name == "greedy":
        return total + n * (n + 1)
    if name == "lazy":
        for step in range(n):
            left = n - step
            full = step % settings["refresh_every"] == 0 or left <= settings["lazy_batch"]
            total += 2 * (left if full else settings["lazy_batch"])
        return total
    left, round_ = n, 0
    while left > 0:  # efficient: one insert and one remove per round
        full = round_ % settings["update_step"] == 0
        total += 2 * (left if full else min(left, settings["search_scope"]))
        left -= 1
        if left > 0:
            total += 2 * min(left, settings["pending_samples"])
            left -= 1
        round_ += 1
    return total


def most_images(name: str, n_regions: int) -> int:
    """The most images a search of `n_regions` regions can score, references included, a
    bound that holds whatever the image (estimated_images says what to expect).

    Every step scores each region left at most once (2 images: with it kept and removed), as
    greedy does always; a search that stops early with L regions left then scores the
    prefixes of their order (L sets) after lazy's sweeps (finish), which for small L can cost
    more than the steps they replace.
    """
    n = int(n_regions)
    sweeps = FINISH_SWEEPS if name == "lazy" else 0
    steps = n * (n + 1)  # images of all n steps: 2 x (n + (n - 1) + ... + 1)
    worst = steps
    for left in range(n):  # stopped with `left` regions unplaced
        sets, rest = left, left
        for _ in range(sweeps):
            if rest < 2:
                break
            sets += rest + 1
            rest -= rest // 2
        worst = max(worst, steps - left * (left + 1) + 2 * sets)
    return 2 + worst


def run_search(
    name: str, objective: Objective, early_stop: float | None = None, **options
) -> Iterator[Step]:
    """Dispatch by name, rejecting options the chosen search does not have."""
    check_options(name, **options)
    return {"greedy": greedy, "efficient": efficient, "lazy": lazy}[name](
        objective, early_stop, **options
    )


def check_options(name: str, **options) -> None:
    """Raise for an unknown search, an option it does not take, or a value it cannot use;
    each option takes values of its default's kind (a count >= 1, a tolerance >= 0, a flag)."""
    if name not in SEARCHES:
        raise ValueError(f"search must be one of {', '.join(SEARCHES)}, got {name!r}")
    unknown = set(options) - set(SEARCH_OPTIONS[name])
    if unknown:
        raise ValueError(
            f"search {name!r} has no option(s) {', '.join(sorted(unknown))}; "
            f"it takes {', '.join(SEARCH_OPTIONS[name]) or 'none'}"
        )
    for key, value in options.items():
        default = SEARCH_OPTIONS[name][key]
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise TypeError(f"{key} must be True or False, got {value!r}")
        elif isinstance(default, int):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{key} must be a positive int, got {value!r}")
        elif (
            isinstance(value, bool)
            or not isinstance(value, (int, float, np.number))
            or not value >= 0  # NaN too; infinity turns the rule off
        ):
            raise ValueError(f"{key} must be a number >= 0, got {value!r}")
