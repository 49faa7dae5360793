"""seqocr's own model: the reference's plan with its weaknesses fixed, sized for a 2-core CPU.

What changes against the reference (:mod:`seqocr.model.reference`; docs/models.md, "The two architectures") and why:

* Views are folded into the batch through one small BN-VGG (4× fewer, far cheaper convs on smaller views) and
  concatenated along *time*, not channels, with a learned view embedding: the decoder can then attend to the
  view where a character is sharpest, as attention_ocr does.
* Content-based (additive, Bahdanau) attention over the encoder outputs instead of location-only weights, so
  the sequence length no longer has to equal a layer size and the model aligns by what it sees.
* The output layer covers the charset (136 FSNS tokens) instead of 10,000 classes.
* Training uses a masked per-token loss (losses.py) and a learning-rate schedule (train/loop.py); decoding stops
  counting at EOS (base.mask_after_eos); no batch size is baked into any state.

Shapes (view 64×64, channels [32, 64, 128, 192]): views (4B, 3, 64, 64) -> CNN (4B, 192, 4, 16) -> height
collapsed (4B, 16, hidden) -> BiLSTM per view -> memory (B, 4·16, hidden). With ``rows: keep`` the last height
pooling is skipped: (4B, hidden, 8, 16) -> BiLSTM per row -> memory (B, 4·8·16, hidden), a 2-D attention.

With ``backbone: ppocrv6`` the CNN is PP-OCRv6 rec small's pretrained backbone (:mod:`.ppocr`), frozen or partly
trainable, then a 1×1 projection with normalisation: views (4B, 3, 128, 128) -> (4B, 384, 8, 32) -> (4B, hidden,
8, 32) -> BiLSTM per row -> memory (B, 4·8·32, hidden) with row and view embeddings. With ``train_views: k`` each
training sample shows the model k of its views, drawn at random (view dropout); reading uses them all, or the
sharpest ``read_views``, first fewer and one more for the unsure signs with ``reread_below`` (:mod:`.views`).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import Config, ModelConfig, check_signs
from ..errors import ConfigError
from .base import Encoding, GreedyMemory, SearchMemory, Seq2SeqOCR, gru_cell, split_views
from .views import reread_greedy, reread_greedy_memory, reread_memory, sharpest_views


def norm_layer(kind: str, channels: int) -> nn.Module:
    """``batch`` (the default), or ``group`` (GroupNorm: no batch statistics, so N processes of batch B train
    exactly like one of batch N·B, where CPU DDP has no SyncBatchNorm)."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "group":
        return nn.GroupNorm(math.gcd(8, channels), channels)
    raise ConfigError(f"model.norm: unknown normalisation {kind!r}; choose from batch, group")


def conv_bn_relu(cin: int, cout: int, kernel: int | tuple[int, int] = 3, padding: int | tuple[int, int] = 1,
                 norm: str = "batch") -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, padding=padding, bias=False), norm_layer(norm, cout),
                         nn.ReLU(inplace=True))


class DefaultCNN(nn.Module):
    """One view (3, H, W) -> (out, R, W/4): R = 1 row when ``keep_rows`` is off (the last conv spans the remaining
    H/16 rows, as the reference collapses height), else R = H/8 rows (no last height pooling, a 1×1 conv), so that
    the 2-3 lines of a sign (about 8-10 pixels apart on a 64-pixel view) stay apart for a 2-D attention.
    H must be divisible by 16, W by 4."""

    def __init__(self, channels: list[int], view_height: int, out: int, norm: str = "batch",
                 keep_rows: bool = False):
        super().__init__()
        c0, c1, c2, c3 = channels
        pool21 = nn.MaxPool2d((2, 1), (2, 1))
        block = functools.partial(conv_bn_relu, norm=norm)
        self.body = nn.Sequential(
            block(3, c0), nn.MaxPool2d(2),                                  # H/2,  W/2
            block(c0, c1), nn.MaxPool2d(2),                                 # H/4,  W/4
            block(c1, c2), block(c2, c2), pool21,                           # H/8,  W/4
            block(c2, c3), block(c3, c3), nn.Identity() if keep_rows else pool21,  # H/8 or H/16, W/4
            block(c3, out, kernel=(1 if keep_rows else view_height // 16, 1), padding=0),  # R, W/4
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)  # (N, out, R, W/4)


class AdditiveAttention(nn.Module):
    """score_s = v · tanh(K m_s + Q h). The keys K m are computed once per image, outside the decoding loop."""

    def __init__(self, dim: int, query_dim: int, attention_dim: int):
        super().__init__()
        self.key = nn.Linear(dim, attention_dim, bias=False)
        self.query = nn.Linear(query_dim, attention_dim)
        self.score = nn.Linear(attention_dim, 1, bias=False)

    def forward(self, h: Tensor, keys: Tensor, memory: Tensor) -> tuple[Tensor, Tensor]:
        """-> the context (B, D) and the attention weights (B, S), float32."""
        e = self.score(torch.tanh(keys + self.query(h).unsqueeze(1))).squeeze(2)   # (B, S)
        a = F.softmax(e.float(), dim=1)
        return torch.bmm(a.unsqueeze(1).to(memory.dtype), memory).squeeze(1), a     # (B, D), (B, S)


@dataclass
class DefaultSettings:
    """The default model's own keys of the ``model:`` section (beside the shared ones of ModelConfig)."""
    channels: list[int] = field(default_factory=lambda: [32, 64, 128, 192])  # the BN-VGG's widths
    attention_dim: int = 128         # additive attention size
    embed_dim: int = 64              # token embedding size
    norm: str = "batch"              # "batch" or "group" (no batch statistics)
    rows: str = "collapse"           # "collapse" each view to one row, or "keep" H/8 rows (2-D)
    backbone: str = "vgg"            # "vgg" (the 64x64 BN-VGG) or "ppocrv6" (PP-OCRv6's, pretrained)
    backbone_weights: str = ""       # ppocrv6: "rapidocr" (the installed wheel's ONNX file) or an .onnx path, read
                                     # when a run starts afresh; "" = random initialisation
    trainable_stages: int = 0        # ppocrv6: how many of its last 6 stages train (0 = frozen)
    train_views: int = 0             # views per sample in training, drawn at random (view dropout); 0 = all
    read_views: int = 0              # views read per sample, the sharpest; 0 = all (a reading choice: fewer views
                                     # cost less, the weights are the same)
    reread_below: float = 0.0        # greedy reading: a sign whose read_views-view reading is less confident than
                                     # this is read again with one view more (the early exit, model/views.py);
                                     # 0 = never. Beam search and training's validation read read_views + 1 views
    temperature: float = 1.0         # logits are divided by this (fitted after training so that confidences match
                                     # accuracy; seqocr.calibration)
    char_map: bool = False           # a 1x1 head classifying each feature cell's character, trained by
                                     # train.char_map_loss and unused in reading (CA-FCN's character map)
    neck: str = ""                   # ppocrv6: "" (the backbone's 384 channels) or "ppocrv6": PP-OCRv6 rec's own
                                     # neck after it, frozen (model/ppocr_neck.py), every window of 3 feature rows
                                     # read as one line: 120 channels at stride 4 x 8


class DefaultOCR(Seq2SeqOCR):
    static_state = (2,)  # the attention keys (init_state): computed once per image
    weight_keys = (*Seq2SeqOCR.weight_keys, "channels", "attention_dim", "norm", "rows", "backbone", "embed_dim",
                   "neck")
    glyph_losses = True
    Settings = DefaultSettings
    reading_keys = ("temperature", "read_views", "reread_below")
    fitted_keys = ("temperature",)  # scripts/ship_model.py fits it to the trained weights
    pretrained_needs = "model.backbone: ppocrv6, model.backbone_weights, model.trainable_stages >= 1"
    BACKBONES = ("vgg", "ppocrv6")
    VIEW_SIZE = ("view_height", "view_width")  # a ppocrv6 model may change them on init_from (finetune.resize_rows)

    @classmethod
    def check_config(cls, cfg: Config) -> None:
        super().check_config(cfg)
        m, s = cfg.model, cls.check_shape(cfg.model)
        check_signs({"model.attention_dim": s.attention_dim, "model.embed_dim": s.embed_dim,
                     "model.temperature": s.temperature, **{f"model.channels[{i}]": c for i, c in enumerate(s.channels)}},
                    {"model.trainable_stages": s.trainable_stages, "model.train_views": s.train_views,
                     "model.read_views": s.read_views})
        if max(s.train_views, s.read_views) > m.num_views:
            raise ConfigError(f"model.train_views and model.read_views must be at most model.num_views ({m.num_views}; "
                              f"train_views {s.train_views}, read_views {s.read_views})")
        if not 0 <= s.reread_below <= 1:
            raise ConfigError(f"model.reread_below must be from 0 (never read again) to 1, got {s.reread_below}")
        if s.reread_below and not 0 < s.read_views < m.num_views:
            raise ConfigError(f"model.reread_below reads a sign again with one view more: it needs model.read_views "
                              f"from 1 to {m.num_views - 1} (got {s.read_views})")
        if s.backbone not in cls.BACKBONES:
            raise ConfigError(f"model.backbone: unknown backbone {s.backbone!r}; choose from {', '.join(cls.BACKBONES)}")
        if s.trainable_stages > 6:
            raise ConfigError("model.trainable_stages must be at most 6 (PP-OCRv6's backbone has 6 stages)")
        if cfg.train.char_map_loss and not s.char_map:
            raise ConfigError("train.char_map_loss needs model.char_map: true (the head it trains)")
        if s.neck and not (s.backbone == "ppocrv6" and s.backbone_weights):
            raise ConfigError("model.neck: ppocrv6 needs model.backbone: ppocrv6 and model.backbone_weights (the "
                              "neck is PP-OCRv6's own, read from the same file)")

    @classmethod
    def with_reading(cls, m: ModelConfig, reading) -> ModelConfig:
        """A view count alone (``read_views``) reads exactly that many views: the early exit the model had is off
        unless ``reread_below`` is given too."""
        m = super().with_reading(m, reading)
        if "read_views" in reading and "reread_below" not in reading and "reread_below" in m.options:
            m = m.replace(reread_below=0.0)
        return m

    @classmethod
    def check_shape(cls, m: ModelConfig) -> DefaultSettings:
        """Its settings, refused where no model can be built from them (checked by check_config and __init__)."""
        s = cls.settings(m)
        if m.view_height % 16 or m.view_width % 4 or len(s.channels) != 4:
            raise ConfigError("model default: view_height must divide by 16, view_width by 4, "
                              "and channels must list 4 widths")
        if s.rows not in ("collapse", "keep"):
            raise ConfigError(f"model.rows: unknown {s.rows!r}; choose from collapse, keep")
        if s.neck not in ("", "ppocrv6"):
            raise ConfigError(f"model.neck: unknown neck {s.neck!r}; choose from '' (none), ppocrv6")
        return s

    @classmethod
    def pretrained_stages_in(cls, m: ModelConfig) -> bool:
        s = cls.settings(m)
        return bool(s.backbone == "ppocrv6" and s.trainable_stages and s.backbone_weights)

    @classmethod
    def fixed_keys(cls, m: ModelConfig) -> tuple[str, ...]:
        ppocr = cls.settings(m).backbone == "ppocrv6"
        return tuple(k for k in cls.weight_keys if not (ppocr and k in cls.VIEW_SIZE))

    def __init__(self, cfg: ModelConfig, num_classes: int):
        super().__init__()
        s = self.check_shape(cfg)
        self.num_views, self.max_len, self.num_classes = cfg.num_views, cfg.max_len, num_classes
        self.teacher_forcing = cfg.teacher_forcing
        d = cfg.hidden
        self.train_views, self.read_views, self.reread_below = s.train_views, s.read_views, s.reread_below
        self.temperature = s.temperature  # confidence calibration (calibration.py): logits / T
        self.backbone, self.backbone_weights, self.neck = None, s.backbone_weights, None
        if s.backbone == "ppocrv6":
            from .ppocr import CHANNELS, STRIDE, PPOCRBackbone

            self.backbone = PPOCRBackbone()
            self.frozen = self.backbone.stages[:len(self.backbone.stages) - s.trainable_stages]
            for name in self.frozen:
                getattr(self.backbone, name).requires_grad_(False)
            if s.neck:
                from .ppocr_neck import WIDTH, PPOCRNeck

                self.neck = PPOCRNeck(row_stride=1).requires_grad_(False)  # frozen: its published weights
            self.cnn = nn.Sequential(nn.Conv2d(WIDTH if s.neck else CHANNELS, d, 1, bias=False), norm_layer(s.norm, d))
            self.rows = -(-cfg.view_height // STRIDE[0])
        else:
            self.cnn = DefaultCNN(s.channels, cfg.view_height, d, s.norm, keep_rows=s.rows == "keep")
            self.rows = cfg.view_height // 8 if s.rows == "keep" else 1
        if self.rows > 1:  # where each row sits, for the 2-D attention (columns are known to the BiLSTM)
            self.row_embedding = nn.Parameter(torch.zeros(self.rows, 1, d))
        self.rnn = nn.LSTM(d, d // 2, bidirectional=True, batch_first=True)
        self.view_embedding = nn.Parameter(torch.zeros(cfg.num_views, 1, d))
        self.init_h = nn.Linear(d, d)
        self.embedding = nn.Embedding(num_classes, s.embed_dim)
        self.gru = nn.GRUCell(s.embed_dim + d, d)
        self.attention = AdditiveAttention(d, d, s.attention_dim)
        self.dropout = nn.Dropout(cfg.dropout)
        self.out = nn.Linear(2 * d, num_classes)
        self.char_head = nn.Conv2d(d, num_classes, 1) if s.char_map else None  # training only (char_logits)
        if self.char_head is not None:
            self.token_layers = (*Seq2SeqOCR.token_layers, "char_head.weight", "char_head.bias")
        for m in self.cnn.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        nn.init.normal_(self.view_embedding, 0.0, 0.02)
        if self.rows > 1:
            nn.init.normal_(self.row_embedding, 0.0, 0.02)
        self.memory_format = torch.channels_last  # oneDNN's fast layout on CPU (BENCHMARKS, the ablation)
        for convs in (self.cnn, self.backbone):
            if convs is not None:
                convs.to(memory_format=self.memory_format)

    def weights_file(self) -> str | None:
        """The ONNX file the published weights come from: None for the installed rapidocr wheel's."""
        return None if self.backbone_weights == "rapidocr" else self.backbone_weights

    def load_pretrained(self) -> str | None:
        detector = self.load_detector()
        if self.backbone is None or not self.backbone_weights:
            return detector
        from .ppocr import load_onnx_weights

        source = self.weights_file()
        path = load_onnx_weights(self.backbone, source)
        what = f"backbone: PP-OCRv6 rec small weights from {path}"
        if self.neck is not None:
            from .ppocr_neck import load_onnx_neck_weights

            load_onnx_neck_weights(self.neck, source)
            what = f"backbone and neck: PP-OCRv6 rec small weights from {path}"
        return "; ".join(w for w in (what, detector) if w)

    def pretrained_anchors(self) -> list[tuple[nn.Parameter, Tensor]]:
        if self.backbone is None or not self.backbone_weights:
            return []
        from .ppocr import PPOCRBackbone, load_onnx_weights

        published = PPOCRBackbone()
        load_onnx_weights(published, self.weights_file())
        trained = dict(self.backbone.named_parameters())
        return [(trained[name], w.detach()) for name, w in published.named_parameters() if trained[name].requires_grad]

    def pretrained_stages(self) -> list[nn.Module]:
        """The backbone's trainable stages (the optimizer gives them a lower learning rate)."""
        if self.backbone is None:
            return []
        return [getattr(self.backbone, n) for n in self.backbone.stages if n not in self.frozen]

    def features(self, views: Tensor) -> tuple[Tensor, dict]:
        """(N, 3, H, W) views -> (N, hidden, R, W') feature maps, and in training what a loss or the log may use:
        ``feature_scale``, the mean |backbone output| (a drift alarm), and with a character-map head its logits
        per cell, ``char_logits`` (N, C, R, W')."""
        aux = {}
        if self.backbone is None:
            f = self.cnn(views)
        else:
            x = views.flip(1)  # PP-OCR reads BGR
            for name in self.backbone.stages:
                with torch.set_grad_enabled(torch.is_grad_enabled() and name not in self.frozen):
                    x = getattr(self.backbone, name)(x)
            if self.training:
                aux["feature_scale"] = x.detach().float().abs().mean()
            if self.neck is not None:  # each row the middle of a 3-row window: the edge rows repeated outside
                x = self.neck(F.pad(x, (0, 0, 1, 1), mode="replicate"))
            f = self.cnn(x)
        if self.training and self.char_head is not None:
            aux["char_logits"] = self.char_head(f)
        return f, aux

    def encode_all(self, images: Tensor) -> Encoding:
        """(B, 3, H, V·W) -> memory (B, V'·R·W', hidden), views (and rows) one after the other; V' = V, or
        ``train_views`` views drawn per sample in training, or in reading the sharpest ``read_views`` (one more
        with ``reread_below``: the greedy reader's early exit reads fewer first, :meth:`greedy`) (which, in the
        encoding's ``view_pick``)."""
        return self.encode_all_views(split_views(images, self.num_views), images.shape[0])

    def encode_all_views(self, views: Tensor, b: int) -> Encoding:
        """:meth:`encode_all` of ``b`` samples' views already apart (V·B, 3, H, W), view-major."""
        v = self.num_views
        keep = self.train_views if self.training else self.read_views + (self.reread_below > 0)
        pick = None
        if 0 < keep < v:
            if self.training:
                pick = torch.rand(b, v, device=views.device).argsort(1)[:, :keep].t()  # (V', B)
            else:  # the views with the most detail: mean |difference| of horizontal neighbours
                pick = sharpest_views(views.unflatten(0, (v, b)), keep)
        return self.encode_views(views, b, pick)

    def encode_views(self, views: Tensor, b: int, pick: Tensor | None = None, samples: Tensor | None = None
                     ) -> Encoding:
        """:meth:`encode_all` of the views of ``b`` samples (V·B, 3, H, W), view-major: those of ``pick`` (V', B')
        (view indices) of the samples ``samples`` (B',) (all B when None), or every view of every sample. Each
        view is encoded apart: the views meet only in the decoder's attention. (``b`` and the batch sizes are
        sizes of tensors, never Python arithmetic on them, so that an ONNX trace keeps the batch dynamic.)"""
        v, n = self.num_views, b
        view_emb = self.view_embedding.reshape(v, 1, -1)                        # (V, 1, d)
        if pick is not None:
            if samples is None:
                samples = torch.arange(b, device=views.device)
            v, n, view_emb = pick.shape[0], samples.shape[0], view_emb[pick, 0]  # (V', B', d)
            views = views[(pick * b + samples).reshape(-1)]                     # (V'·B', 3, H, W)
        f, aux = self.features(views.contiguous(memory_format=self.memory_format))  # (V'·B', d, R, W')
        d, r, w = f.shape[1], f.shape[2], f.shape[3]
        x = self.rnn(f.permute(0, 2, 3, 1).reshape(-1, w, d))[0]               # (V'·B'·R, W', d): rows apart
        x = x.reshape(v, n, r, w, d) + view_emb.reshape(v, -1, 1, 1, d)
        if self.rows > 1:
            x = x + self.row_embedding.reshape(1, 1, r, 1, d)
        return Encoding(x.transpose(0, 1).reshape(n, -1, d), pick, aux)

    @property
    def exits_early(self) -> bool:
        """Whether greedy reading takes the early exit (:func:`.views.reread_greedy`): set, and not training."""
        return bool(self.reread_below) and not self.training

    def search_memory(self, images: Tensor) -> SearchMemory:
        """With the early exit, the memory of each sign's ``read_views`` sharpest views, and for the unsure ones
        (under ``reread_below``) of one view more (:func:`.views.reread_memory`), as greedy reading reads them."""
        return reread_memory(self, images) if self.exits_early else super().search_memory(images)

    @torch.no_grad()
    def greedy(self, images: Tensor) -> tuple[Tensor, Tensor]:
        return reread_greedy(self, images)[:2] if self.exits_early else super().greedy(images)

    @torch.no_grad()
    def greedy_memory(self, images: Tensor, memory_below: Tensor | None = None) -> GreedyMemory:
        return self.greedy_views_memory(split_views(images, self.num_views), images.shape[0], memory_below)

    @torch.no_grad()
    def greedy_views_memory(self, views: Tensor, b: int, memory_below: Tensor | None = None) -> GreedyMemory:
        """:meth:`greedy_memory` of ``b`` signs' views already apart (V·B, 3, H, W), view-major, as
        :meth:`~.pixels.PixelFront.views` gives them: the same reading, without laying the views side by side
        only to cut them apart again (a copy there and back in an ONNX graph)."""
        if self.exits_early:
            return reread_greedy_memory(self, views, b, views.new_zeros(()) if memory_below is None else memory_below)
        return GreedyMemory.every_row(self.decode_steps(self.encode_all_views(views, b)))

    @torch.no_grad()
    def greedy_attention(self, images: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        return reread_greedy(self, images, maps=True) if self.exits_early else super().greedy_attention(images)

    def init_state(self, memory: Tensor) -> tuple[Tensor, ...]:
        h = torch.tanh(self.init_h(memory.mean(1)))
        keys = self.attention.key(memory)
        return h, torch.zeros_like(h), keys

    def step(self, tokens: Tensor, state: tuple[Tensor, ...], memory: Tensor
             ) -> tuple[Tensor, tuple[Tensor, ...], Tensor]:
        h, ctx, keys = state
        x = torch.cat([self.embedding(tokens).to(ctx.dtype), ctx], 1)
        h = gru_cell(self.gru, x, h.to(x.dtype))
        ctx, attention = self.attention(h, keys, memory)
        ctx = ctx.to(h.dtype)
        logits = self.out(self.dropout(torch.cat([h, ctx], 1)))
        return F.log_softmax(logits.float() / self.temperature, dim=-1), (h, ctx, keys), attention

    def attention_map(self, attention: Tensor, view_pick: Tensor | None = None) -> Tensor:
        """(B, ..., S) weights over the memory -> (B, ..., V, R, W'): the memory is views, then rows, then columns;
        the views left unread (``view_pick`` of the same encoding: ``read_views``) get zeros."""
        if view_pick is None:
            return attention.unflatten(-1, (self.num_views, self.rows, -1))
        read = attention.unflatten(-1, (view_pick.shape[0], self.rows, -1))           # (B, ..., V', R, W')
        out = read.new_zeros(*read.shape[:-3], self.num_views, *read.shape[-2:])
        index = view_pick.t().reshape(read.shape[0], *[1] * (read.dim() - 4), -1, 1, 1).expand_as(read)
        return out.scatter(-3, index, read)
