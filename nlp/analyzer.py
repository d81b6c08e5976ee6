"""`Analyzer`: the one object the rest of the system uses (load once, `pipe` batches of posts)."""
from __future__ import annotations

import contextlib
import dataclasses
import gc
import logging
import os
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable, Sequence

from core.domain import Analysis, Debunk, Post
from nlp import model as model_io
from nlp.components import PIPELINE, Batch, Context, Doc, build_pipeline
from nlp.debunk import DebunkMatcher
from nlp.claims import WINDOW_HOURS as CLAIM_WINDOW_HOURS, ClaimIndex, ClaimInfo
from nlp.dedup import ClusterInfo, NearDupIndex
from nlp.model import BUNDLED_DIR, ModelBundle, ModelError

log = logging.getLogger(__name__)


def model_dirs(data_dir: Path | None) -> list[Path]:
    """Where models may live, in order of preference when equally new."""
    dirs = []
    if data_dir is not None:
        dirs.append(Path(data_dir) / "models")
    dirs.append(BUNDLED_DIR)
    return dirs


def _stamp(dirs: list[Path]) -> tuple:
    out = []
    for d in dirs:
        try:
            st = os.stat(d / model_io.MANIFEST)
            out.append((str(d), st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((str(d), None, None))
    return tuple(out)


def select_models(data_dir: Path | None) -> ModelBundle:
    """The newest loadable bundle: `<data-dir>/models/` (trained with moderator labels) or the
    bundled one; a broken data-dir model falls back to the bundled one with a warning.

    A model trained from the bundle (`nlp.train --from-bundle`) on top of the bundle shipped now is
    preferred whatever the clocks say; one trained on an earlier bundle gives way to the shipped one
    (the code was updated since: train again). Others go by training time."""
    candidates = []
    manifests = {}
    for d in model_dirs(data_dir):
        try:
            man = model_io.read_manifest(d)
        except ModelError as e:
            log.warning("%s", e)
            continue
        if man is not None and man.get("format") == model_io.FORMAT:
            manifests[d] = man
    shipped = (manifests.get(BUNDLED_DIR) or {}).get("version")
    for d, man in manifests.items():
        rank = 0
        if man.get("mode") == "from_bundle" and d != BUNDLED_DIR:
            base = (man.get("base_model") or {}).get("version")
            rank = 1 if base == shipped else -1
            if rank < 0 and shipped:
                log.warning("%s 的模型基于旧的内置模型 %s，已改用新的内置模型 %s；请重新运行 python -m nlp.train "
                            "--data-dir %s 以重新学习审核员标注", d, base, shipped, d.parent)
        candidates.append((rank, str(man.get("trained_at", "")), d))
    # preferred first, then newest; on equal time the data-dir one (listed first) wins
    candidates.sort(key=lambda c: (c[0], c[1]), reverse=True)
    errors = []
    for _, _, d in candidates:
        try:
            return model_io.load(d)
        except ModelError as e:
            log.warning("模型加载失败，改用下一个可用模型：%s", e)
            errors.append(str(e))
    hint = "；".join(errors) or f"未找到模型清单（{BUNDLED_DIR / model_io.MANIFEST}）"
    raise ModelError(f"没有可用的 NLP 模型：{hint}。请运行 python -m nlp.train 生成模型")


class Analyzer:
    """Loads the models once; `pipe` turns posts into analyses, in order, batch by batch.

    Thread-safe: batches, hot reloads, registry updates and warm-up are serialised by one lock.

    The near-duplicate and claim windows follow event time. With a `clock` (the running service sets
    one), a post dated later than the clock plus `max_skew` is placed at that bound for the windows, so
    one post from the future cannot expire every window (its analysis is otherwise unchanged)."""

    clock: Callable[[], datetime] | None = None
    max_skew: timedelta = timedelta(minutes=10)

    def __init__(
        self,
        models: ModelBundle,
        data_dir: Path | None = None,
        window_hours: float = 24.0,
        use_window: bool = True,
        pipeline: Sequence[str] = PIPELINE,
        claim_window_hours: float = CLAIM_WINDOW_HOURS,
        official_domains: Sequence[str] = (),
    ) -> None:
        self._data_dir = Path(data_dir) if data_dir is not None else None
        self._lock = threading.RLock()
        self._components = build_pipeline(pipeline)
        self.pipeline_names = tuple(pipeline)
        self._window = NearDupIndex(window_hours) if use_window else None
        claims = ClaimIndex(claim_window_hours) if use_window else None
        self._ctx = Context(models=models, window=self._window, claims=claims,
                            official_domains=tuple(d.lower().strip(".") for d in official_domains))
        self._stamp = _stamp(model_dirs(self._data_dir))

    @classmethod
    def load(cls, data_dir: Path | None = None, *, window_hours: float = 24.0, use_window: bool = True,
             claim_window_hours: float = CLAIM_WINDOW_HOURS, official_domains: Sequence[str] = ()) -> "Analyzer":
        """Load the newest models: the bundled ones in nlp/models/ or those `python -m nlp.train
        --data-dir DIR` wrote to DIR/models/. `use_window=False` scores texts alone (evaluation):
        no near-duplicate clusters, no claims. `official_domains` are the university's own sites
        (config `official_domains`): links elsewhere that carry their name are look-alikes."""
        data_dir = Path(data_dir) if data_dir is not None else None
        return cls(select_models(data_dir), data_dir, window_hours=window_hours, use_window=use_window,
                   claim_window_hours=claim_window_hours, official_domains=official_domains)

    @property
    def model_version(self) -> str:
        return self._ctx.models.version

    @property
    def models(self) -> ModelBundle:
        return self._ctx.models

    # ------------------------------------------------------------------ analysis
    def pipe(self, posts: Sequence[Post], batch_size: int = 1000) -> list[Analysis]:
        """One analysis per post, in the same order."""
        out: list[Analysis] = []
        step = max(1, int(batch_size))
        for i in range(0, len(posts), step):
            with gc_paused():
                docs = self._run(posts[i : i + step])
                version = self._ctx.models.version
                out.extend([_to_analysis(d, version) for d in docs])
                # The docs (token lists, cue hits, normalised texts) are freed here, by reference counting:
                # the collection that ends the pause then walks the analyses only (half the objects).
                del docs
        return out

    def _bounded(self, posts: Sequence[Post]) -> Sequence[Post]:
        if self.clock is None:
            return posts
        horizon = self.clock() + self.max_skew
        if all(p.created_at <= horizon for p in posts):
            return posts
        return [p if p.created_at <= horizon else dataclasses.replace(p, created_at=horizon) for p in posts]

    def _run(self, posts: Sequence[Post], warm_keys: Sequence[str | None] | None = None,
             components: Sequence | None = None, warm_claims: Sequence[str | None] | None = None) -> list[Doc]:
        posts = self._bounded(posts)
        with self._lock:
            batch = Batch([Doc(p) for p in posts])
            if not batch.docs:
                return []
            self._ctx.warm_keys, self._ctx.warm_claims = warm_keys, warm_claims
            try:
                for comp in components or self._components:
                    batch = comp.pipe(batch, self._ctx)
            finally:
                self._ctx.warm_keys = self._ctx.warm_claims = None
            return batch.docs

    # ------------------------------------------------------------------ live changes
    def maybe_reload(self) -> bool:
        """If a model manifest changed on disk, load the newest models and swap them in (the
        window and the debunk registry stay). Cheap when nothing changed: two stat calls."""
        dirs = model_dirs(self._data_dir)
        stamp = _stamp(dirs)
        if stamp == self._stamp:
            return False
        try:
            new = select_models(self._data_dir)
        except ModelError as e:
            log.warning("模型热更新失败，继续使用当前模型 %s：%s", self.model_version, e)
            return False
        with self._lock:
            self._stamp = stamp
            if new.version == self._ctx.models.version:
                return False
            old = self._ctx.models.version
            self._ctx.models = new
        log.info("NLP 模型已热更新：%s → %s", old, new.version)
        return True

    def set_debunks(self, entries: list[Debunk]) -> None:
        """Replace the debunk registry (辟谣库) the analyzer matches posts against."""
        from nlp import resources
        from nlp.components import analyse_texts

        kx = resources.keyword_extractor()
        matcher = DebunkMatcher(entries, analyse_texts, lambda t: kx.idf.get(t, kx.median))
        with self._lock:
            self._ctx.debunks = matcher

    def warm(self, pairs: Sequence[tuple[Post, Analysis]]) -> None:
        """Refill the recent window from stored posts (oldest first), without scoring them again.
        Cluster and claim keys stored in the analyses are kept, so cases stay attached to the same key."""
        if self._window is None or not pairs:
            return
        ordered = sorted(pairs, key=lambda pa: pa[0].created_at)
        from nlp.components import NearDup, Normalize, Tokenize
        from nlp.rumour import WarmClaims

        comps = [Normalize(), Tokenize(), NearDup(), WarmClaims()]
        for i in range(0, len(ordered), 2000):
            chunk = ordered[i : i + 2000]
            keys = [a.extra.get("cluster") if a.extra else None for _, a in chunk]
            claims = [a.extra.get("claim") if a.extra else None for _, a in chunk]
            with gc_paused():
                self._run([p for p, _ in chunk], warm_keys=keys, components=comps, warm_claims=claims)


@contextlib.contextmanager
def gc_paused():
    """Automatic cyclic garbage collection off for one batch (or one run of the service's collect
    or process job, each bounded by its time budget), then one young-generation pass.

    A batch allocates tens of thousands of small, acyclic objects (reasons, token lists, dicts): every
    700 allocations would start a young-generation collection, every tenth of those an older one that
    walks the recent window and the loaded resources again (a quarter of the batch time, measured;
    paused for whole job runs, the pipeline ran 4-7% faster with the same peak memory, core.bench).
    Reference counting frees these objects either way; the single `gc.collect(0)` at the end runs inside
    the batch (its cost is the batch's) and leaves the collector's normal schedule for everything else.
    The switch is process-wide, for the length of the pause; when the collector is already off (an
    enclosing pause), nothing changes."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect(0)


NO_CLAIM = ClaimInfo(None)
NO_CLUSTER = ClusterInfo(None)


def _to_analysis(d: Doc, version: str) -> Analysis:
    c = d.cluster or NO_CLUSTER
    cl = d.claim or NO_CLAIM
    extra = d.extra  # the doc is discarded after this: its dict is handed over, not copied
    extra["cluster"] = c.key
    extra["cluster_size"] = c.size
    extra["cluster_authors"] = c.authors
    extra["cluster_channels"] = c.channels
    extra["cluster_author_posts"] = c.author_posts
    extra["claim"] = cl.key
    extra["claim_size"] = cl.size
    extra["claim_authors"] = cl.authors
    extra["claim_channels"] = cl.channels
    if d.evasions:
        extra["evasions"] = list(d.evasions)
    debunk_id = d.debunk.debunk.id if d.debunk is not None else None
    if _POSITIONAL:  # a third cheaper than keywords, and one is made per post
        a = Analysis(d.text, d.tokens, d.sentiment, d.polarity, d.spam, d.rumour, d.keywords, d.pii, d.reasons,
                     version, d.topic, debunk_id, extra)
    else:
        a = Analysis(normalized=d.text, tokens=d.tokens, sentiment=d.sentiment, polarity=d.polarity, spam=d.spam,
                     rumour=d.rumour, keywords=d.keywords, pii=d.pii, reasons=d.reasons, model_version=version,
                     topic=d.topic, debunk_id=debunk_id, extra=extra)
    a.grievance, a.abuse = d.grievance, d.abuse
    return a


_ANALYSIS_FIELDS = ("normalized", "tokens", "sentiment", "polarity", "spam", "rumour", "keywords", "pii", "reasons",
                    "model_version", "topic", "debunk_id", "extra")
# positional construction only while core.domain.Analysis lists its fields in this order
_POSITIONAL = tuple(f.name for f in dataclasses.fields(Analysis))[: len(_ANALYSIS_FIELDS)] == _ANALYSIS_FIELDS
