"""The reference: MindSpore model-zoo CRNN-Seq2Seq-OCR, layer for layer (its source: research/cv/CRNN_Seq2Seq_OCR in
the MindSpore model zoo; docs/models.md, "The two architectures").

Faithful details kept on purpose, weaknesses included:

* 4 views of 3×128×128 through ONE shared VGG; convs without bias; BN only on convs 3, 5, 7, 9 and the last;
  the last conv is 2×2 "valid" after a one-column zero pad on the right, giving 32×1×64 per view.
* In training the views go through the CNN as 4 separate calls (per-view BatchNorm statistics and 4
  running-stat updates per step, as the reference does); in eval they are folded into the batch, which gives
  the same numbers because BN then uses its running statistics.
* Views are fused on the channel axis: time step t holds column t of all four views (T=64, 4·32=128 features).
* Two BiLSTM(128) + Linear(256->128) blocks. PyTorch's LSTM has two bias vectors where MindSpore's DynamicRNN has
  one: +2,048 parameters, which is why this model has 11,845,072 with a 10,000-way vocabulary.
* Location-only attention: the weights come from [embedding; hidden] through Linear(256->64) and never look at
  the encoder outputs; this couples max_len to the CNN width (64).
* GRU(128) decoder from a zero state, log_softmax over the (padded) vocabulary, 64 greedy steps.
* Init: convs Kaiming-normal (fan_in, gain √2); Linear N(0, 0.01²) with zero bias and Embedding N(0, 0.01²)
  (MindSpore ≤ 2.0 defaults); LSTM/GRU U(±1/√128) (PyTorch's default equals MindSpore's here).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import Config, ModelConfig
from ..errors import ConfigError
from .base import Encoding, Seq2SeqOCR, gru_cell, split_views


def _conv(cin: int, cout: int, bn: bool, kernel: int = 3, padding: int = 1) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, kernel, padding=padding, bias=False)]
    if bn:
        layers.append(nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1))
    layers.append(nn.ReLU(inplace=True))
    return layers


class ReferenceCNN(nn.Module):
    """One view 3×128×128 -> 32×64 (channels × columns)."""

    def __init__(self, out_channels: int = 32):
        super().__init__()
        pool21 = nn.MaxPool2d((2, 1), (2, 1))
        self.body = nn.Sequential(
            *_conv(3, 64, False), nn.MaxPool2d(2, 2),           # 64×64×64
            *_conv(64, 128, False), pool21,                      # 128×32×64
            *_conv(128, 256, True), *_conv(256, 256, False), pool21,   # 256×16×64
            *_conv(256, 384, True), *_conv(384, 384, False), pool21,   # 384×8×64
            *_conv(384, 384, True), *_conv(384, 384, False), pool21,   # 384×4×64
            *_conv(384, 384, True), *_conv(384, 384, False), pool21,   # 384×2×64
            nn.ZeroPad2d((0, 1, 0, 0)),                                 # 384×2×65
            *_conv(384, out_channels, True, kernel=2, padding=0),      # 32×1×64
            nn.Dropout(0.5),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x).squeeze(2)  # (N, 32, 64)


class BidirectionalLSTM(nn.Module):
    """BiLSTM(hidden per direction) followed by a Linear on every time step. Batch-first (B, T, F)."""

    def __init__(self, inp: int, hidden: int, out: int):
        super().__init__()
        self.rnn = nn.LSTM(inp, hidden, bidirectional=True, batch_first=True)
        self.proj = nn.Linear(2 * hidden, out)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(self.rnn(x)[0])


class ReferenceOCR(Seq2SeqOCR):
    # it reads only the shared keys (a config that carries another architecture's: seqocr.model.own_keys)

    @classmethod
    def check_config(cls, cfg: Config) -> None:
        super().check_config(cfg)
        m = cfg.model
        if (m.view_height, m.view_width, m.max_len) != (128, 128, 64):
            raise ConfigError("model.name=reference needs view_height=view_width=128 and max_len=64: its attention "
                              "layer has one output per CNN column (the coupling the reference bakes in)")

    def __init__(self, cfg: ModelConfig, num_classes: int):
        super().__init__()
        self.num_views, self.max_len, self.num_classes = cfg.num_views, cfg.max_len, num_classes
        self.teacher_forcing = cfg.teacher_forcing
        h = cfg.hidden
        self.cnn = ReferenceCNN(h // cfg.num_views)
        self.lstm1 = BidirectionalLSTM(h, h, h)
        self.lstm2 = BidirectionalLSTM(h, h, h)
        self.embedding = nn.Embedding(num_classes, h)
        self.dropout = nn.Dropout(cfg.dropout)
        self.attn = nn.Linear(2 * h, cfg.max_len)
        self.attn_combine = nn.Linear(2 * h, h)
        self.gru = nn.GRUCell(h, h)
        self.out = nn.Linear(h, num_classes)
        self._init_weights()
        # a memory layout, not a change of the model: oneDNN's convolutions are ~1.27x faster channels-last
        # (training step, fp32; BENCHMARKS, the ablation)
        self.memory_format = torch.channels_last
        self.cnn.to(memory_format=self.memory_format)

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            elif isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, 0.0, 0.01)
                if getattr(m, "bias", None) is not None:
                    nn.init.zeros_(m.bias)

    def encode_all(self, images: Tensor) -> Encoding:
        """(B, 3, 128, 512) -> encoder outputs (B, 64, 128), every view read."""
        if self.training:  # four calls: per-view BN batch statistics, as the reference
            x = torch.cat([self.cnn(v.contiguous(memory_format=self.memory_format))
                           for v in torch.chunk(images, self.num_views, dim=3)], 1)
        else:  # one call on the views folded into the batch; reshaped (not chunked) so ONNX keeps N dynamic
            f = self.cnn(split_views(images, self.num_views).contiguous(memory_format=self.memory_format))
            x = f.reshape(self.num_views, -1, f.shape[1], f.shape[2]).transpose(0, 1).flatten(1, 2)
        x = x.transpose(1, 2)  # views on channels: (B, 64, 4·32)
        return Encoding(self.lstm2(self.lstm1(x)))

    def init_state(self, memory: Tensor) -> tuple[Tensor, ...]:
        return (memory.new_zeros(memory.shape[0], self.gru.hidden_size),)

    def step(self, tokens: Tensor, state: tuple[Tensor, ...], memory: Tensor
             ) -> tuple[Tensor, tuple[Tensor, ...], Tensor]:
        (h,) = state
        e = self.dropout(self.embedding(tokens))                                   # (B, 128)
        a = F.softmax(self.attn(torch.cat([e, h], 1)), dim=1)                      # (B, 64): location only
        ctx = torch.bmm(a.unsqueeze(1).to(memory.dtype), memory).squeeze(1)        # (B, 128)
        x = F.relu(self.attn_combine(torch.cat([e, ctx.to(e.dtype)], 1)))
        h = gru_cell(self.gru, x, h.to(x.dtype))
        return F.log_softmax(self.out(h).float(), dim=-1), (h,), a.float()

    def attention_map(self, attention: Tensor, view_pick: Tensor | None = None) -> Tensor:
        """(..., T) location weights -> (..., V, 1, T): every view's features sit at the same T positions (stacked
        on channels), so one weight covers the same column band of each view."""
        return attention.unsqueeze(-2).unsqueeze(-2).expand(*attention.shape[:-1], self.num_views, 1, -1)
