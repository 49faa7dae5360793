"""The view picker (model/views.py): a model with ``read_views: k`` reads the k views with the most detail along the
line of text, measured between horizontal neighbours. Views built so that horizontal and vertical detail disagree:
a picker that measured vertically, or both ways, would choose other views."""

from __future__ import annotations

import torch

from seqocr.model.views import sharpest_views, views_by_detail


def striped(columns: list[float], rows: list[float], batch: int = 1) -> torch.Tensor:
    """(V, B, 3, 8, 16) views: view v alternates by ``columns[v]`` from one column to the next (its horizontal
    detail: mean |difference| 2·columns[v]) and by ``rows[v]`` from one row to the next (vertical detail)."""
    x = torch.arange(16).remainder(2).float() * 2 - 1                           # +1, -1, ... along the width
    y = torch.arange(8).remainder(2).float() * 2 - 1                            # along the height
    views = [c * x.view(1, 16) + r * y.view(8, 1) for c, r in zip(columns, rows)]   # (8, 16) each
    return torch.stack(views)[:, None, None].expand(-1, batch, 3, -1, -1).clone()


def test_views_whose_detail_differs_only_horizontally_are_ranked_by_it():
    views = striped(columns=[0.1, 0.4, 0.2, 0.3], rows=[0.3] * 4)  # the same vertical detail everywhere
    assert views_by_detail(views)[:, 0].tolist() == [1, 3, 2, 0]
    assert sharpest_views(views, 2)[:, 0].tolist() == [1, 3]      # in view order


def test_vertical_detail_does_not_count():
    """A view with the most detail between rows (a blind's slats, a view smeared along the line of text) is
    ranked by its detail along the line: last here."""
    views = striped(columns=[0.1, 0.4, 0.2, 0.3], rows=[0.9, 0.0, 0.5, 0.2])
    assert views_by_detail(views)[:, 0].tolist() == [1, 3, 2, 0]
    assert sharpest_views(views, 3)[:, 0].tolist() == [1, 2, 3]


def test_each_sign_of_a_batch_is_ranked_by_its_own_views():
    first = striped(columns=[0.1, 0.4, 0.2, 0.3], rows=[0.0] * 4)
    second = striped(columns=[0.5, 0.0, 0.3, 0.1], rows=[0.0] * 4)
    views = torch.cat([first, second], 1)                                     # (4, 2, 3, 8, 16)
    assert views_by_detail(views).t().tolist() == [[1, 3, 2, 0], [0, 2, 3, 1]]
    assert sharpest_views(views, 1).t().tolist() == [[1], [0]]


def test_equal_views_rank_in_view_order_in_pytorch_and_onnx_runtime(tmp_path):
    """A sign seen twice has its two real views repeated where the noise tiles were: equal views rank in view order
    (lower index first) in both engines, so PyTorch and ONNX Runtime pick the same ones."""
    import onnxruntime as ort

    views = striped(columns=[0.3, 0.3, 0.1, 0.3], rows=[0.0] * 4, batch=2)
    views[:, 1] = striped(columns=[0.2, 0.2, 0.2, 0.2], rows=[0.0] * 4)[:, 0]
    expected = [[0, 1, 3, 2], [0, 1, 2, 3]]
    assert views_by_detail(views).t().tolist() == expected
    path = tmp_path / "views.onnx"

    class Rank(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return views_by_detail(x)

    torch.onnx.export(Rank(), (views,), str(path), dynamo=False, opset_version=17, input_names=["views"],
                      output_names=["order"], dynamic_axes={"views": {1: "batch"}})
    order = ort.InferenceSession(str(path)).run(None, {"views": views.numpy()})[0]
    assert order.T.tolist() == expected
