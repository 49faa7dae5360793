"""A new architecture is one module and one registry line (issue 25): a toy model registered here trains, checks
its own settings, exports to ONNX and reads there as in PyTorch, with no other file knowing its name."""

from dataclasses import dataclass

import pytest

from seqocr.config import Config
from seqocr.errors import ConfigError
from seqocr.model.default import DefaultOCR, DefaultSettings
from tests.helpers import SAMPLES, tiny_config


@dataclass
class ToySettings(DefaultSettings):
    """The default model's keys and one of the toy's own."""
    own_cnn_only: bool = True        # refuse a pretrained backbone


class ToyOCR(DefaultOCR):
    """The default model reading with its own small CNN only, unless its own key says otherwise."""

    weight_keys = DefaultOCR.weight_keys
    Settings = ToySettings

    @classmethod
    def check_config(cls, cfg: Config) -> None:
        super().check_config(cfg)
        s = cls.settings(cfg.model)
        if s.own_cnn_only and s.backbone != "vgg":
            raise ConfigError("model.backbone: the toy reads with its own CNN only (vgg) unless model.own_cnn_only "
                              "is false")


@pytest.fixture()
def toy(monkeypatch):
    import seqocr.model as models

    monkeypatch.setitem(models.MODELS, "toy", ("tests.test_architectures", "ToyOCR"))  # the one registry line


def test_a_registered_architecture_trains_exports_and_reads_everywhere(toy, tmp_path):
    from seqocr.inference.export import export_onnx
    from seqocr.inference.onnx_reader import OnnxReader
    from seqocr.inference.predictor import Predictor
    from seqocr.model import check_config
    from seqocr.train.loop import train

    cfg = tiny_config(tmp_path, data={"val": ""})
    cfg.model.name = "toy"
    train(cfg, progress=False)
    ckpt = tmp_path / "run" / "last.pt"
    torch_reader = Predictor.from_checkpoint(ckpt)
    assert type(torch_reader.model).__name__ == "ToyOCR"
    onnx_path = export_onnx(ckpt, tmp_path / "toy.onnx")
    images = [str(SAMPLES / f"sign-000000{i}.png") for i in range(3)]
    onnx_reader = OnnxReader(onnx_path)
    assert onnx_reader.metadata["model"] == "toy"
    assert [r.text for r in onnx_reader.read(images)] == [r.text for r in torch_reader.read(images)]
    cfg.model.options["backbone"] = "ppocrv6"
    with pytest.raises(ConfigError, match="the toy reads with its own CNN only"):
        check_config(cfg)
    cfg.model.options["own_cnn_only"] = False  # the toy's own key: its check reads it
    check_config(cfg)
    cfg.model.name = "default"  # the toy's own key: another architecture's, which the default model sets aside
    check_config(cfg)
    cfg.model.options["own_cnn_onl"] = False  # a key that no registered architecture reads
    with pytest.raises(ConfigError, match="unknown config key 'model.own_cnn_onl'; model default has"):
        check_config(cfg)


def test_an_unregistered_name_is_refused_with_the_registered_ones(toy):
    from seqocr.model import check_config

    cfg = Config()
    cfg.model.name = "toy2"
    with pytest.raises(ConfigError, match="unknown model 'toy2'; choose from default, reference, toy"):
        check_config(cfg)
