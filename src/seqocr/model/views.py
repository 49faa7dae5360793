"""Which views a sign is read from: the sharpest, and the greedy reader's early exit.

A sign has 4 views of one plate; a model with ``read_views: k`` reads the ``k`` with the most detail. With
``reread_below: t`` too, greedy reading exits early: every sign is read from its ``k`` sharpest views, and those
whose reading is less confident than ``t`` are read again from their ``k + 1`` sharpest. The backbone and the
BiLSTM encode each view apart (the views meet only in the decoder's attention), so the second reading encodes
one view, the ``k + 1``-th, and reuses the ``k`` already encoded: the reading of ``read_views: k + 1`` for those
signs (up to the order of float sums), at the cost of one view and a second decoding. On the shipped model (``k`` 2, ``t`` 0.9, chosen on
generated calibration signs) about one sign in six is read again: 2.2 views a sign for the accuracy of 3
(BENCHMARKS, "early exit").

Everything is tensor operations with no data-dependent Python branch while tracing, so the ONNX export holds
the whole early exit in its one greedy graph (the signs read again are gathered, encoded, decoded and scattered
back; the graph always reads one sign again, since ONNX Runtime cannot run the second part on an empty batch).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import Encoding, GreedyMemory, SearchMemory, mask_after_eos, split_views

TIE_BREAK = 1e-6  # per view index, subtracted from its detail (mean |difference| of neighbours, from 0 to 2)


def views_by_detail(views: Tensor) -> Tensor:
    """(V, B, C, H, W) views -> (V, B) each sample's view indices, the most detailed first: the largest mean
    absolute difference between horizontal neighbours (focus and contrast: blurred, dim or washed-out views
    score low). Equal views (a sign seen fewer than 4 times has its real views repeated in the noise tiles' places)
    rank in view order: PyTorch's topk leaves ties in no set order, ONNX Runtime's puts the lower index first, so
    each view's score is lowered by a millionth of its index, far below any difference between two photographs."""
    detail = (views[..., 1:] - views[..., :-1]).abs().mean((2, 3, 4))           # (V, B)
    rank = torch.arange(views.shape[0], device=views.device, dtype=detail.dtype).unsqueeze(1)   # (V, 1)
    return (detail - TIE_BREAK * rank).topk(views.shape[0], dim=0).indices


def sharpest_views(views: Tensor, k: int) -> Tensor:
    """(V, B, C, H, W) views -> (k, B) indices of each sample's ``k`` most detailed views, in view order; the
    ``k`` sharpest are among the ``k + 1`` sharpest, which the early exit relies on."""
    return views_by_detail(views)[:k].sort(0).values


def reread_greedy(model, images: Tensor, maps: bool = False) -> tuple[Tensor, ...]:
    """The early exit of a default model with ``read_views`` k and ``reread_below`` t: greedy ids (B, T) and
    probabilities (B, T), masked after EOS as ``greedy``'s, and with ``maps`` the attention laid over the views
    (B, T, V, R, W), zeros on the views a sign was not read from."""
    return reread_greedy_views(model, split_views(images, model.num_views), images.shape[0], maps)


def reread_greedy_views(model, views: Tensor, b: int, maps: bool = False) -> tuple[Tensor, ...]:
    """:func:`reread_greedy` of ``b`` signs' views already apart (V·B, 3, H, W), view-major (``b`` a size taken
    from a tensor, so that a trace keeps the batch dynamic)."""
    ids, probs, attention, _, _ = _reread(model, views, b, maps)
    return (ids, probs, attention) if maps else (ids, probs)


def reread_greedy_memory(model, views: Tensor, b: int, memory_below: Tensor) -> GreedyMemory:
    """:func:`reread_greedy_views`, and the memory a search starts from for the signs less confident than
    ``memory_below`` or ``reread_below`` after their first reading: their memory from one view more, as the
    early exit reads them again (a scalar tensor, an input of the exported greedy graph: a reader searching the
    signs under its gate asks for theirs; 0 gives those read again only). Only the signs under ``reread_below``
    are read again: the greedy readings do not depend on ``memory_below`` (but for float rounding: those signs are
    decoded again in one batch with the others)."""
    ids, probs, _, rows, memory = _reread(model, views, b, False, memory_below)
    return GreedyMemory(ids, probs, rows, memory)


def _reread(model, views: Tensor, b: int, maps: bool, memory_below: Tensor | None = None
            ) -> tuple[Tensor, Tensor, Tensor | None, Tensor, Tensor]:
    """The early exit's ids, probs and maps, the rows whose memory of ``read_views`` + 1 views was computed (those
    read again, and those under ``memory_below``), and that memory."""
    v, k = model.num_views, model.read_views
    order = views_by_detail(views.unflatten(0, (v, b)))
    first = order[:k].sort(0).values                                            # (k, B)
    encoding = model.encode_views(views, b, first)
    ids, probs, attention = _decode(model, encoding, maps)
    confidence = probs.prod(1)
    unsure = confidence < model.reread_below                                    # (B,) the signs read again
    wanted = (unsure if memory_below is None else unsure | (confidence < memory_below)).nonzero()[:, 0]  # (B',)
    if not torch.jit.is_tracing():
        if wanted.numel() == 0:
            _, length, d = encoding.memory.shape
            return ids, probs, attention, wanted, encoding.memory.new_zeros(0, length // k * (k + 1), d)
        todo = wanted
    else:  # ONNX Runtime aborts on an empty batch: the graph reads one sign more (the first, again) and drops it
        todo = torch.cat([wanted, wanted.new_zeros(1)])
    memory, extra = _one_view_more(model, views, b, order, encoding.memory, todo)   # (B', (k + 1)·L, d), (1, B')
    again = _decode(model, Encoding(memory, torch.cat([first.index_select(1, todo), extra]), {}), maps)
    n = wanted.shape[0]
    redo = unsure.index_select(0, wanted)                                       # (n,) which of them are read again

    def update(old: Tensor, new: Tensor) -> Tensor:
        keep = redo.reshape(-1, *[1] * (old.dim() - 1))
        return old.index_put((wanted,), torch.where(keep, new[:n], old.index_select(0, wanted)))

    ids, probs = update(ids, again[0]), update(probs, again[1])
    return ids, probs, update(attention, again[2]) if maps else None, wanted, memory[:n]


def reread_memory(model, images: Tensor) -> SearchMemory:
    """What a search over ``images`` starts from with the early exit: each sign's memory from its ``read_views``
    sharpest views, and for the rows read again the memory of those views and the next sharpest one."""
    v, b, k = model.num_views, images.shape[0], model.read_views
    views = split_views(images, v)                                              # (V·B, 3, H, W)
    order = views_by_detail(views.unflatten(0, (v, b)))                         # (V, B), sharpest first
    memory = model.encode_views(views, b, order[:k].sort(0).values).memory
    return SearchMemory(memory, lambda rows: _one_view_more(model, views, b, order, memory, rows)[0],
                        model.reread_below)


def _one_view_more(model, views: Tensor, b: int, order: Tensor, memory: Tensor, rows: Tensor
                   ) -> tuple[Tensor, Tensor]:
    """The memory of ``rows`` (B',) from the ``read_views`` k views read first (``memory``) and then the next
    sharpest one of ``order`` (V, B) (B', (k + 1)·L, d), and which view that is (1, B'). The decoder's attention
    and mean are blind to the order of the memory: the view embeddings say which view is which (and view_pick
    where each sits, for the maps)."""
    k = model.read_views
    extra = order[k:k + 1].index_select(1, rows)                                # (1, B'): the next sharpest
    more = model.encode_views(views, b, extra, rows).memory                     # (B', L, d)
    return torch.cat([memory.index_select(0, rows), more], 1), extra


def _decode(model, encoding: Encoding, maps: bool) -> tuple[Tensor, Tensor, Tensor | None]:
    greedy = model.decode_steps(encoding)
    ids, probs = mask_after_eos(greedy.ids, greedy.probs)
    laid = model.attention_map(torch.stack(greedy.attention, 1).float(), encoding.view_pick) if maps else None
    return ids, probs, laid
