"""A batch taken through the pipeline's first steps (normalise, tokenise, cue scan), for tests that look
at cue hits and columns without the models."""
from __future__ import annotations


def cued_batch(texts: list[str]):
    from nlp.components import Cues, Normalize, Tokenize, make_batch

    batch = make_batch(texts)
    for comp in (Normalize(), Tokenize(), Cues()):
        batch = comp.pipe(batch, None)  # type: ignore[arg-type]
    return batch
